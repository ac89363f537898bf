"""The routes of the authorization-code flow (CONTRACT §3): login, app authorization over the
API, and the browser pages. The code exchange itself is a grant of `/oauth/tokens`."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.routing import Route

from ehealth_auth.protocol.authorize import AppAuthorizer
from ehealth_auth.protocol.grants.password import PasswordGrant
from ehealth_auth.protocol.token_endpoint import TokenEndpoint
from ehealth_auth.web.apps_routes import AppsAuthorizeRoute
from ehealth_auth.web.pages.authorize_pages import AuthorizePages
from ehealth_auth.web.pages.session import SessionCookies
from ehealth_auth.web.token_routes import TokenRoute


@dataclass(frozen=True)
class AuthorizationFlow:
    login: PasswordGrant
    authorizer: AppAuthorizer
    cookie_key: bytes  # signs the pages' session cookie
    session_ttl: int  # seconds; the login token's lifetime


def flow_routes(flow: AuthorizationFlow, max_body_bytes: int) -> list[Route]:
    # `/auth/login` is a token endpoint that allows exactly one grant, `password`: its checks
    # of grant_type are those of `/oauth/tokens`, which in turn never allows `password`.
    login = TokenRoute(TokenEndpoint([flow.login]), max_body_bytes)
    pages = AuthorizePages(
        flow.authorizer,
        flow.login,
        SessionCookies(flow.cookie_key, flow.session_ttl),
        max_body_bytes,
    )
    return [
        Route("/auth/login", login.handle, methods=["POST"], name="login"),
        Route(
            "/oauth/apps/authorize",
            AppsAuthorizeRoute(flow.authorizer, max_body_bytes).handle,
            methods=["POST"],
            name="apps_authorize",
        ),
        *pages.routes(),
    ]
