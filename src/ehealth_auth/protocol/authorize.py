"""`POST /oauth/apps/authorize` (CONTRACT §3): a signed-in user approves a client and gets an
authorization code for it (RFC 6749 §4.1.1-4.1.2, PKCE per RFC 7636 §4.3-4.4).

The browser's consent page goes through the same `request` and `grant` steps as the API.

Checks in order: the bearer (present, a live access token with `app:authorize`, its client and
user not blocked), then the body fields, the client (exists, not blocked), the redirect URI
(registered for one of the client's connections), the scope (within the client type's
ceiling), and the PKCE parameters.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from uuid import UUID

from ehealth_auth.protocol import pkce
from ehealth_auth.protocol import redirect_uri as redirects
from ehealth_auth.protocol.approvals import Approver, check_ceiling
from ehealth_auth.protocol.errors import (
    REQUIRED,
    BearerRequiredError,
    ForbiddenError,
    InvalidClientError,
    InvalidEntry,
    Rule,
    TokenExpiredError,
    TokenNotFoundError,
    UserBlockedError,
    ValidationError,
)
from ehealth_auth.protocol.model import IssuedToken, TokenName
from ehealth_auth.protocol.policy import TokenPolicy
from ehealth_auth.protocol.ports import (
    BearerLookup,
    ClientDirectory,
    Clock,
    SecretHasher,
    TokenWriter,
)
from ehealth_auth.protocol.records import ClientProfile
from ehealth_auth.protocol.scope import parse
from ehealth_auth.protocol.tokens import mint
from ehealth_auth.protocol.validation import parse_uuid, require_strings

APP_AUTHORIZE = "app:authorize"
CLIENT_NOT_FOUND = "Client not found."
REDIRECT_MISMATCH = "The redirection URI provided does not match a pre-registered value."
_FIELDS = ("client_id", "redirect_uri", "scope")


@dataclass(frozen=True)
class AuthorizationRequest:
    """A checked request: what the consent page shows and what `grant` issues a code for."""

    client_id: UUID
    client_name: str
    connection_id: UUID
    redirect_uri: str
    scope: str
    code_challenge: str | None = None


@dataclass(frozen=True)
class AuthorizedApp:
    code: IssuedToken
    location: str  # the redirect URI with `code` added


def _optional_string(params: Mapping[str, object], name: str, path: str) -> str | None:
    value = params.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ValidationError((InvalidEntry(path, (Rule("cast", "is invalid", ("string",)),)),))
    return value


def _code_challenge(params: Mapping[str, object], prefix: str) -> str | None:
    """The S256 challenge, None without one; a missing method means `plain` (RFC 7636 §4.3)."""
    challenge = _optional_string(params, "code_challenge", f"{prefix}.code_challenge")
    method = _optional_string(params, "code_challenge_method", f"{prefix}.code_challenge_method")
    if challenge is None:
        if method is not None:
            raise ValidationError((InvalidEntry(f"{prefix}.code_challenge", (REQUIRED,)),))
        return None
    if (method or "plain") != pkce.S256:
        rule = Rule("inclusion", "value is not allowed in enum", (pkce.S256,))
        raise ValidationError((InvalidEntry(f"{prefix}.code_challenge_method", (rule,)),))
    if not pkce.is_well_formed(challenge):
        rule = Rule("format", "string does not match pattern", (pkce.CHALLENGE_PATTERN,))
        raise ValidationError((InvalidEntry(f"{prefix}.code_challenge", (rule,)),))
    return challenge


class AppAuthorizer:
    def __init__(
        self,
        bearers: BearerLookup,
        clients: ClientDirectory,
        tokens: TokenWriter,
        approver: Approver,
        hasher: SecretHasher,
        clock: Clock,
        policy: TokenPolicy,
    ) -> None:
        self._bearers = bearers
        self._clients = clients
        self._tokens = tokens
        self._approver = approver
        self._hasher = hasher
        self._clock = clock
        self._policy = policy

    async def authenticate(self, bearer: str | None) -> UUID:
        """The user behind a login token that may authorize apps."""
        if not bearer:
            raise BearerRequiredError()
        token = await self._bearers.bearer(self._hasher.digest(bearer))
        if token is None or token.name != TokenName.ACCESS_TOKEN:
            raise TokenNotFoundError()
        if token.revoked or token.expires_at <= self._clock.now():
            raise TokenExpiredError()
        if token.client_blocked:
            raise InvalidClientError("Client is blocked.")
        if token.user_blocked:
            raise UserBlockedError()
        if APP_AUTHORIZE not in parse(token.scope):
            raise ForbiddenError(
                "Your scope does not allow to access this resource. "
                f"Missing allowances: {APP_AUTHORIZE}"
            )
        return token.user_id

    async def request(
        self, params: Mapping[str, object], prefix: str = "$.app"
    ) -> AuthorizationRequest:
        fields = require_strings(params, _FIELDS, prefix)
        client, connection_id = await self.check_client(fields["client_id"], fields["redirect_uri"])
        scope = check_ceiling(fields["scope"], client.type_scope, f"{prefix}.scope")
        return AuthorizationRequest(
            client_id=client.id,
            client_name=client.name,
            connection_id=connection_id,
            redirect_uri=fields["redirect_uri"].strip(),
            scope=scope,
            code_challenge=_code_challenge(params, prefix),
        )

    async def check_client(self, client_id: str, redirect_uri: str) -> tuple[ClientProfile, UUID]:
        """The client and the connection whose registered redirect URI this one matches.

        What fails here must never be answered with a redirect (RFC 6749 §4.1.2.1).
        """
        parsed = parse_uuid(client_id.strip())
        client = None if parsed is None else await self._clients.client_profile(parsed)
        if client is None:
            raise ValidationError(message=CLIENT_NOT_FOUND)
        if client.is_blocked:
            raise InvalidClientError("Client is blocked.")
        for connection_id, registered in client.redirect_uris:
            if redirects.matches(registered, redirect_uri):
                return client, connection_id
        raise ValidationError(message=REDIRECT_MISMATCH)

    async def grant(self, user_id: UUID, request: AuthorizationRequest) -> AuthorizedApp:
        """Create or widen the approval, then issue a code for the requested scope."""
        await self._approver.approve(user_id, request.client_id, request.scope, "$.app.scope")
        details = {
            "client_id": str(request.client_id),
            "redirect_uri": request.redirect_uri,
            "scope_request": request.scope,
        }
        minted = mint(
            self._hasher,
            name=TokenName.AUTHORIZATION_CODE,
            now=self._clock.now(),
            ttl=self._policy.code_ttl,
            user_id=user_id,
            client_id=request.client_id,
            scope=request.scope,
            details=details,
            connection_id=request.connection_id,
            redirect_uri=request.redirect_uri,
            code_challenge=request.code_challenge,
        )
        await self._tokens.add_token(minted.record)
        location = redirects.with_params(request.redirect_uri, {"code": minted.issued.value})
        return AuthorizedApp(minted.issued, location)
