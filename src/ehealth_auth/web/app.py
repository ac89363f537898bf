"""The ASGI application factory: everything it needs is passed in."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ehealth_auth.protocol.errors import (
    MethodNotAllowedError,
    NotFoundError,
    ServiceError,
)
from ehealth_auth.protocol.token_endpoint import TokenEndpoint
from ehealth_auth.web.envelope import render_error
from ehealth_auth.web.flow_routes import AuthorizationFlow, flow_routes
from ehealth_auth.web.request_context import RequestContextMiddleware
from ehealth_auth.web.token_routes import TokenRoute

Lifespan = Callable[[Starlette], AbstractAsyncContextManager[None]]


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    error: ServiceError
    if exc.status_code == 404:
        error = NotFoundError()
    elif exc.status_code == 405:
        error = MethodNotAllowedError()
    else:  # the router raises only 404 and 405
        error = ServiceError()
    headers = {"Allow": exc.headers["Allow"]} if exc.headers and "Allow" in exc.headers else None
    return render_error(request, error, headers)


async def _service_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ServiceError)
    return render_error(request, exc)


def create_app(
    token_endpoint: TokenEndpoint,
    *,
    max_body_bytes: int,
    lifespan: Lifespan | None = None,
    flow: AuthorizationFlow | None = None,
) -> Starlette:
    routes = [
        Route(
            "/oauth/tokens",
            TokenRoute(token_endpoint, max_body_bytes).handle,
            methods=["POST"],
            name="tokens",
        ),
    ]
    if flow is not None:
        routes.extend(flow_routes(flow, max_body_bytes))

    @asynccontextmanager
    async def _no_lifespan(_app: Starlette) -> AsyncIterator[None]:
        yield

    return Starlette(
        routes=routes,
        middleware=[Middleware(RequestContextMiddleware)],
        exception_handlers={HTTPException: _http_error, ServiceError: _service_error},
        lifespan=lifespan or _no_lifespan,
    )
