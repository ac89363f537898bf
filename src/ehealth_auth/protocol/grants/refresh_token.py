"""`grant_type=refresh_token` (RFC 6749 §6; CONTRACT §2 checks 4-11 in their order, and §6).

Rotation follows RFC 9700 §4.14.2: each refresh retires the presented token and issues a
successor; presenting a retired token again revokes the whole family. What tells a race from
theft is time: a request that arrived before the token was retired lost a race (401, nothing
revoked); one that arrived after it, and after any grace window, is reuse.

"Simultaneous" requests from one client never reach the service at one instant: a client's
requests leave it a few milliseconds apart, and each server process takes them up when it can.
So a request that arrives within the race window (`TokenPolicy.race_window_ms`) after the
retirement still counts as part of the race.

The standard dialect may ask for a narrower scope (RFC 6749 §6): one more check, after the
approval's, refuses a scope the approval does not cover; the access token then carries only the
scope asked for, and a successor refresh token keeps the approval's.

With rotation off (and no narrower scope, nor earlier access tokens to revoke) the access token
is drafted before the context is read, and a store that can stores it with the read, in one
statement, when the context passes the checks (`load_refresh_context_issuing`); the checks
below still decide the answer, and store the token themselves when the store did not. With
rotation on (and no narrower scope) the successor is drafted too, and sealed for the grace window
to the presented token's value hash, known before the read: a store that can rotates with the
read (`load_refresh_context_rotating`); where it did not, the checks below rotate as before.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from uuid import UUID

from ehealth_auth.protocol.errors import InvalidGrantError, InvalidScopeError, TokenExpiredError
from ehealth_auth.protocol.events import NO_EVENTS, Event, TokenEvent
from ehealth_auth.protocol.grants.base import (
    ALREADY_USED,
    ContextLoader,
    approved_scope,
    load_presented,
    with_refresh_token,
)
from ehealth_auth.protocol.model import (
    IssuedToken,
    LostRace,
    MintedToken,
    RefreshContext,
    RotationDraft,
    StoredRefreshToken,
    TokenDraft,
    TokenName,
)
from ehealth_auth.protocol.policy import TokenPolicy
from ehealth_auth.protocol.ports import (
    Clock,
    Events,
    RefreshGrantStore,
    SecretHasher,
    SuccessorCipher,
)
from ehealth_auth.protocol.scope import outside_ceiling, parse
from ehealth_auth.protocol.tokens import draft_token, mint
from ehealth_auth.protocol.validation import require_strings

_FIELDS = ("client_id", "client_secret", "refresh_token")
REVOKED_FOR_REUSE = "Token revoked: reuse of a token of the same authorization was detected."


@dataclass(frozen=True)
class ValidRefresh:
    """A refresh request that passed every check: what the issue phase needs."""

    client_id: UUID
    connection_id: UUID
    token: StoredRefreshToken
    scope: str
    now: int
    access_scope: str  # `scope`, or the narrower scope the standard dialect asked for
    token_hash: bytes  # the presented token's hash: what its successor's sealed value is bound to


class RefreshTokenGrant:
    grant_type = "refresh_token"

    def __init__(
        self,
        store: RefreshGrantStore,
        hasher: SecretHasher,
        clock: Clock,
        policy: TokenPolicy,
        cipher: SuccessorCipher,
        events: Events = NO_EVENTS,
    ) -> None:
        self._store = store
        self._hasher = hasher
        self._clock = clock
        self._policy = policy
        self._cipher = cipher
        self._events = events

    async def handle(
        self,
        params: Mapping[str, object],
        requested_scope: str | None = None,
        *,
        source: str = "",
    ) -> IssuedToken:
        # Client authentication is throttled around the grant (ClientAuthThrottle).
        arrived_ms = self._clock.now_ms()
        policy = self._policy
        if requested_scope is None and policy.rotation:
            valid, issued = await self._validate_rotating(params)
            if issued is not None:
                self._refreshed(valid)
                return issued
        elif requested_scope is None and not policy.revokes_previous_access:
            valid, issued = await self._validate_issuing(params)
            if issued is not None:
                self._refreshed(valid)
                return issued
        else:
            valid = await self.validate(params, requested_scope)
        if valid.token.retired_at_ms is None:
            outcome = await self._refresh(valid)
            if not isinstance(outcome, LostRace):
                self._refreshed(valid)
                return outcome
            if not self._policy.reuse_grace:
                raise InvalidGrantError(ALREADY_USED)
            # Lost a race with grace on: answer as a retry, from the token as the winner left
            # it (read back by the rotation itself), once its state passes check 9 again.
            _check_live(outcome.token, valid.now)
            valid = dataclasses.replace(valid, token=outcome.token)
        issued = await self._answer_retired(valid, arrived_ms)
        self._refreshed(valid)
        return issued

    def _refreshed(self, valid: ValidRefresh) -> None:
        self._events.emit(Event(TokenEvent.ISSUED, self.grant_type, valid.client_id))
        self._events.emit(Event(TokenEvent.REFRESHED, self.grant_type, valid.client_id))

    async def validate(
        self, params: Mapping[str, object], requested_scope: str | None = None
    ) -> ValidRefresh:
        return await self._validated(params, requested_scope, self._store.load_refresh_context)

    async def _validate_issuing(
        self, params: Mapping[str, object]
    ) -> tuple[ValidRefresh, IssuedToken | None]:
        """`validate`, with the access token drafted first and stored by the read where the
        store can; the issued token, or None for a retired one (nothing stored then)."""
        now = self._clock.now()
        drafted = draft_token(self._hasher, now, self._policy.access_ttl, self.grant_type)
        _, draft = drafted
        stored = False

        async def load(
            client_id: UUID, secret_hash: bytes, token_hash: bytes
        ) -> RefreshContext | None:
            nonlocal stored
            context, stored = await self._store.load_refresh_context_issuing(
                client_id, secret_hash, token_hash, draft
            )
            return context

        valid = await self._validated(params, None, load, now)
        if valid.token.retired_at_ms is not None:
            return valid, None
        access = self._mint_access(valid, drafted)
        if not stored:
            await self._store.add_access_token(access.record, revoke_earlier_access=False)
        return valid, access.issued

    async def _validate_rotating(
        self, params: Mapping[str, object]
    ) -> tuple[ValidRefresh, IssuedToken | None]:
        """`validate`, with the access token and the successor drafted first and the rotation
        done by the read where the store can; the issued tokens, or None when the read did not
        rotate (nothing written then: a retired token, a lost race, a store that cannot)."""
        now = self._clock.now()
        policy = self._policy
        access = draft_token(self._hasher, now, policy.access_ttl, self.grant_type)
        successor = draft_token(self._hasher, now, policy.refresh_ttl, self.grant_type)
        rotated = False

        async def load(
            client_id: UUID, secret_hash: bytes, token_hash: bytes
        ) -> RefreshContext | None:
            nonlocal rotated
            sealed = None
            if policy.reuse_grace:
                sealed = self._cipher.encrypt(successor[0], token_hash)
            rotation = RotationDraft(
                access[1],
                successor[1],
                self._clock.now_ms(),
                sealed,
                policy.revokes_previous_access,
            )
            context, rotated = await self._store.load_refresh_context_rotating(
                client_id, secret_hash, token_hash, rotation
            )
            return context

        valid = await self._validated(params, None, load, now)
        if not rotated:
            return valid, None
        self._events.emit(Event(TokenEvent.ROTATED, self.grant_type, valid.client_id))
        return valid, with_refresh_token(
            self._mint_access(valid, access).issued,
            self._mint_successor(valid, successor).issued.value,
        )

    async def _validated(
        self,
        params: Mapping[str, object],
        requested_scope: str | None,
        load: ContextLoader[StoredRefreshToken],
        now: int | None = None,
    ) -> ValidRefresh:
        """The checks, on the context `load` reads, at `now` (by default, once it is read)."""
        fields = require_strings(params, _FIELDS, "$.token")
        presented = await load_presented(load, self._hasher, fields, "refresh_token")
        token = presented.stored
        if now is None:
            now = self._clock.now()
        _check_live(token, now)
        scope = approved_scope(presented.context)
        access_scope = scope
        if requested_scope is not None:
            if outside_ceiling(requested_scope, scope):
                raise InvalidScopeError()
            access_scope = " ".join(parse(requested_scope))
        return ValidRefresh(
            presented.client_id,
            presented.context.connection_id,
            token,
            scope,
            now,
            access_scope,
            presented.item_hash,
        )

    async def _refresh(self, valid: ValidRefresh) -> IssuedToken | LostRace:
        """Issue for a live token; `LostRace` when a concurrent request retired or revoked it
        first."""
        access = self._mint_access(valid)
        revoke_earlier = self._policy.revokes_previous_access
        if not self._policy.rotation:
            await self._store.add_access_token(access.record, revoke_earlier_access=revoke_earlier)
            return access.issued
        successor = self._mint_successor(valid)
        sealed = None
        if self._policy.reuse_grace:
            sealed = self._cipher.encrypt(successor.issued.value, valid.token_hash)
        rotation = await self._store.rotate(
            valid.token.id,
            self._clock.now_ms(),
            successor.record,
            sealed,
            access.record,
            revoke_earlier_access=revoke_earlier,
        )
        if isinstance(rotation, LostRace):
            return rotation
        self._events.emit(Event(TokenEvent.ROTATED, self.grant_type, valid.client_id))
        return with_refresh_token(access.issued, successor.issued.value)

    async def _answer_retired(self, valid: ValidRefresh, arrived_ms: int) -> IssuedToken:
        token = valid.token
        retired_at_ms = token.retired_at_ms
        if retired_at_ms is None:  # the race was lost to something other than a rotation
            raise InvalidGrantError(ALREADY_USED)
        in_grace = self._clock.now_ms() < retired_at_ms + self._policy.reuse_grace * 1000
        if in_grace and token.successor_value_enc is not None:
            # Bound to the retired token's value hash; by a release before it, to its id.
            successor = self._cipher.decrypt(
                token.successor_value_enc, valid.token_hash
            ) or self._cipher.decrypt(token.successor_value_enc, token.id.bytes)
            if successor is not None:
                access = self._mint_access(valid)
                await self._store.add_access_token(
                    access.record, revoke_earlier_access=self._policy.revokes_previous_access
                )
                return with_refresh_token(access.issued, successor)
        raced = arrived_ms <= retired_at_ms + self._policy.race_window_ms
        if not in_grace and not raced:
            # Presented after it was retired: the token leaked. Kill the whole family.
            revoked = await self._store.revoke_family(token.family_id, valid.now)
            for kind, count in (
                (TokenEvent.REUSE_DETECTED, 1),
                (TokenEvent.FAMILY_REVOKED, revoked),
            ):
                self._events.emit(
                    Event(
                        kind,
                        self.grant_type,
                        valid.client_id,
                        token.user_id,
                        token.family_id,
                        count,
                    )
                )
        raise InvalidGrantError(ALREADY_USED)

    def _mint_successor(
        self, valid: ValidRefresh, drafted: tuple[str, TokenDraft] | None = None
    ) -> MintedToken:
        return self._mint(valid, TokenName.REFRESH_TOKEN, drafted)

    def _mint_access(
        self, valid: ValidRefresh, drafted: tuple[str, TokenDraft] | None = None
    ) -> MintedToken:
        return self._mint(valid, TokenName.ACCESS_TOKEN, drafted)

    def _mint(
        self, valid: ValidRefresh, name: TokenName, drafted: tuple[str, TokenDraft] | None
    ) -> MintedToken:
        """A token descending from the presented one. The new access token carries the
        approval's current scope (or the narrower one asked for), not the old token's; a
        successor carries the approval's. A drafted one must be what the store wrote from its
        draft (the same details, in the same order)."""
        access = name is TokenName.ACCESS_TOKEN
        scope = valid.access_scope if access else valid.scope
        details = {"client_id": str(valid.client_id)}
        if access:
            details["grant_type"] = self.grant_type
        details["scope"] = scope
        return mint(
            self._hasher,
            name=name,
            now=valid.now,
            ttl=self._policy.access_ttl if access else self._policy.refresh_ttl,
            user_id=valid.token.user_id,
            client_id=valid.client_id,
            scope=scope,
            details=details,
            family_id=valid.token.family_id,
            parent_id=valid.token.id,
            connection_id=valid.connection_id,
            drafted=drafted,
        )


def _check_live(token: StoredRefreshToken, now: int) -> None:
    """CONTRACT §2 check 9, which says why when the family was revoked for reuse."""
    if token.revoked and token.revoked_for_reuse:
        # Say why, so the client's operator looks for a leak rather than a clock problem.
        raise InvalidGrantError(REVOKED_FOR_REUSE)
    if token.revoked or token.expires_at <= now:
        raise TokenExpiredError()
