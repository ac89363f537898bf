"""The API gateway's token check, `GET /admin/tokens/{value}/verify` (CONTRACT §3).

Checks, in this order; the first that fails decides:

1. a token with this value exists                      404 not_found       Token not found.
2. it is an access token (the old service also took    401 invalid_grant   Token is not an
   refresh tokens and codes here: a security bug)                          access token.
3. not expired (`expires_at <= now`), not revoked, the 401 invalid_grant   Token expired or client
   user's approval for its client still exists, and                        approval was revoked.
   its scope is within that approval and the client
   type's ceiling (`app:authorize` of a login token
   aside: it needs no approval)
4. its client is not blocked                           401 invalid_client  Authentication failed.
5. its user is not blocked                             401 invalid_user    Authentication failed.

A context that passed every check may be kept in a `VerifyCache` and checked again on each later
call: the cache stores what the store read, never a decision, so these rules stay here alone.
"""

from __future__ import annotations

from ehealth_auth.protocol.errors import (
    InvalidClientError,
    InvalidGrantError,
    InvalidUserError,
    NotFoundError,
)
from ehealth_auth.protocol.model import IssuedToken, TokenName, VerifiedToken, VerifyContext
from ehealth_auth.protocol.ports import Clock, SecretHasher, VerifyCache, VerifyStore

NOT_FOUND_MESSAGE = "Token not found."
NOT_ACCESS_MESSAGE = "Token is not an access token."
DEAD_MESSAGE = "Token expired or client approval was revoked."
AUTH_FAILED_MESSAGE = "Authentication failed."


class TokenVerifier:
    def __init__(
        self,
        store: VerifyStore,
        hasher: SecretHasher,
        clock: Clock,
        cache: VerifyCache | None = None,
    ) -> None:
        self._store = store
        self._hasher = hasher
        self._clock = clock
        self._cache = cache

    async def verify(self, value: str) -> VerifiedToken:
        value_hash = self._hasher.digest(value)
        cache = self._cache
        if cache is None:
            return self._check(value, await self._load(value_hash))
        cached = cache.get(value_hash)
        if cached is not None:
            return self._check(value, cached)
        ticket = cache.ticket()
        context = await self._load(value_hash)
        verified = self._check(value, context)  # raises unless every check passes
        if ticket is not None:
            cache.put(value_hash, context, ticket)
        return verified

    async def _load(self, value_hash: bytes) -> VerifyContext:
        context = await self._store.load_token(value_hash)
        if context is None:
            raise NotFoundError(NOT_FOUND_MESSAGE)
        return context

    def _check(self, value: str, context: VerifyContext) -> VerifiedToken:
        if context.name != TokenName.ACCESS_TOKEN:
            raise InvalidGrantError(NOT_ACCESS_MESSAGE)
        if (
            context.revoked
            or context.expires_at <= self._clock.now()
            or not context.approval_exists
            or not context.scope_allowed()
        ):
            raise InvalidGrantError(DEAD_MESSAGE)
        if context.client_blocked:
            raise InvalidClientError(AUTH_FAILED_MESSAGE)
        if context.user_blocked:
            raise InvalidUserError(AUTH_FAILED_MESSAGE)
        # The value is the caller's own: the answer repeats it, the database never held it.
        token = IssuedToken(
            id=context.id,
            name=TokenName.ACCESS_TOKEN,
            value=value,
            expires_at=context.expires_at,
            user_id=context.user_id,
            details=context.details,
        )
        return VerifiedToken(token, context.mis_client_id, context.issued_at)
