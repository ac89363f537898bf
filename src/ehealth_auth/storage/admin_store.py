"""SQL implementation of the AdminCommands port (the writes of operator actions)."""

from __future__ import annotations

from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ehealth_auth.protocol.errors import UNKNOWN_TOKEN_OWNER, ConflictError, NotFoundError
from ehealth_auth.protocol.model import NewToken
from ehealth_auth.protocol.records import (
    ApprovalRecord,
    ClientRecord,
    ClientTypeRecord,
    ConnectionInfo,
    ConnectionRecord,
    TokenInfo,
    UserRecord,
)
from ehealth_auth.storage.admin_listings import (
    CONNECTION_COLUMNS,
    TOKEN_COLUMNS,
    connection_info,
    token_info,
)
from ehealth_auth.storage.rows import token_row
from ehealth_auth.storage.tables import (
    approvals,
    client_types,
    clients,
    connections,
    tokens,
    users,
)
from ehealth_auth.storage.throttle_store import clear_target


def _parents_exist(token: NewToken) -> sa.Select[tuple[bool]]:
    """Whether the token's user, client and connection (when it names one) all exist."""
    checks = [
        sa.exists().where(users.c.id == token.user_id),
        sa.exists().where(clients.c.id == token.client_id),
    ]
    if token.connection_id is not None:
        checks.append(sa.exists().where(connections.c.id == token.connection_id))
    return sa.select(sa.and_(*checks))


def _stamps(now: int) -> dict[str, int]:
    return {"inserted_at": now, "updated_at": now}


async def revoke_tokens(conn: AsyncConnection, now: int, *where: sa.ColumnElement[bool]) -> int:
    """Mark every live token matching `where` revoked; the shared step of all revocation events."""
    result = await conn.execute(
        tokens.update().where(tokens.c.revoked_at.is_(None), *where).values(revoked_at=now)
    )
    return result.rowcount


