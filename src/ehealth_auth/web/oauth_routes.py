"""The standard OAuth 2.0 dialect's endpoints (CONTRACT §8): the token endpoint's form mode,
RFC 8414 metadata, RFC 7009 revocation and RFC 7662 introspection.

The form mode runs the very grants of the eHealth JSON mode (protocol/token_endpoint.py): the
same checks in the same order, rotation, reuse detection and every policy. Only the parsing,
the client's credentials (web/client_auth.py) and the rendering (web/oauth_dialect.py) differ.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from uuid import UUID

from starlette.requests import Request
from starlette.responses import Response

from ehealth_auth.protocol.errors import REQUIRED, InvalidEntry, ServiceError, ValidationError
from ehealth_auth.protocol.model import IssuedToken
from ehealth_auth.protocol.oauth.introspection import TokenIntrospector
from ehealth_auth.protocol.oauth.revocation import TokenRevoker
from ehealth_auth.protocol.ports import Clock
from ehealth_auth.protocol.token_endpoint import TokenEndpoint
from ehealth_auth.web import oauth_schemas as o
from ehealth_auth.web.client_auth import AUTH_METHODS, ClientAuthentication, ClientCredentials
from ehealth_auth.web.envelope import NO_STORE, request_id
from ehealth_auth.web.oauth_dialect import (
    FORM,
    GatewayKeyError,
    json_answer,
    read_form,
    render_access_token,
    render_oauth_error,
)
from ehealth_auth.web.operations import Answer, Header, Operation

TOKEN_PATH = "/oauth/tokens"  # noqa: S105  (a path, not a secret)
REVOCATION_PATH = "/oauth/revoke"
INTROSPECTION_PATH = "/oauth/introspect"
METADATA_PATH = "/.well-known/oauth-authorization-server"
AUTHORIZATION_PATH = "/oauth/authorize"

# Does an `Authorization` header carry a key the gateway's verify call admits?
GatewayCheck = Callable[[str | None], bool]


@dataclass(frozen=True)
class StandardOAuth:
    """What the standard dialect needs besides the token endpoint's grants and the client
    authentication."""

    revoker: TokenRevoker
    introspector: TokenIntrospector
    clock: Clock


def _required_token(form: Mapping[str, str]) -> str:
    token = form.get("token")
    if token is None:
        raise ValidationError((InvalidEntry("$.token", (REQUIRED,)),))
    return token


_CHALLENGE = Header(
    "WWW-Authenticate",
    "`Basic realm=...` when the client tried HTTP Basic or sent no credentials.",
)
OAUTH_ERRORS = (
    Answer(
        400,
        "RFC 6749 §5.2: `invalid_request` (a parameter missing or repeated, a malformed body, "
        "both client authentication methods at once).",
        "application/json",
        o.OAUTH_ERROR,
    ),
    Answer(
        401,
        "`invalid_client`: client authentication failed.",
        "application/json",
        o.OAUTH_ERROR,
        (_CHALLENGE,),
    ),
    Answer(413, "`invalid_request`: body over the size limit.", "application/json", o.OAUTH_ERROR),
    Answer(
        415,
        "`invalid_request`: content type other than application/x-www-form-urlencoded.",
        "application/json",
        o.OAUTH_ERROR,
    ),
)
_CLIENT_AUTH = (
    "The client authenticates with HTTP Basic (client_secret_basic) or with client_id and "
    "client_secret in the form (client_secret_post), never both."
)


class TokenForm:
    """`POST /oauth/tokens` with a form body: RFC 6749 §4.1.3 and §6 over the shared grants."""

    def __init__(
        self,
        endpoint: TokenEndpoint,
        clients: ClientAuthentication,
        clock: Clock,
        max_body_bytes: int,
    ) -> None:
        self._endpoint = endpoint
        self._clients = clients
        self._clock = clock
        self._max_body_bytes = max_body_bytes

    async def handle(self, request: Request, media_type: str) -> Response:
        try:
            form = await read_form(request, self._max_body_bytes, media_type)

            async def issue(credentials: ClientCredentials) -> IssuedToken:
                params = {
                    **form,
                    "client_id": credentials.client_id,
                    "client_secret": credentials.client_secret,
                }
                return await self._endpoint.handle(params, form.get("scope"))

            issued = await self._clients.authenticated(request, form, issue)
        except ServiceError as error:
            return render_oauth_error(request, error)
        return render_access_token(request, issued, self._clock.now())


class RevocationRoute:
    def __init__(
        self, oauth: StandardOAuth, clients: ClientAuthentication, max_body_bytes: int
    ) -> None:
        self._oauth = oauth
        self._clients = clients
        self._max_body_bytes = max_body_bytes

    async def handle(self, request: Request) -> Response:
        try:
            form = await read_form(request, self._max_body_bytes)
            client_id = await self._clients.verified_client(request, form)
            token = _required_token(form)
            await self._oauth.revoker.revoke(client_id, token, form.get("token_type_hint"))
        except ServiceError as error:
            return render_oauth_error(request, error)
        # RFC 7009 §2.2: 200 whether or not there was anything to revoke; the body is empty.
        return Response(status_code=200, headers={**NO_STORE, "X-Request-ID": request_id(request)})

    def operation(self) -> Operation:
        return Operation(
            "POST",
            REVOCATION_PATH,
            self.handle,
            "oauthRevokeToken",
            "Revoke an access or refresh token (RFC 7009)",
            "oauth",
            200,
            None,
            body=o.REVOCATION_FORM,
            body_media_type=FORM,
            admin=False,
            answers=OAUTH_ERRORS,
            description=_CLIENT_AUTH + " A refresh token is revoked with every live token of "
            "its authorization; an access token alone. 200 with an empty body also for an "
            "unknown, dead or other client's token, which is left as it is.",
        )


class IntrospectionRoute:
    def __init__(
        self,
        oauth: StandardOAuth,
        clients: ClientAuthentication,
        gateway: GatewayCheck,
        max_body_bytes: int,
    ) -> None:
        self._oauth = oauth
        self._clients = clients
        self._gateway = gateway
        self._max_body_bytes = max_body_bytes

    async def handle(self, request: Request) -> Response:
        try:
            form = await read_form(request, self._max_body_bytes)
            client_id = await self._caller(request, form)
            token = _required_token(form)
            answer = await self._oauth.introspector.introspect(token, client_id)
        except ServiceError as error:
            return render_oauth_error(request, error)
        return json_answer(request, 200, answer, NO_STORE)

    async def _caller(self, request: Request, form: Mapping[str, str]) -> UUID | None:
        """The authenticated client, or None for the gateway (its verify key as a bearer)."""
        authorization = request.headers.get("authorization")
        if authorization is not None:
            scheme = authorization.strip().partition(" ")[0]
            if scheme.lower() == "bearer":
                if not self._gateway(authorization):
                    raise GatewayKeyError()
                return None
        return await self._clients.verified_client(request, form)

    def operation(self) -> Operation:
        return Operation(
            "POST",
            INTROSPECTION_PATH,
            self.handle,
            "oauthIntrospectToken",
            "Introspect a token (RFC 7662)",
            "oauth",
            200,
            o.INTROSPECTION,
            body=o.INTROSPECTION_FORM,
            body_media_type=FORM,
            admin=False,
            headers=(Header("Cache-Control", "`no-store`."),),
            answers=OAUTH_ERRORS,
            description=_CLIENT_AUTH + " The API gateway may instead send "
            "`Authorization: Bearer <key>` with a key that `GET /admin/tokens/{value}/verify` "
            "admits (401 `invalid_token` otherwise). A token is active exactly when verify "
            "answers 200 for it; a client sees only its own tokens.",
        )


class MetadataRoute:
    def __init__(self, issuer: str, authorization_pages: bool) -> None:
        self._issuer = issuer.rstrip("/")
        self._authorization_pages = authorization_pages

    def document(self, issuer: str) -> dict[str, object]:
        methods = list(AUTH_METHODS)
        document: dict[str, object] = {"issuer": issuer}
        if self._authorization_pages:
            document["authorization_endpoint"] = issuer + AUTHORIZATION_PATH
        document.update(
            {
                "token_endpoint": issuer + TOKEN_PATH,
                "revocation_endpoint": issuer + REVOCATION_PATH,
                "introspection_endpoint": issuer + INTROSPECTION_PATH,
                "service_documentation": issuer + "/docs",
                "grant_types_supported": ["authorization_code", "refresh_token"],
                "response_types_supported": ["code"],
                "response_modes_supported": ["query"],
                "token_endpoint_auth_methods_supported": methods,
                "revocation_endpoint_auth_methods_supported": methods,
                "introspection_endpoint_auth_methods_supported": methods,
                "code_challenge_methods_supported": ["S256"],
            }
        )
        return document

    async def handle(self, request: Request) -> Response:
        # Without a configured issuer, the origin the request reached (RFC 8414 §3).
        issuer = self._issuer or str(request.base_url).rstrip("/")
        return json_answer(request, 200, self.document(issuer), {})

    def operation(self) -> Operation:
        return Operation(
            "GET",
            METADATA_PATH,
            self.handle,
            "getAuthorizationServerMetadata",
            "Authorization server metadata (RFC 8414)",
            "oauth",
            200,
            o.METADATA,
            admin=False,
            description="The endpoints and what they support, for OAuth 2.0 client libraries. "
            "`issuer` is EHEALTH_AUTH_ISSUER, or the origin the request reached.",
        )
