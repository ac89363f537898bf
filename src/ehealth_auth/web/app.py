"""The ASGI application factory: everything it needs is passed in."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ehealth_auth.observability import Metrics
from ehealth_auth.protocol.admin import AdminService
from ehealth_auth.protocol.errors import (
    MethodNotAllowedError,
    NotFoundError,
    ServiceError,
)
from ehealth_auth.protocol.token_endpoint import TokenEndpoint
from ehealth_auth.protocol.verify import TokenVerifier
from ehealth_auth.web.admin.auth import AdminGuard
from ehealth_auth.web.admin.client_routes import ClientRoutes
from ehealth_auth.web.admin.token_routes import TokenAdminRoutes
from ehealth_auth.web.admin.user_routes import UserRoutes
from ehealth_auth.web.client_address import SourceAddress
from ehealth_auth.web.client_auth import ClientAuthentication
from ehealth_auth.web.envelope import render_error
from ehealth_auth.web.flow_routes import AuthorizationFlow, flow_operations
from ehealth_auth.web.health_routes import HealthRoutes, Readiness
from ehealth_auth.web.lanes import HotLanes
from ehealth_auth.web.oauth_routes import (
    IntrospectionRoute,
    MetadataRoute,
    RevocationRoute,
    StandardOAuth,
    TokenForm,
)
from ehealth_auth.web.openapi import DocsRoutes
from ehealth_auth.web.operations import Endpoint, Operation
from ehealth_auth.web.request_context import ErrorTranslator, RequestContextMiddleware
from ehealth_auth.web.slow_clients import BodyDeadline
from ehealth_auth.web.token_routes import TokenRoute
from ehealth_auth.web.verify_route import VerifyRoute

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


async def _always_ready() -> str | None:
    return None


async def _service_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ServiceError)
    return render_error(request, exc)


def _handler(op: Operation, guards: Mapping[str, AdminGuard], verify: Operation) -> Endpoint:
    if not op.admin:
        return op.endpoint
    changes = op.method not in ("GET", "HEAD")
    return guards[op.keys].protect(
        op.endpoint, op.operation_id if changes else None, gateway=op is verify
    )


def _route(
    path: str,
    operations: Sequence[Operation],
    guards: Mapping[str, AdminGuard],
    verify: Operation,
) -> Route:
    """One route per path, so that a wrong method is a 405 that lists every allowed one."""
    handlers: dict[str, Endpoint] = {op.method: _handler(op, guards, verify) for op in operations}
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
    clients: ClientAuthentication,
    sources: SourceAddress,
    gateway_keys: Iterable[str] = (),
    body_timeout: float = 10.0,
    lifespan: Lifespan | None = None,
    flow: AuthorizationFlow | None = None,
    oauth: StandardOAuth | None = None,
    issuer: str = "",
    readiness: Readiness | None = None,
    metrics: Metrics | None = None,
    metrics_keys: Iterable[str] = (),
    log_health_requests: bool = False,
    translate_error: ErrorTranslator | None = None,
) -> Starlette:
    docs = DocsRoutes()
    admin_keys = list(admin_keys)
    guard = AdminGuard(admin_keys, gateway_keys)
    verify = VerifyRoute(verifier).operation()
    standard: list[Operation] = []
    form = None
    if oauth is not None:
        form = TokenForm(token_endpoint, clients, oauth.clock, max_body_bytes)
        standard = [
            MetadataRoute(issuer, authorization_pages=flow is not None).operation(),
            RevocationRoute(oauth, clients, max_body_bytes).operation(),
            # Introspection by the gateway admits exactly the keys verify admits.
            IntrospectionRoute(oauth, clients, guard.admits, max_body_bytes).operation(),
        ]
    metrics = metrics or Metrics()
    token = TokenRoute(token_endpoint, max_body_bytes, sources, clients, form).operation()
    operations = [
        verify,
        token,
        *standard,
        *ClientRoutes(admin, max_body_bytes).operations(),
        *UserRoutes(admin, max_body_bytes).operations(),
        *TokenAdminRoutes(admin).operations(),
        *(flow_operations(flow, max_body_bytes) if flow is not None else ()),
        *HealthRoutes(readiness or _always_ready, metrics).operations(),
        *docs.operations(),
    ]
    docs.publish(operations)
    by_path: dict[str, list[Operation]] = {}
    for op in operations:
        by_path.setdefault(op.path, []).append(op)
    guards = {"admin": guard, "metrics": AdminGuard([*admin_keys, *metrics_keys])}
    routes = [_route(path, ops, guards, verify) for path, ops in by_path.items()]

    @asynccontextmanager
    async def _no_lifespan(_app: Starlette) -> AsyncIterator[None]:
        yield

    app = Starlette(
        routes=routes,
        middleware=[
            Middleware(
                RequestContextMiddleware,
                metrics=metrics,
                log_health=log_health_requests,
                translate_error=translate_error,
            ),
            Middleware(BodyDeadline, seconds=body_timeout),
            # The gateway's verify and the token endpoint, by far the most frequent, skip the
            # router.
            Middleware(
                HotLanes,
                verify=guard.protect(verify.endpoint, gateway=True),
                token=token.endpoint,
            ),
        ],
        exception_handlers={HTTPException: _http_error, ServiceError: _service_error},
        lifespan=lifespan or _no_lifespan,
    )
    # No redirect (e.g. to add or drop a trailing slash) is ever answered ahead of the admin
    # guard: such a path is simply not found.
    app.router.redirect_slashes = False
    return app
