"""`POST /oauth/tokens` in the eHealth JSON mode (CONTRACT §2, §3)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from ehealth_auth.protocol.errors import ServiceError
from ehealth_auth.protocol.throttle import ClientAuthThrottle
from ehealth_auth.protocol.token_endpoint import TokenEndpoint
from ehealth_auth.protocol.views import issued_token_view
from ehealth_auth.web import schemas as s
from ehealth_auth.web.body import read_json_object
from ehealth_auth.web.client_address import SourceAddress
from ehealth_auth.web.envelope import NO_STORE, render_data, render_error
from ehealth_auth.web.operations import Operation

_REFRESH_GRANT: s.Schema = {
    "title": "RefreshTokenGrant",
    "type": "object",
    "description": "Refresh: a new access token and a new refresh token for a refresh token.",
    "required": ["grant_type", "client_id", "client_secret", "refresh_token"],
    "properties": {
        "grant_type": {"const": "refresh_token"},
        "client_id": s.UUID,
        "client_secret": s.STRING,
        "refresh_token": s.STRING,
    },
}

_CODE_GRANT: s.Schema = {
    "title": "AuthorizationCodeGrant",
    "type": "object",
    "description": "Exchange an authorization code (from `POST /oauth/apps/authorize` or the "
    "pages) for an access token and a refresh token. `redirect_uri` must be the code's; "
    "`code_verifier` is required when the code was issued with a `code_challenge` and refused "
    "when it was not (PKCE, RFC 7636). A code is single-use: presenting it again revokes "
    "everything its first exchange issued.",
    "required": ["grant_type", "client_id", "client_secret", "code", "redirect_uri"],
    "properties": {
        "grant_type": {"const": "authorization_code"},
        "client_id": s.UUID,
        "client_secret": s.STRING,
        "code": s.STRING,
        "redirect_uri": s.STRING,
        "code_verifier": {"type": "string", "description": "The PKCE code verifier."},
    },
}

# Unknown keys are ignored; the grant_type picks the fields that are required.
_REQUEST = s.wrapped("token", {"oneOf": [_REFRESH_GRANT, _CODE_GRANT]})


class TokenRoute:
    """A token endpoint in the eHealth JSON mode. With `client_auth`, its grants authenticate
    clients and that authentication is throttled by source address and client id."""

    def __init__(
        self,
        endpoint: TokenEndpoint,
        max_body_bytes: int,
        sources: SourceAddress,
        client_auth: ClientAuthThrottle | None = None,
    ) -> None:
        self._endpoint = endpoint
        self._max_body_bytes = max_body_bytes
        self._sources = sources
        self._client_auth = client_auth

    async def handle(self, request: Request) -> Response:
        # Token responses, errors included, must never be cached (RFC 6749 §5.1).
        source = self._sources.of(request)
        try:
            params = await read_json_object(request, self._max_body_bytes, "token")
            if self._client_auth is None:
                issued = await self._endpoint.handle(params, source=source)
            else:
                async with self._client_auth.authenticating(source, params.get("client_id")):
                    issued = await self._endpoint.handle(params, source=source)
        except ServiceError as error:
            return render_error(request, error, NO_STORE)
        return render_data(request, 201, issued_token_view(issued), headers=NO_STORE)

    def operation(self) -> Operation:
        return Operation(
            "POST",
            "/oauth/tokens",
            self.handle,
            "createToken",
            "Issue tokens (grant_type=refresh_token or authorization_code)",
            "oauth",
            201,
            s.envelope(s.GRANTED_TOKEN),
            (400, 401, 413, 415, 422, 429),
            body=_REQUEST,
            admin=False,
            description="CONTRACT §2, §3: the checks run in a fixed order and the first failure "
            "decides (401 invalid_client, token_not_found, invalid_grant, token_expired, "
            "user_blocked or access_denied). A grant_type other than these two is 401 "
            "invalid_grant. Too many failed client authentications from the caller's address "
            "or against the client: 429 too_many_requests with Retry-After. Answers are never "
            "cached.",
        )
