"""The refresh grant's store: one read for checks 5-11 of CONTRACT §2, then one atomic write."""

from __future__ import annotations

from dataclasses import asdict
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ehealth_auth.protocol.model import NewToken, TokenName
from ehealth_auth.protocol.ports import RefreshContext, StoredRefreshToken
from ehealth_auth.storage.retry import retrying
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
        tokens.c.retired_at_ms,
        tokens.c.successor_id,
        tokens.c.successor_value_enc,
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

# The conditional update that decides a race: only one request can retire a live token.
_RETIRE = (
    tokens.update()
    .where(
        tokens.c.id == sa.bindparam("retired_id"),
        tokens.c.retired_at_ms.is_(None),
        tokens.c.revoked_at.is_(None),
    )
    .values(
        retired_at_ms=sa.bindparam("at_ms"),
        successor_id=sa.bindparam("successor_id"),
        successor_value_enc=sa.bindparam("sealed"),
    )
)


def token_row(token: NewToken) -> dict[str, object]:
    row = asdict(token)
    row["name"] = token.name.value
    return row


async def _revoke_earlier_access(conn: AsyncConnection, access: NewToken) -> None:
    await conn.execute(
        tokens.update()
        .where(
            tokens.c.family_id == access.family_id,
            tokens.c.name == TokenName.ACCESS_TOKEN.value,
            tokens.c.revoked_at.is_(None),
        )
        .values(revoked_at=access.issued_at)
    )


class SqlRefreshGrantStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        # Single statements are atomic on their own: autocommit saves the BEGIN/COMMIT trips.
        self._autocommit = engine.execution_options(isolation_level="AUTOCOMMIT")

    async def load_refresh_context(
        self, client_id: UUID, secret_hash: bytes, token_hash: bytes
    ) -> RefreshContext | None:
        async with self._autocommit.connect() as conn:
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
                retired_at_ms=row.retired_at_ms,
                successor_id=row.successor_id,
                successor_value_enc=(
                    None if row.successor_value_enc is None else bytes(row.successor_value_enc)
                ),
            )
        return RefreshContext(
            connection_id=row.connection_id,
            client_blocked=row.is_blocked,
            token=token,
            user_blocked=bool(row.user_blocked),
            approval_scope=row.scope,
        )

    async def add_access_token(self, access: NewToken, *, revoke_earlier_access: bool) -> None:
        if not revoke_earlier_access:
            async with self._autocommit.connect() as conn:
                await conn.execute(_INSERT_TOKEN, token_row(access))
            return

        async def _transaction() -> None:
            async with self._engine.begin() as conn:
                await _revoke_earlier_access(conn, access)
                await conn.execute(_INSERT_TOKEN, token_row(access))

        await retrying(_transaction)

    async def rotate(
        self,
        retired_id: UUID,
        retired_at_ms: int,
        successor: NewToken,
        successor_value_enc: bytes | None,
        access: NewToken,
        *,
        revoke_earlier_access: bool,
    ) -> bool:
        async def _transaction() -> bool:
            async with self._engine.begin() as conn:
                # The retiring update comes first: on SQLite it takes the write lock at once,
                # on PostgreSQL it locks the row, so concurrent rotations queue here.
                retired = await conn.execute(
                    _RETIRE,
                    {
                        "retired_id": retired_id,
                        "at_ms": retired_at_ms,
                        "successor_id": successor.id,
                        "sealed": successor_value_enc,
                    },
                )
                if retired.rowcount != 1:
                    await conn.rollback()
                    return False
                # Only the newest retired token's successor may be echoed; older ones go now.
                await conn.execute(
                    tokens.update()
                    .where(
                        tokens.c.family_id == successor.family_id,
                        tokens.c.successor_value_enc.is_not(None),
                        tokens.c.id != retired_id,
                    )
                    .values(successor_value_enc=None)
                )
                if revoke_earlier_access:
                    await _revoke_earlier_access(conn, access)
                await conn.execute(_INSERT_TOKEN, [token_row(successor), token_row(access)])
            return True

        return await retrying(_transaction)

    async def revoke_family(self, family_id: UUID, now: int) -> int:
        return await revoke_family(self._engine, family_id, now)


async def revoke_family(engine: AsyncEngine, family_id: UUID, now: int) -> int:
    """Revoke every live token of a family, in one transaction; returns how many."""

    async def _transaction() -> int:
        total = 0
        async with engine.begin() as conn:
            # Each pass is a new snapshot under READ COMMITTED: a successor committed by a
            # rotation that held a row lock during the previous pass is caught by the next.
            while True:
                result = await conn.execute(
                    tokens.update()
                    .where(tokens.c.family_id == family_id, tokens.c.revoked_at.is_(None))
                    .values(revoked_at=now, successor_value_enc=None)
                )
                if result.rowcount == 0:
                    return total
                total += result.rowcount

    return await retrying(_transaction)
