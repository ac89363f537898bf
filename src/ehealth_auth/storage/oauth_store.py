"""Stores of the standard OAuth endpoints: client secrets (RFC 6749 §2.3.1) and revocation
(RFC 7009). Client traffic, so they run on the bare driver like the grants' stores."""

from __future__ import annotations

from uuid import UUID

import sqlalchemy as sa

from ehealth_auth.protocol.model import RevocableToken
from ehealth_auth.storage.driver import Driver
from ehealth_auth.storage.refresh_store import TokenWrites
from ehealth_auth.storage.retry import retrying
from ehealth_auth.storage.rows import revocable_token
from ehealth_auth.storage.tables import clients, connections, tokens

# The same match as the grants' context read: a connection of this client with this secret.
_CLIENT_BLOCKED = (
    sa.select(clients.c.is_blocked)
    .select_from(connections.join(clients, clients.c.id == connections.c.client_id))
    .where(
        connections.c.client_id == sa.bindparam("client_id"),
        connections.c.secret_hash == sa.bindparam("secret_hash"),
    )
    .limit(1)
)

_TOKEN_BY_HASH = sa.select(
    tokens.c.id, tokens.c.name, tokens.c.client_id, tokens.c.family_id
).where(tokens.c.value_hash == sa.bindparam("value_hash"))

_REVOKE_TOKEN = (
    tokens.update()
    .where(tokens.c.id == sa.bindparam("token_id"), tokens.c.revoked_at.is_(None))
    .values(revoked_at=sa.bindparam("now"))
)


class SqlClientSecretStore:
    def __init__(self, driver: Driver) -> None:
        self._driver = driver
        self._load = driver.compile(_CLIENT_BLOCKED)

    async def client_blocked(self, client_id: UUID, secret_hash: bytes) -> bool | None:
        row = await self._driver.fetchrow(
            self._load, {"client_id": client_id, "secret_hash": secret_hash}
        )
        return None if row is None else bool(row["is_blocked"])


class SqlRevocationStore:
    def __init__(self, driver: Driver) -> None:
        self._driver = driver
        self._writes = TokenWrites(driver)
        self._load = driver.compile(_TOKEN_BY_HASH)
        self._revoke = driver.compile(_REVOKE_TOKEN)

    async def token_by_hash(self, value_hash: bytes) -> RevocableToken | None:
        row = await self._driver.fetchrow(self._load, {"value_hash": value_hash})
        return None if row is None else revocable_token(row)

    async def revoke_token(self, token_id: UUID, now: int) -> bool:
        params = {"token_id": token_id, "now": now}

        async def _update() -> bool:
            return await self._driver.execute(self._revoke, params) == 1

        return await retrying(_update)

    async def revoke_family(self, family_id: UUID, now: int) -> int:
        return await self._writes.revoke_family(family_id, now, None)
