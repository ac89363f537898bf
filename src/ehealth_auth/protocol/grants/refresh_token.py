"""`grant_type=refresh_token` (RFC 6749 §6; CONTRACT §2 checks 4-11, in their order)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from uuid import UUID

from ehealth_auth.protocol.errors import (
    AccessDeniedError,
    InvalidClientError,
    InvalidGrantError,
    TokenExpiredError,
    TokenNotFoundError,
    UserBlockedError,
)
from ehealth_auth.protocol.model import IssuedToken, TokenName, TokenPolicy
from ehealth_auth.protocol.ports import Clock, RefreshGrantStore, SecretHasher, StoredRefreshToken
from ehealth_auth.protocol.tokens import mint
from ehealth_auth.protocol.validation import parse_uuid, require_strings

_FIELDS = ("client_id", "client_secret", "refresh_token")


@dataclass(frozen=True)
class ValidRefresh:
    """A refresh request that passed every check: what the issue phase needs."""

    client_id: UUID
    connection_id: UUID
    token: StoredRefreshToken
    scope: str
    now: int


class RefreshTokenGrant:
    grant_type = "refresh_token"

    def __init__(
        self,
        store: RefreshGrantStore,
        hasher: SecretHasher,
        clock: Clock,
        policy: TokenPolicy,
    ) -> None:
        self._store = store
        self._hasher = hasher
        self._clock = clock
        self._policy = policy

    async def handle(self, params: Mapping[str, object]) -> IssuedToken:
        return await self.issue(await self.validate(params))

    async def validate(self, params: Mapping[str, object]) -> ValidRefresh:
        fields = require_strings(params, _FIELDS, "$.token")
        client_id = parse_uuid(fields["client_id"])
        if client_id is None:
            raise InvalidClientError()
        context = await self._store.load_refresh_context(
            client_id,
            self._hasher.digest(fields["client_secret"]),
            self._hasher.digest(fields["refresh_token"]),
        )
        if context is None:
            raise InvalidClientError()
        if context.client_blocked:
            raise InvalidClientError("Client is blocked.")
        token = context.token
        if token is None:
            raise TokenNotFoundError()
        if token.client_id != client_id:
            raise InvalidGrantError("Token not found or expired.")
        now = self._clock.now()
        if token.revoked or token.expires_at <= now:
            raise TokenExpiredError()
        if context.user_blocked:
            raise UserBlockedError()
        if context.approval_scope is None:
            raise AccessDeniedError()
        return ValidRefresh(client_id, context.connection_id, token, context.approval_scope, now)

    async def issue(self, valid: ValidRefresh) -> IssuedToken:
        # The new access token carries the approval's current scope, not the old token's.
        access = mint(
            self._hasher,
            name=TokenName.ACCESS_TOKEN,
            now=valid.now,
            ttl=self._policy.access_ttl,
            user_id=valid.token.user_id,
            client_id=valid.client_id,
            scope=valid.scope,
            details={
                "client_id": str(valid.client_id),
                "grant_type": self.grant_type,
                "scope": valid.scope,
            },
            family_id=valid.token.family_id,
            parent_id=valid.token.id,
            connection_id=valid.connection_id,
        )
        await self._store.add_token(access.record)
        return access.issued
