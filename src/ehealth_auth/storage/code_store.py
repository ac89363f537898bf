"""The code exchange's store: one read for its checks, one atomic consume (CONTRACT §3).

Like the refresh store, it runs on the bare driver (storage/driver.py).
"""

from __future__ import annotations

from uuid import UUID

import sqlalchemy as sa

from ehealth_auth.protocol.flow_ports import CodeContext, StoredCode
from ehealth_auth.protocol.model import NewToken, TokenName
from ehealth_auth.storage.driver import Driver
from ehealth_auth.storage.retry import retrying
from ehealth_auth.storage.tables import tokens
from ehealth_auth.storage.token_store import REUSE, TokenWrites, grant_context_query

_LOAD_CODE_CONTEXT = grant_context_query(
    TokenName.AUTHORIZATION_CODE,
    tokens.c.id,
    tokens.c.client_id,
    tokens.c.user_id,
    tokens.c.connection_id,
    tokens.c.scope,
    tokens.c.expires_at,
    tokens.c.revoked_at,
    tokens.c.retired_at_ms,
    tokens.c.family_id,
    tokens.c.redirect_uri,
    tokens.c.code_challenge,
)

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
            {
                "client_id": self._driver.uuid(client_id),
                "secret_hash": secret_hash,
                "token_hash": code_hash,
            },
        )
        if row is None:
            return None
        read_uuid = self._driver.read_uuid
        (connection_id, client_blocked, code_id, code_client, code_user, code_connection) = row[:6]
        (scope, expires_at, revoked_at, retired_at_ms, family_id, redirect_uri) = row[6:12]
        (code_challenge, user_blocked, approval_scope) = row[12:]
        code = None
        if code_id is not None:
            code = StoredCode(
                id=read_uuid(code_id),
                client_id=read_uuid(code_client),
                user_id=read_uuid(code_user),
                connection_id=None if code_connection is None else read_uuid(code_connection),
                scope=scope,
                expires_at=expires_at,
                revoked=revoked_at is not None,
                consumed=retired_at_ms is not None,
                family_id=read_uuid(family_id),
                redirect_uri=redirect_uri or "",
                code_challenge=code_challenge,
            )
        return CodeContext(
            connection_id=read_uuid(connection_id),
            client_blocked=bool(client_blocked),
            code=code,
            user_blocked=bool(user_blocked),
            approval_scope=approval_scope,
        )

    async def consume_code(
        self, code_id: UUID, consumed_at_ms: int, refresh: NewToken, access: NewToken
    ) -> bool:
        uuid = self._driver.uuid

        async def _transaction() -> bool:
            async with self._driver.transaction() as conn:
                # First statement of the transaction: it takes the row lock (PostgreSQL) or is
                # already under the write lock (SQLite), so a concurrent exchange waits here and
                # then finds the code used.
                consumed = await conn.execute(
                    self._consume,
                    {
                        "code_id": uuid(code_id),
                        "at_ms": consumed_at_ms,
                        "refresh_id": uuid(refresh.id),
                    },
                )
                if consumed != 1:
                    return False  # lost the race; nothing was written
                await self._writes.insert(conn, refresh)
                await self._writes.insert(conn, access)
            return True

        return await retrying(_transaction)

    async def revoke_family(self, family_id: UUID, now: int) -> int:
        return await self._writes.revoke_family(family_id, now, REUSE)
