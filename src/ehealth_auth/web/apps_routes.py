"""`POST /oauth/apps/authorize` (CONTRACT §3): a logged-in user approves a client over the API."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from ehealth_auth.protocol.authorize import AppAuthorizer
from ehealth_auth.protocol.errors import ServiceError
from ehealth_auth.protocol.views import issued_token_view
from ehealth_auth.web import schemas as s
from ehealth_auth.web.body import read_json_object
from ehealth_auth.web.envelope import NO_STORE, render_data, render_error
from ehealth_auth.web.operations import Header, Operation

_REQUEST = s.request_body(
    "app",
    {
        "client_id": s.UUID,
        "redirect_uri": {
            **s.TEXT,
            "description": "One of the redirect URIs registered for the client's connections.",
        },
        "scope": {**s.TEXT, "description": "Within the client type's scope ceiling."},
        "code_challenge": {
            "type": "string",
            "description": "PKCE (RFC 7636): the S256 challenge of the client's code verifier.",
        },
        "code_challenge_method": {
            "const": "S256",
            "description": "Required with a code_challenge: `plain` is refused.",
        },
    },
    ["client_id", "redirect_uri", "scope"],
)


def bearer_token(request: Request) -> str | None:
    """The token of an `Authorization: Bearer <token>` header (RFC 6750 §2.1), else None."""
    scheme, _, token = request.headers.get("authorization", "").strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or " " in token:
        return None
    return token


class AppsAuthorizeRoute:
    def __init__(self, authorizer: AppAuthorizer, max_body_bytes: int) -> None:
        self._authorizer = authorizer
        self._max_body_bytes = max_body_bytes

    async def handle(self, request: Request) -> Response:
        # The answer carries a code: never cached, errors included.
        try:
            user_id = await self._authorizer.authenticate(bearer_token(request))
            params = await read_json_object(request, self._max_body_bytes, "app")
            app = await self._authorizer.grant(user_id, await self._authorizer.request(params))
        except ServiceError as error:
            return render_error(request, error, NO_STORE)
        headers = {**NO_STORE, "Location": app.location}
        return render_data(request, 201, issued_token_view(app.code), headers=headers)

    def operation(self) -> Operation:
        return Operation(
            "POST",
            "/oauth/apps/authorize",
            self.handle,
            "authorizeApp",
            "Approve a client and get an authorization code for it",
            "login",
            201,
            s.envelope(s.AUTHORIZATION_CODE),
            (400, 401, 403, 404, 413, 415, 422),
            body=_REQUEST,
            admin=False,
            headers=(
                Header(
                    "Location",
                    "The redirect URI with `code` added, where the client gets the code.",
                    required=True,
                ),
            ),
            description="CONTRACT §3. Takes `Authorization: Bearer <login token>` (from `POST "
            "/auth/login`, scope app:authorize): its user approves the client for the scope "
            "(creating or widening the approval) and gets a code for it. Checks in order: "
            "the bearer (401 access_denied with WWW-Authenticate when there is none; "
            "token_not_found, token_expired, invalid_client, user_blocked; 403 forbidden "
            "without scope app:authorize), then the body (422), the client (422 when unknown, "
            "401 invalid_client when blocked), the redirect URI (422 when not registered), the "
            "scope ceiling (422) and PKCE (422). 404 when the user or client is deleted "
            "meanwhile. Answers are never cached.",
        )
