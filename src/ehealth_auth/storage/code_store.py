"""The code exchange's store: one read for its checks, one atomic consume (CONTRACT §3)."""

from __future__ import annotations

from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from ehealth_auth.protocol.flow_ports import CodeContext, StoredCode
from ehealth_auth.protocol.model import NewToken, TokenName
from ehealth_auth.storage.retry import retrying
from ehealth_auth.storage.tables import approvals, clients, connections, tokens, users
from ehealth_auth.storage.token_store import revoke_family, token_row

# One round trip, shaped like the refresh context: the connection with this secret, its client,
# the code with this hash, the code's user and that user's approval for the calling client.
_LOAD_CODE_CONTEXT = (
    sa.select(
        connections.c.id.label("calling_connection_id"),
        clients.c.is_blocked,
        tokens.c.id,
        tokens.c.client_id,
        tokens.c.user_id,
        tokens.c.connection_id,
        tokens.c.scope.label("code_scope"),
        tokens.c.expires_at,
        tokens.c.revoked_at,
        tokens.c.retired_at_ms,
        tokens.c.family_id,
        tokens.c.redirect_uri,
        tokens.c.code_challenge,
        users.c.is_blocked.label("user_blocked"),
        approvals.c.scope.label("approval_scope"),
    )
    .select_from(
        connections.join(clients, clients.c.id == connections.c.client_id)
        .outerjoin(
            tokens,
            sa.and_(
                tokens.c.value_hash == sa.bindparam("code_hash"),
                tokens.c.name == TokenName.AUTHORIZATION_CODE.value,
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
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def load_code_context(
        self, client_id: UUID, secret_hash: bytes, code_hash: bytes
    ) -> CodeContext | None:
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(
                    _LOAD_CODE_CONTEXT,
                    {"client_id": client_id, "secret_hash": secret_hash, "code_hash": code_hash},
                )
            ).first()
        if row is None:
            return None
        code = None
        if row.id is not None:
            code = StoredCode(
                id=row.id,
                client_id=row.client_id,
                user_id=row.user_id,
                connection_id=row.connection_id,
                scope=row.code_scope,
                expires_at=row.expires_at,
                revoked=row.revoked_at is not None,
                consumed=row.retired_at_ms is not None,
                family_id=row.family_id,
                redirect_uri=row.redirect_uri or "",
                code_challenge=row.code_challenge,
            )
        return CodeContext(
            connection_id=row.calling_connection_id,
            client_blocked=row.is_blocked,
            code=code,
            user_blocked=bool(row.user_blocked),
            approval_scope=row.approval_scope,
        )

    async def consume_code(
        self, code_id: UUID, consumed_at_ms: int, refresh: NewToken, access: NewToken
    ) -> bool:
        async def _transaction() -> bool:
            async with self._engine.begin() as conn:
                # First statement of the transaction: on SQLite it takes the write lock, on
                # PostgreSQL the row lock, so a concurrent exchange waits here and then finds
                # the code used.
                consumed = await conn.execute(
                    _CONSUME,
                    {"code_id": code_id, "at_ms": consumed_at_ms, "refresh_id": refresh.id},
                )
                if consumed.rowcount != 1:
                    await conn.rollback()
                    return False
                await conn.execute(tokens.insert(), [token_row(refresh), token_row(access)])
            return True

        return await retrying(_transaction)

    async def revoke_family(self, family_id: UUID, now: int) -> int:
        return await revoke_family(self._engine, family_id, now)
