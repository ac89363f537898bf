"""The standard OAuth endpoints' stores: client secrets and revocation."""

from __future__ import annotations

import hmac
from uuid import UUID

from ehealth_auth.protocol.model import RevocableToken
from tests.fakes.database import FakeDatabase


class FakeClientSecretStore:
    """The ClientSecretStore port, mirroring `SqlClientSecretStore`."""

    def __init__(self, db: FakeDatabase) -> None:
        self.db = db

    async def client_blocked(self, client_id: UUID, secret_hash: bytes) -> bool | None:
        for connection in self.db.connections.values():
            if connection.client_id == client_id and hmac.compare_digest(
                connection.secret_hash, secret_hash
            ):
                return self.db.clients[client_id].is_blocked
        return None


class FakeRevocationStore:
    """The RevocationStore port, mirroring `SqlRevocationStore`."""

    def __init__(self, db: FakeDatabase) -> None:
        self.db = db

    async def token_by_hash(self, value_hash: bytes) -> RevocableToken | None:
        row = self.db.token_by_hash(value_hash)
        if row is None:
            return None
        token = row.token
        return RevocableToken(token.id, token.name.value, token.client_id, token.family_id)

    async def revoke_token(self, token_id: UUID, now: int) -> bool:
        return self.db.revoke_tokens(now, lambda token: token.id == token_id) == 1

    async def revoke_family(self, family_id: UUID, now: int) -> int:
        return self.db.revoke_family(family_id, now, for_reuse=False)
