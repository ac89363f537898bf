"""SQL implementation of the login's ports: the client and user directories, the token writer,
and the bearer lookup."""

from __future__ import annotations

from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from ehealth_auth.protocol.model import Bearer, NewToken, TokenName
from ehealth_auth.protocol.records import ClientProfile, LoginUser
from ehealth_auth.storage.rows import token_row
from ehealth_auth.storage.tables import (
    approvals,
    client_types,
    clients,
    connections,
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

    async def approved_scope(self, user_id: UUID, client_id: UUID) -> str | None:
        async with self._engine.connect() as conn:
            scope: str | None = (
                await conn.execute(
                    sa.select(approvals.c.scope).where(
                        approvals.c.user_id == user_id, approvals.c.client_id == client_id
                    )
                )
            ).scalar_one_or_none()
        return scope

    async def add_token(self, token: NewToken) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(tokens.insert(), token_row(token))

    async def revoke_access_token(self, token_hash: bytes, now: int) -> bool:
        async with self._engine.begin() as conn:
            result = await conn.execute(
                tokens.update()
                .where(
                    tokens.c.value_hash == token_hash,
                    tokens.c.name == TokenName.ACCESS_TOKEN.value,
                    tokens.c.revoked_at.is_(None),
                )
                .values(revoked_at=now)
            )
        return result.rowcount == 1

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
