"""Token revocation (RFC 7009) by the client the token was issued to.

- A refresh token is revoked with every live token of its family (RFC 7009 §2.1: the access
  tokens of the same authorization go with it), exactly as reuse detection revokes a family.
- An access token is revoked alone.
- An unknown value, another client's token, a token already dead and an authorization code
  are answered like a revoked token, and nothing changes (§2.2): the answer reveals nothing.

`token_type_hint` says where to look first, and §2.1 requires the search to go on through
every other kind when the hint is wrong. Every kind is found by its value's digest in one
indexed read, so the outcome is the same with or without the hint, and with a wrong one.
"""

from __future__ import annotations

from uuid import UUID

from ehealth_auth.protocol.model import TokenName
from ehealth_auth.protocol.ports import Clock, RevocationStore, SecretHasher

TOKEN_TYPE_HINTS = (TokenName.ACCESS_TOKEN.value, TokenName.REFRESH_TOKEN.value)


class TokenRevoker:
    def __init__(self, store: RevocationStore, hasher: SecretHasher, clock: Clock) -> None:
        self._store = store
        self._hasher = hasher
        self._clock = clock

    async def revoke(self, client_id: UUID, value: str, token_type_hint: str | None) -> None:
        """Revoke the client's token with this value; anything else is left as it is."""
        del token_type_hint  # one read finds every kind (see the module docstring)
        token = await self._store.token_by_hash(self._hasher.digest(value))
        if token is None or token.client_id != client_id:
            return
        if token.name == TokenName.REFRESH_TOKEN:
            await self._store.revoke_family(token.family_id, self._clock.now())
        elif token.name == TokenName.ACCESS_TOKEN:
            await self._store.revoke_token(token.id, self._clock.now())
