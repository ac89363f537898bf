"""SQL implementation of the login's ports: the client and user directories, the token writer,
the bearer lookup, and the per-account attempt counter shared by every server process."""

from __future__ import annotations

from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ehealth_auth.protocol.flow_ports import Bearer, ClientProfile, LoginUser
from ehealth_auth.protocol.model import NewToken
from ehealth_auth.storage.retry import retrying
from ehealth_auth.storage.rows import token_row
from ehealth_auth.storage.tables import (
    client_types,
    clients,
    connections,
    login_attempts,
    tokens,
    users,
)

_CLIENT_PROFILE = (
    sa.select(
        clients.c.id,
        clients.c.name,
        clients.c.is_blocked,
        client_types.c.scope,
        connections.c.id.label("connection_id"),
        connections.c.redirect_uri,
    )
    .select_from(
        clients.join(client_types, client_types.c.id == clients.c.client_type_id).outerjoin(
            connections, connections.c.client_id == clients.c.id
        )
    )
    .where(clients.c.id == sa.bindparam("client_id"))
    .order_by(connections.c.inserted_at, connections.c.id)
)

_BEARER = (
    sa.select(
        tokens.c.name,
        tokens.c.user_id,
        tokens.c.scope,
        tokens.c.expires_at,
        tokens.c.revoked_at,
        users.c.is_blocked.label("user_blocked"),
        clients.c.is_blocked.label("client_blocked"),
    )
    .select_from(
        tokens.join(users, users.c.id == tokens.c.user_id).join(
            clients, clients.c.id == tokens.c.client_id
        )
    )
    .where(tokens.c.value_hash == sa.bindparam("token_hash"))
)


async def clear_attempts(conn: AsyncConnection, account: bytes) -> bool:
    result = await conn.execute(
        login_attempts.delete().where(login_attempts.c.account_hash == account)
    )
    return result.rowcount > 0


def _count_attempt(dialect: str, account: bytes, now: int, window: int, limit: int) -> sa.Insert:
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    expired = login_attempts.c.window_started_at + window <= now
    statement = insert(login_attempts).values(
        account_hash=account, window_started_at=now, attempts=1, updated_at=now
    )
    # One statement decides, whatever the number of processes: a new window, another attempt
    # in the current one, or (the WHERE fails, nothing is returned) the account is locked.
    return statement.on_conflict_do_update(
        index_elements=[login_attempts.c.account_hash],
        set_={
            "window_started_at": sa.case((expired, now), else_=login_attempts.c.window_started_at),
            "attempts": sa.case((expired, 1), else_=login_attempts.c.attempts + 1),
            "updated_at": now,
        },
        where=sa.or_(expired, login_attempts.c.attempts < limit),
    ).returning(login_attempts.c.account_hash)


class SqlLoginStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def client_profile(self, client_id: UUID) -> ClientProfile | None:
        async with self._engine.connect() as conn:
            rows = (await conn.execute(_CLIENT_PROFILE, {"client_id": client_id})).all()
        if not rows:
            return None
        first = rows[0]
        return ClientProfile(
            id=first.id,
            name=first.name,
            is_blocked=first.is_blocked,
            type_scope=first.scope,
            redirect_uris=tuple(
                (row.connection_id, row.redirect_uri) for row in rows if row.connection_id
            ),
        )

    async def user_by_email(self, email: str) -> LoginUser | None:
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(
                    sa.select(users.c.id, users.c.password_hash, users.c.is_blocked).where(
                        sa.func.lower(users.c.email) == sa.func.lower(email)
                    )
                )
            ).first()
        return LoginUser(row.id, row.password_hash, row.is_blocked) if row else None

    async def add_token(self, token: NewToken) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(tokens.insert(), token_row(token))

    async def bearer(self, token_hash: bytes) -> Bearer | None:
        async with self._engine.connect() as conn:
            row = (await conn.execute(_BEARER, {"token_hash": token_hash})).first()
        if row is None:
            return None
        return Bearer(
            name=row.name,
            user_id=row.user_id,
            scope=row.scope,
            expires_at=row.expires_at,
            revoked=row.revoked_at is not None,
            user_blocked=row.user_blocked,
            client_blocked=row.client_blocked,
        )

    async def count_attempt(self, account: bytes, now: int, window: int, limit: int) -> int | None:
        async def _transaction() -> int | None:
            async with self._engine.begin() as conn:
                statement = _count_attempt(conn.dialect.name, account, now, window, limit)
                if (await conn.execute(statement)).first() is not None:
                    return None
                started: int = (
                    await conn.execute(
                        sa.select(login_attempts.c.window_started_at).where(
                            login_attempts.c.account_hash == account
                        )
                    )
                ).scalar_one()
            return max(1, started + window - now)

        return await retrying(_transaction)

    async def clear_attempts(self, account: bytes) -> bool:
        async with self._engine.begin() as conn:
            return await clear_attempts(conn, account)
