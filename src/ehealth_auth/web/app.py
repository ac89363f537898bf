"""The ASGI application factory: everything it needs is passed in."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ehealth_auth.protocol.admin import AdminService
from ehealth_auth.protocol.errors import (
    MethodNotAllowedError,
    NotFoundError,
    ServiceError,
)
from ehealth_auth.protocol.throttle import ClientAuthThrottle
from ehealth_auth.protocol.token_endpoint import TokenEndpoint
from ehealth_auth.protocol.verify import TokenVerifier
from ehealth_auth.web.admin_auth import AdminGuard
from ehealth_auth.web.admin_client_routes import ClientRoutes
from ehealth_auth.web.admin_token_routes import TokenAdminRoutes
from ehealth_auth.web.admin_user_routes import UserRoutes
from ehealth_auth.web.client_address import SourceAddress
from ehealth_auth.web.envelope import render_error
from ehealth_auth.web.flow_routes import AuthorizationFlow, flow_operations
from ehealth_auth.web.openapi import DocsRoutes
from ehealth_auth.web.operations import Endpoint, Operation
from ehealth_auth.web.request_context import RequestContextMiddleware
from ehealth_auth.web.token_routes import TokenRoute
from ehealth_auth.web.verify_route import VerifyLane, VerifyRoute

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


def _route(
    path: str, operations: Sequence[Operation], guard: AdminGuard, verify: Operation
) -> Route:
    """One route per path, so that a wrong method is a 405 that lists every allowed one."""
    handlers: dict[str, Endpoint] = {
        op.method: guard.protect(op.endpoint, gateway=op is verify) if op.admin else op.endpoint
        for op in operations
    }
    if len(handlers) == 1:
        [(method, endpoint)] = handlers.items()
        return Route(path, endpoint, methods=[method])

    async def by_method(request: Request) -> Response:
        return await handlers["GET" if request.method == "HEAD" else request.method](request)

    return Route(path, by_method, methods=list(handlers))


def create_app(
    token_endpoint: TokenEndpoint,
    *,
    admin: AdminService,
    verifier: TokenVerifier,
    admin_keys: Iterable[str],
    max_body_bytes: int,
    client_auth: ClientAuthThrottle,
    sources: SourceAddress,
    gateway_keys: Iterable[str] = (),
    lifespan: Lifespan | None = None,
    flow: AuthorizationFlow | None = None,
) -> Starlette:
    docs = DocsRoutes()
    verify = VerifyRoute(verifier).operation()
    operations = [
        verify,
        TokenRoute(token_endpoint, max_body_bytes, sources, client_auth).operation(),
        *ClientRoutes(admin, max_body_bytes).operations(),
        *UserRoutes(admin, max_body_bytes).operations(),
        *TokenAdminRoutes(admin).operations(),
        *(flow_operations(flow, max_body_bytes) if flow is not None else ()),
        *docs.operations(),
    ]
    docs.publish(operations)
    by_path: dict[str, list[Operation]] = {}
    for op in operations:
        by_path.setdefault(op.path, []).append(op)
    guard = AdminGuard(admin_keys, gateway_keys)
    routes = [_route(path, ops, guard, verify) for path, ops in by_path.items()]

    @asynccontextmanager
    async def _no_lifespan(_app: Starlette) -> AsyncIterator[None]:
        yield

    app = Starlette(
        routes=routes,
        middleware=[
            Middleware(RequestContextMiddleware),
            # The gateway's verify call, by far the most frequent, skips the router.
            Middleware(VerifyLane, endpoint=guard.protect(verify.endpoint, gateway=True)),
        ],
        exception_handlers={HTTPException: _http_error, ServiceError: _service_error},
        lifespan=lifespan or _no_lifespan,
    )
    # No redirect (e.g. to add or drop a trailing slash) is ever answered ahead of the admin
    # guard: such a path is simply not found.
    app.router.redirect_slashes = False
    return app
