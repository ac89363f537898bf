"""`grant_type=authorization_code` (RFC 6749 §4.1.3; CONTRACT §3), with PKCE (RFC 7636 §4.6).

A code is single-use. The exchange starts a token family: the code is its root, and the
refresh and access tokens it issues descend from it. Presenting the code again, or losing a
race for it, is the reuse of RFC 6749 §4.1.2: the answer is `Token has already been used.`
and the whole family, so everything the first exchange issued, is revoked.

Checks in order (the first failure decides): fields; the connection's secret; client blocked;
the code exists; it was issued to this client (and through this connection); it was not used
already; not expired or revoked; the redirect URI is the one it was issued for; its user is
not blocked; the user's approval still exists; PKCE.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import NoReturn
from uuid import UUID

from ehealth_auth.protocol import pkce
from ehealth_auth.protocol.errors import AccessDeniedError, InvalidGrantError, TokenExpiredError
from ehealth_auth.protocol.events import NO_EVENTS, Event, TokenEvent
from ehealth_auth.protocol.grants.base import (
    ALREADY_USED,
    approved_scope,
    load_presented,
    with_refresh_token,
)
from ehealth_auth.protocol.model import IssuedToken, StoredCode, TokenName
from ehealth_auth.protocol.policy import TokenPolicy
from ehealth_auth.protocol.ports import Clock, CodeStore, Events, SecretHasher
from ehealth_auth.protocol.tokens import mint
from ehealth_auth.protocol.validation import require_strings

_FIELDS = ("client_id", "client_secret", "code", "redirect_uri")
REDIRECT_MISMATCH = "The redirection URI provided does not match a pre-registered value."
VERIFIER_MISSING = "Code verifier is required: the code was issued with a code challenge."
VERIFIER_WRONG = "Code verifier does not match the code challenge."
VERIFIER_UNEXPECTED = "Code verifier given, but the code was issued without a code challenge."


@dataclass(frozen=True)
class ValidExchange:
    client_id: UUID
    connection_id: UUID
    code: StoredCode
    now: int


def _check_pkce(code: StoredCode, verifier: str | None) -> None:
    if code.code_challenge is None:
        # RFC 9700 §4.8.2: a verifier for a code without a challenge is a downgrade attempt.
        if verifier is not None:
            raise InvalidGrantError(VERIFIER_UNEXPECTED)
        return
    if verifier is None:
        raise InvalidGrantError(VERIFIER_MISSING)
    if not pkce.verifier_matches(verifier, code.code_challenge):
        raise InvalidGrantError(VERIFIER_WRONG)


class AuthorizationCodeGrant:
    grant_type = "authorization_code"

    def __init__(
        self,
        store: CodeStore,
        hasher: SecretHasher,
        clock: Clock,
        policy: TokenPolicy,
        events: Events = NO_EVENTS,
    ) -> None:
        self._store = store
        self._hasher = hasher
        self._clock = clock
        self._policy = policy
        self._events = events

    async def handle(
        self,
        params: Mapping[str, object],
        requested_scope: str | None = None,
        *,
        source: str = "",
    ) -> IssuedToken:
        # RFC 6749 §4.1.3 has no `scope` at the exchange: the code carries the approved scope.
        # Client authentication is throttled around the grant (ClientAuthThrottle).
        del requested_scope
        valid = await self.validate(params)
        code = valid.code
        refresh = mint(
            self._hasher,
            name=TokenName.REFRESH_TOKEN,
            now=valid.now,
            ttl=self._policy.refresh_ttl,
            user_id=code.user_id,
            client_id=valid.client_id,
            scope=code.scope,
            details={"client_id": str(valid.client_id), "scope": code.scope},
            family_id=code.family_id,
            parent_id=code.id,
            connection_id=valid.connection_id,
        )
        access = mint(
            self._hasher,
            name=TokenName.ACCESS_TOKEN,
            now=valid.now,
            ttl=self._policy.access_ttl,
            user_id=code.user_id,
            client_id=valid.client_id,
            scope=code.scope,
            details={
                "client_id": str(valid.client_id),
                "grant_type": self.grant_type,
                "scope": code.scope,
                "redirect_uri": code.redirect_uri,
            },
            family_id=code.family_id,
            parent_id=refresh.record.id,
            connection_id=valid.connection_id,
        )
        if not await self._store.consume_code(
            code.id, self._clock.now_ms(), refresh.record, access.record
        ):
            await self._reused(code)
        self._events.emit(Event(TokenEvent.ISSUED, self.grant_type, valid.client_id))
        return with_refresh_token(access.issued, refresh.issued.value)

    async def validate(self, params: Mapping[str, object]) -> ValidExchange:
        fields = require_strings(params, _FIELDS, "$.token", optional=("code_verifier",))
        presented = await load_presented(
            self._store.load_code_context, self._hasher, fields, "code"
        )
        code = presented.stored
        if code.consumed:
            await self._reused(code)
        now = self._clock.now()
        if code.revoked or code.expires_at <= now:
            raise TokenExpiredError()
        # RFC 6749 §4.1.3: identical to the one the code was issued for, character for character.
        if fields["redirect_uri"] != code.redirect_uri:
            raise InvalidGrantError(REDIRECT_MISMATCH)
        approved_scope(presented.context)
        _check_pkce(code, fields.get("code_verifier"))
        return ValidExchange(presented.client_id, presented.context.connection_id, code, now)

    async def _reused(self, code: StoredCode) -> NoReturn:
        revoked = await self._store.revoke_family(code.family_id, self._clock.now())
        for kind, count in ((TokenEvent.CODE_REPLAYED, 1), (TokenEvent.FAMILY_REVOKED, revoked)):
            self._events.emit(
                Event(kind, self.grant_type, code.client_id, code.user_id, code.family_id, count)
            )
        raise AccessDeniedError(ALREADY_USED)
