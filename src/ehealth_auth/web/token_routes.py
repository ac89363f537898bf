"""`POST /oauth/tokens` (CONTRACT §2, §3, §8): the eHealth JSON mode, and beside it, by
content type, the standard dialect's form mode (web/oauth_routes.py) over the same grants."""

from __future__ import annotations

import dataclasses

from starlette.requests import Request
from starlette.responses import Response

from ehealth_auth.logs import note_client
from ehealth_auth.protocol.errors import ServiceError
from ehealth_auth.protocol.token_endpoint import TokenEndpoint
from ehealth_auth.protocol.views import issued_token_view
from ehealth_auth.web import oauth_schemas as o
from ehealth_auth.web import schemas as s
from ehealth_auth.web.body import media_type_of, read_json_object
from ehealth_auth.web.client_address import SourceAddress
from ehealth_auth.web.client_auth import ClientAuthentication
from ehealth_auth.web.envelope import NO_STORE, render_data, render_error
from ehealth_auth.web.oauth_dialect import FORM
from ehealth_auth.web.oauth_routes import TokenForm
from ehealth_auth.web.operations import Answer, Header, Operation

PATH = "/oauth/tokens"

_REFRESH_GRANT: s.Schema = {
    "title": "RefreshTokenGrant",
    "type": "object",
    "description": "Refresh: a new access token and a new refresh token for a refresh token.",
    "required": ["grant_type", "client_id", "client_secret", "refresh_token"],
    "properties": {
        "grant_type": {"const": "refresh_token"},
        "client_id": s.UUID,
        "client_secret": s.TEXT,
        "refresh_token": s.TEXT,
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
        "client_secret": s.TEXT,
        "code": s.TEXT,
        "redirect_uri": s.TEXT,
        "code_verifier": {**s.OPTIONAL_TEXT, "description": "The PKCE code verifier."},
    },
}

# Unknown keys are ignored; the grant_type picks the fields that are required.
_REQUEST = s.wrapped("token", {"oneOf": [_REFRESH_GRANT, _CODE_GRANT]})


def _either(status: int, description: str, headers: tuple[Header, ...] = ()) -> Answer:
    """An error status both dialects answer, each with its own body."""
    return Answer(
        status,
        description,
        "application/json",
        {"oneOf": [s.ERROR_RESPONSE, o.OAUTH_ERROR]},
        headers,
    )


_NO_STORE_HEADERS = (
    Header("Cache-Control", "`no-store`.", required=True),
    Header("Pragma", "`no-cache`.", required=True),
)
_FORM_ANSWERS = (
    Answer(
        200,
        "Form mode (RFC 6749 §5.1): the access token, and a refresh token where one is issued.",
        "application/json",
        o.ACCESS_TOKEN,
        _NO_STORE_HEADERS,
    ),
    _either(
        400,
        "JSON mode: `request_malformed`. Form mode (RFC 6749 §5.2): `invalid_request` "
        "(a missing or repeated parameter, both client authentication methods), "
        "`unsupported_grant_type`, `invalid_grant` (every refusal of the grant: token not "
        "found, expired, revoked, reused, another client's, user blocked, approval gone, "
        "redirect URI, PKCE), `invalid_scope`.",
    ),
    _either(
        401,
        "JSON mode: the contract's error (invalid_client, token_not_found, invalid_grant, "
        "token_expired, user_blocked, access_denied). Form mode: `invalid_client`, with "
        "`WWW-Authenticate: Basic` when the client tried HTTP Basic or sent no credentials.",
        (Header("WWW-Authenticate", "Form mode: `Basic realm=...`."),),
    ),
    _either(
        413,
        "Request body over the size limit (JSON mode `request_too_large`, form mode "
        "`invalid_request`).",
    ),
)


class TokenRoute:
    """A token endpoint in the eHealth JSON mode, and (with `form`) the standard dialect's form
    mode. With `clients`, its grants authenticate clients, and each authentication is an
    attempt of `ClientAuthentication` (throttled by source address and client id) in either
    mode."""

    def __init__(
        self,
        endpoint: TokenEndpoint,
        max_body_bytes: int,
        sources: SourceAddress,
        clients: ClientAuthentication | None = None,
        form: TokenForm | None = None,
    ) -> None:
        self._endpoint = endpoint
        self._max_body_bytes = max_body_bytes
        self._sources = sources
        self._clients = clients
        self._form = form

    async def handle(self, request: Request) -> Response:
        # The content type picks the dialect; it is read once, for both.
        media_type = media_type_of(request.headers.get("content-type", ""))
        if media_type == FORM and self._form is not None:
            return await self._form.handle(request, media_type)
        # Token responses, errors included, must never be cached (RFC 6749 §5.1).
        source = self._sources.of(request)
        try:
            params = await read_json_object(request, self._max_body_bytes, "token", media_type)
            note_client(params.get("client_id"))
            if self._clients is None:
                issued = await self._endpoint.handle(params, source=source)
            else:
                issued = await self._clients.attempt(
                    source,
                    params.get("client_id"),
                    lambda: self._endpoint.handle(params, source=source),
                )
        except ServiceError as error:
            return render_error(request, error, NO_STORE)
        return render_data(request, 201, issued_token_view(issued), headers=NO_STORE)

    def operation(self) -> Operation:
        description = (
            "CONTRACT §2, §3: the checks run in a fixed order and the first failure "
            "decides (401 invalid_client, token_not_found, invalid_grant, token_expired, "
            "user_blocked or access_denied). A grant_type other than these two is 401 "
            "invalid_grant. Answers are never cached."
        )
        json_mode = Operation(
            "POST",
            PATH,
            self.handle,
            "createToken",
            "Issue tokens (grant_type=refresh_token or authorization_code)",
            "oauth",
            201,
            s.envelope(s.GRANTED_TOKEN),
            (400, 401, 413, 415, 422, 429),
            body=_REQUEST,
            admin=False,
            description=description,
        )
        if self._form is None:
            return json_mode
        return dataclasses.replace(
            json_mode,
            errors=(415, 422),
            other_bodies=((FORM, o.TOKEN_FORM),),
            answers=_FORM_ANSWERS,
            description="Two dialects, picked by the request's content type, over the same "
            "checks, in the same order, with the same policies. application/json (the eHealth "
            "dialect): 201 with the envelope; " + description + " "
            "application/x-www-form-urlencoded (RFC 6749): 200 with an RFC 6749 §5.1 body, "
            "errors as RFC 6749 §5.2 bodies. The client authenticates with HTTP Basic "
            "(client_secret_basic) or client_id and client_secret in the form "
            "(client_secret_post), never both.",
        )
