"""The gateway verify call's store: one read for every check of protocol/verify.py.

Verify is the service's hottest call. Its statement is written with SQLAlchemy Core and
compiled once for the engine's dialect; it runs through the driver on a small pool of its own
(storage/read_pool.py), which skips SQLAlchemy's per-call pool and statement machinery.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import orjson
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from ehealth_auth.protocol.verify import VerifyContext
from ehealth_auth.storage.read_pool import ReadPool, Row, read_pool_for
from ehealth_auth.storage.tables import approvals, clients, connections, tokens, users

# One round trip: the token with this hash, its client, its user, the user's approval for that
# client and the connection it was issued through. Outer joins keep the token row when the
# approval or connection is missing (the approval is a check; operator mints have no connection).
LOAD_TOKEN = (
    sa.select(
        tokens.c.id,
        tokens.c.name,
        tokens.c.expires_at,
        tokens.c.revoked_at,
        tokens.c.user_id,
        tokens.c.details,
        approvals.c.id.label("approval_id"),
        clients.c.is_blocked.label("client_blocked"),
        users.c.is_blocked.label("user_blocked"),
        connections.c.consumer_id,
    )
    .select_from(
        tokens.outerjoin(clients, clients.c.id == tokens.c.client_id)
        .outerjoin(users, users.c.id == tokens.c.user_id)
        .outerjoin(
            approvals,
            sa.and_(
                approvals.c.user_id == tokens.c.user_id,
                approvals.c.client_id == tokens.c.client_id,
            ),
        )
        .outerjoin(connections, connections.c.id == tokens.c.connection_id)
    )
    .where(tokens.c.value_hash == sa.bindparam("value_hash"))
)


def _uuid(value: Any) -> UUID:
    # asyncpg decodes native UUIDs; SQLite stores them as 32 hex digits.
    return value if isinstance(value, UUID) else UUID(hex=value)


def _details(value: Any) -> dict[str, str]:
    # The drivers hand json over as text.
    decoded: dict[str, str] = value if isinstance(value, dict) else orjson.loads(value)
    return decoded


def context_from_row(row: Row) -> VerifyContext:
    (token_id, name, expires_at, revoked_at, user_id, details, approval_id) = row[:7]
    client_blocked, user_blocked, consumer_id = row[7:]
    return VerifyContext(
        id=_uuid(token_id),
        name=name,
        expires_at=expires_at,
        revoked=revoked_at is not None,
        user_id=_uuid(user_id),
        details=_details(details),
        approval_exists=approval_id is not None,
        client_blocked=bool(client_blocked),
        user_blocked=bool(user_blocked),
        mis_client_id=None if consumer_id is None else _uuid(consumer_id),
    )


class SqlVerifyStore:
    def __init__(self, engine: AsyncEngine, pool: ReadPool | None = None) -> None:
        # Positional parameters in the driver's own style: `$1` for asyncpg, `?` for aiosqlite.
        self._sql = str(LOAD_TOKEN.compile(dialect=engine.sync_engine.dialect))
        self._pool = pool or read_pool_for(engine)

    async def load_token(self, value_hash: bytes) -> VerifyContext | None:
        row = await self._pool.fetch_row(self._sql, value_hash)
        return None if row is None else context_from_row(row)
