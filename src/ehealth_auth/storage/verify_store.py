"""The gateway verify call's store: one read for every check of protocol/verify.py."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from ehealth_auth.protocol.verify import VerifyContext
from ehealth_auth.storage.tables import approvals, clients, connections, tokens, users

# One round trip: the token with this hash, its client, its user, the user's approval for that
# client and the connection it was issued through. Outer joins keep the token row when the
# approval or connection is missing (the approval is a check; operator mints have no connection).
_LOAD_TOKEN = (
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


class SqlVerifyStore:
    def __init__(self, engine: AsyncEngine) -> None:
        # A single read: autocommit saves the BEGIN/COMMIT round trips.
        self._engine = engine.execution_options(isolation_level="AUTOCOMMIT")

    async def load_token(self, value_hash: bytes) -> VerifyContext | None:
        async with self._engine.connect() as conn:
            result = await conn.execute(_LOAD_TOKEN, {"value_hash": value_hash})
            row = result.first()
        if row is None:
            return None
        return VerifyContext(
            id=row.id,
            name=row.name,
            expires_at=row.expires_at,
            revoked=row.revoked_at is not None,
            user_id=row.user_id,
            details=row.details,
            approval_exists=row.approval_id is not None,
            client_blocked=bool(row.client_blocked),
            user_blocked=bool(row.user_blocked),
            mis_client_id=row.consumer_id,
        )