class SqlAdminStore:
    """The AdminCommands port: the writes of operator actions, each one transaction. The reads
    are SqlAdminQueries' (storage/admin_listings.py); wiring.py hands both to the service."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def add_client_type(self, record: ClientTypeRecord, now: int) -> None:
        try:
            async with self._engine.begin() as conn:
                await conn.execute(
                    client_types.insert().values(
                        id=record.id, name=record.name, scope=record.scope, **_stamps(now)
                    )
                )
        except IntegrityError as exc:
            raise ConflictError(f"Client type {record.name!r} already exists.") from exc

    async def add_client(
        self, client: ClientRecord, connection: ConnectionRecord, now: int
    ) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(
                clients.insert().values(
                    id=client.id,
                    name=client.name,
                    client_type_id=client.client_type_id,
                    is_blocked=client.is_blocked,
                    **_stamps(now),
                )
            )
            await conn.execute(
                connections.insert().values(
                    id=connection.id,
                    client_id=connection.client_id,
                    consumer_id=connection.consumer_id,
                    secret_hash=connection.secret_hash,
                    redirect_uri=connection.redirect_uri,
                    **_stamps(now),
                )
            )

    async def set_client_blocked(self, client_id: UUID, blocked: bool, now: int) -> bool:
        async with self._engine.begin() as conn:
            result = await conn.execute(
                clients.update()
                .where(clients.c.id == client_id)
                .values(is_blocked=blocked, updated_at=now)
            )
        return result.rowcount == 1

    async def revoke_client_tokens(self, client_id: UUID, now: int) -> int:
        async with self._engine.begin() as conn:
            return await revoke_tokens(conn, now, tokens.c.client_id == client_id)

    async def add_user(self, record: UserRecord, now: int) -> None:
        try:
            async with self._engine.begin() as conn:
                await conn.execute(
                    users.insert().values(
                        id=record.id,
                        email=record.email,
                        password_hash=record.password_hash,
                        is_blocked=record.is_blocked,
                        **_stamps(now),
                    )
                )
        except IntegrityError as exc:
            raise ConflictError("A user with this email already exists.") from exc

    async def set_password_hash(self, user_id: UUID, password_hash: str, now: int) -> bool:
        async with self._engine.begin() as conn:
            result = await conn.execute(
                users.update()
                .where(users.c.id == user_id)
                .values(password_hash=password_hash, updated_at=now)
            )
        return result.rowcount == 1

    async def clear_attempts(self, account: bytes) -> bool:
        async with self._engine.begin() as conn:
            return await clear_target(conn, account)

    async def block_user(self, user_id: UUID, now: int) -> bool:
        async with self._engine.begin() as conn:
            result = await conn.execute(
                users.update().where(users.c.id == user_id).values(is_blocked=True, updated_at=now)
            )
            if result.rowcount != 1:
                return False
            await revoke_tokens(conn, now, tokens.c.user_id == user_id)
        return True

    async def save_approval(self, record: ApprovalRecord, now: int) -> ApprovalRecord:
        async with self._engine.begin() as conn:
            updated = await conn.execute(
                approvals.update()
                .where(
                    approvals.c.user_id == record.user_id, approvals.c.client_id == record.client_id
                )
                .values(scope=record.scope, updated_at=now)
                .returning(approvals.c.id)
            )
            existing = updated.scalar_one_or_none()
            if existing is not None:
                return ApprovalRecord(existing, record.user_id, record.client_id, record.scope)
            await conn.execute(
                approvals.insert().values(
                    id=record.id,
                    user_id=record.user_id,
                    client_id=record.client_id,
                    scope=record.scope,
                    **_stamps(now),
                )
            )
        return record

    async def delete_approval(self, user_id: UUID, client_id: UUID, now: int) -> bool:
        async with self._engine.begin() as conn:
            result = await conn.execute(
                approvals.delete().where(
                    approvals.c.user_id == user_id, approvals.c.client_id == client_id
                )
            )
            if result.rowcount != 1:
                return False
            await revoke_tokens(
                conn, now, tokens.c.user_id == user_id, tokens.c.client_id == client_id
            )
        return True

    async def add_token(self, token: NewToken) -> None:
        """Store an operator's token; its user, client and connection (if any) must exist.

        The tokens table has no foreign keys (migration 0008): this is the one writer given ids
        it has not read itself, so it checks them, in the insert's transaction (none of these
        rows is ever deleted)."""
        async with self._engine.begin() as conn:
            if not await conn.scalar(_parents_exist(token)):
                raise NotFoundError(UNKNOWN_TOKEN_OWNER)
            await conn.execute(tokens.insert(), token_row(token))

    async def replace_connection_secret(
        self, client_id: UUID, connection_id: UUID, secret_hash: bytes, now: int
    ) -> ConnectionInfo | None:
        async with self._engine.begin() as conn:
            row = (
                await conn.execute(
                    connections.update()
                    .where(connections.c.id == connection_id, connections.c.client_id == client_id)
                    .values(secret_hash=secret_hash, updated_at=now)
                    .returning(*CONNECTION_COLUMNS)
                )
            ).first()
        return connection_info(row) if row else None

    async def set_connection_consumer(
        self, client_id: UUID, connection_id: UUID, consumer_id: UUID | None, now: int
    ) -> ConnectionInfo | None:
        async with self._engine.begin() as conn:
            row = (
                await conn.execute(
                    connections.update()
                    .where(connections.c.id == connection_id, connections.c.client_id == client_id)
                    .values(consumer_id=consumer_id, updated_at=now)
                    .returning(*CONNECTION_COLUMNS)
                )
            ).first()
        return connection_info(row) if row else None

    async def unblock_user(self, user_id: UUID, now: int) -> bool:
        async with self._engine.begin() as conn:
            result = await conn.execute(
                users.update().where(users.c.id == user_id).values(is_blocked=False, updated_at=now)
            )
        return result.rowcount == 1

    async def delete_approval_by_id(self, approval_id: UUID, now: int) -> bool:
        async with self._engine.begin() as conn:
            row = (
                await conn.execute(
                    approvals.delete()
                    .where(approvals.c.id == approval_id)
                    .returning(approvals.c.user_id, approvals.c.client_id)
                )
            ).first()
            if row is None:
                return False
            await revoke_tokens(
                conn, now, tokens.c.user_id == row.user_id, tokens.c.client_id == row.client_id
            )
        return True

    async def revoke_token(self, token_id: UUID, now: int) -> TokenInfo | None:
        async with self._engine.begin() as conn:
            row = (
                await conn.execute(
                    tokens.update()
                    .where(tokens.c.id == token_id)
                    .values(
                        revoked_at=sa.func.coalesce(
                            tokens.c.revoked_at, sa.cast(now, sa.BigInteger)
                        )
                    )
                    .returning(*TOKEN_COLUMNS)
                )
            ).first()
        return token_info(row) if row else None

    async def revoke_user_tokens(self, user_id: UUID, client_id: UUID | None, now: int) -> int:
        where = [tokens.c.user_id == user_id]
        if client_id is not None:
            where.append(tokens.c.client_id == client_id)
        async with self._engine.begin() as conn:
            return await revoke_tokens(conn, now, *where)
