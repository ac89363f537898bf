"""The refresh grant's store: one read for checks 5-11 of CONTRACT §2, one insert to issue."""

from __future__ import annotations

from dataclasses import asdict
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from ehealth_auth.protocol.model import NewToken, TokenName
from ehealth_auth.protocol.ports import RefreshContext, StoredRefreshToken
from ehealth_auth.storage.tables import approvals, clients, connections, tokens, users

# One round trip: the connection with this secret, its client, the refresh token with this hash,
# that token's user and the user's approval for the calling client. Outer joins keep the row when
# the token, user or approval is missing, so the protocol can tell each check apart.
_LOAD_REFRESH_CONTEXT = (
    sa.select(
        connections.c.id.label("connection_id"),
        clients.c.is_blocked,
        tokens.c.id,
        tokens.c.client_id,
        tokens.c.user_id,
        tokens.c.expires_at,
        tokens.c.revoked_at,
        tokens.c.family_id,
        users.c.is_blocked.label("user_blocked"),
        approvals.c.scope,
    )
    .select_from(
        connections.join(clients, clients.c.id == connections.c.client_id)
        .outerjoin(
            tokens,
            sa.and_(
                tokens.c.value_hash == sa.bindparam("token_hash"),
                tokens.c.name == TokenName.REFRESH_TOKEN.value,
            ),
        )
        .outerjoin(users, users.c.id == tokens.c.user_id)
        .outerjoin(
            approvals,
            sa.and_(
                approvals.c.user_id == tokens.c.user_id,
                approvals.c.client_id == connections.c.client_id,
            ),
        )
    )
    .where(
        connections.c.client_id == sa.bindparam("client_id"),
        connections.c.secret_hash == sa.bindparam("secret_hash"),
    )
    .limit(1)
)

_INSERT_TOKEN = tokens.insert()


def token_row(token: NewToken) -> dict[str, object]:
    row = asdict(token)
    row["name"] = token.name.value
    return row


class SqlRefreshGrantStore:
    def __init__(self, engine: AsyncEngine) -> None:
        # Each statement here is atomic on its own, so autocommit saves the BEGIN/COMMIT trips.
        self._engine = engine.execution_options(isolation_level="AUTOCOMMIT")

    async def load_refresh_context(
        self, client_id: UUID, secret_hash: bytes, token_hash: bytes
    ) -> RefreshContext | None:
        async with self._engine.connect() as conn:
            result = await conn.execute(
                _LOAD_REFRESH_CONTEXT,
                {"client_id": client_id, "secret_hash": secret_hash, "token_hash": token_hash},
            )
            row = result.first()
        if row is None:
            return None
        token = None
        if row.id is not None:
            token = StoredRefreshToken(
                id=row.id,
                client_id=row.client_id,
                user_id=row.user_id,
                expires_at=row.expires_at,
                revoked=row.revoked_at is not None,
                family_id=row.family_id,
            )
        return RefreshContext(
            connection_id=row.connection_id,
            client_blocked=row.is_blocked,
            token=token,
            user_blocked=bool(row.user_blocked),
            approval_scope=row.scope,
        )

    async def add_token(self, token: NewToken) -> None:
        async with self._engine.connect() as conn:
            await conn.execute(_INSERT_TOKEN, token_row(token))
