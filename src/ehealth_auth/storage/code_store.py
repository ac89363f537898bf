"""The code exchange's store: one read for its checks, one atomic consume (CONTRACT §3).

Like the refresh store, it runs on the bare driver (storage/driver.py).
"""

from __future__ import annotations

from uuid import UUID

import sqlalchemy as sa

from ehealth_auth.protocol.model import CodeContext, NewToken, TokenName
from ehealth_auth.storage.driver import Driver
from ehealth_auth.storage.refresh_store import TokenWrites, grant_context_query
from ehealth_auth.storage.retry import retrying
from ehealth_auth.storage.rows import CODE_COLUMNS, REUSE, code_context
from ehealth_auth.storage.tables import tokens

_LOAD_CODE_CONTEXT = grant_context_query(TokenName.AUTHORIZATION_CODE, *CODE_COLUMNS)

# The conditional update that makes a code single-use: of simultaneous exchanges, one wins.
_CONSUME = (
    tokens.update()
    .where(
        tokens.c.id == sa.bindparam("code_id"),
        tokens.c.retired_at_ms.is_(None),
        tokens.c.revoked_at.is_(None),
    )
    .values(retired_at_ms=sa.bindparam("at_ms"), successor_id=sa.bindparam("refresh_id"))
)


class SqlCodeStore:
    def __init__(self, driver: Driver) -> None:
        self._driver = driver
        self._writes = TokenWrites(driver)
        self._load = driver.compile(_LOAD_CODE_CONTEXT)
        self._consume = driver.compile(_CONSUME)

    async def load_code_context(
        self, client_id: UUID, secret_hash: bytes, code_hash: bytes
    ) -> CodeContext | None:
        row = await self._driver.fetchrow(
            self._load,
            {"client_id": client_id, "secret_hash": secret_hash, "token_hash": code_hash},
        )
        return None if row is None else code_context(row)

    async def consume_code(
        self, code_id: UUID, consumed_at_ms: int, refresh: NewToken, access: NewToken
    ) -> bool:
        async def _transaction() -> bool:
            async with self._driver.transaction() as conn:
                # First statement of the transaction: it takes the row lock (PostgreSQL) or is
                # already under the write lock (SQLite), so a concurrent exchange waits here and
                # then finds the code used.
                consumed = await conn.execute(
                    self._consume,
                    {"code_id": code_id, "at_ms": consumed_at_ms, "refresh_id": refresh.id},
                )
                if consumed != 1:
                    return False  # lost the race; nothing was written
                await self._writes.insert(conn, refresh)
                await self._writes.insert(conn, access)
            return True

        return await retrying(_transaction)

    async def revoke_family(self, family_id: UUID, now: int) -> int:
        return await self._writes.revoke_family(family_id, now, REUSE)
