"""SQL implementation of the AdminQueries port: lookups and paged listings for operators.

Every column read here is safe to show: never a secret hash, a token hash or a password hash
(users' password hashes stay inside UserRecord, whose views leave them out).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ehealth_auth.protocol.paging import Page, PageRequest
from ehealth_auth.protocol.records import (
    ApprovalRecord,
    ClientDetails,
    ClientRecord,
    ClientTypeRecord,
    ConnectionInfo,
    TokenInfo,
    UserRecord,
)
from ehealth_auth.storage.tables import approvals, client_types, clients, connections, tokens, users

_CLIENT_COLUMNS = (
    clients.c.id,
    clients.c.name,
    clients.c.client_type_id,
    clients.c.is_blocked,
    client_types.c.name.label("type_name"),
    client_types.c.scope.label("type_scope"),
)
_CLIENTS = sa.select(*_CLIENT_COLUMNS).select_from(
    clients.join(client_types, client_types.c.id == clients.c.client_type_id)
)
CONNECTION_COLUMNS = (
    connections.c.id,
    connections.c.client_id,
    connections.c.redirect_uri,
    connections.c.consumer_id,
)
TOKEN_COLUMNS = (
    tokens.c.id,
    tokens.c.name,
    tokens.c.user_id,
    tokens.c.client_id,
    tokens.c.scope,
    tokens.c.issued_at,
    tokens.c.expires_at,
    tokens.c.revoked_at,
)


def connection_info(row: Any) -> ConnectionInfo:
    return ConnectionInfo(row.id, row.client_id, row.redirect_uri, row.consumer_id)


def token_info(row: Any) -> TokenInfo:
    return TokenInfo(
        id=row.id,
        name=row.name,
        user_id=row.user_id,
        client_id=row.client_id,
        scope=row.scope,
        issued_at=row.issued_at,
        expires_at=row.expires_at,
        revoked_at=row.revoked_at,
    )


async def _page_rows(
    conn: AsyncConnection, query: sa.Select[Any], page: PageRequest
) -> tuple[Sequence[Any], int]:
    """One page of `query` (which must be ordered) and the number of rows it has in all."""
    total: int = (
        await conn.execute(sa.select(sa.func.count()).select_from(query.order_by(None).subquery()))
    ).scalar_one()
    rows = (await conn.execute(query.limit(page.size).offset(page.offset))).all()
    return rows, total


async def _client_details(conn: AsyncConnection, rows: Sequence[Any]) -> list[ClientDetails]:
    """The clients of `rows` (from _CLIENTS) with their connections, read in one more query."""
    by_client: dict[UUID, list[ConnectionInfo]] = {row.id: [] for row in rows}
    if by_client:
        found = await conn.execute(
            sa.select(*CONNECTION_COLUMNS)
            .where(connections.c.client_id.in_(list(by_client)))
            .order_by(connections.c.inserted_at, connections.c.id)
        )
        for row in found:
            by_client[row.client_id].append(connection_info(row))
    return [
        ClientDetails(
            client=ClientRecord(row.id, row.name, row.client_type_id, row.is_blocked),
            client_type=ClientTypeRecord(row.client_type_id, row.type_name, row.type_scope),
            connections=tuple(by_client[row.id]),
        )
        for row in rows
    ]


class SqlAdminQueries:
    """The AdminQueries port: lookups and listings; the writes are SqlAdminStore's."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def client_type_by_name(self, name: str) -> ClientTypeRecord | None:
        return await self._client_type(client_types.c.name == name)

    async def client_type_of(self, client_id: UUID) -> ClientTypeRecord | None:
        return await self._client_type(
            client_types.c.id
            == sa.select(clients.c.client_type_id)
            .where(clients.c.id == client_id)
            .scalar_subquery()
        )

    async def _client_type(self, where: sa.ColumnElement[bool]) -> ClientTypeRecord | None:
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(
                    sa.select(client_types.c.id, client_types.c.name, client_types.c.scope).where(
                        where
                    )
                )
            ).first()
        return ClientTypeRecord(row.id, row.name, row.scope) if row else None

    async def client(self, client_id: UUID) -> ClientRecord | None:
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(
                    sa.select(
                        clients.c.id, clients.c.name, clients.c.client_type_id, clients.c.is_blocked
                    ).where(clients.c.id == client_id)
                )
            ).first()
        return ClientRecord(row.id, row.name, row.client_type_id, row.is_blocked) if row else None

    async def client_count(self) -> int:
        async with self._engine.connect() as conn:
            count: int = (
                await conn.execute(sa.select(sa.func.count()).select_from(clients))
            ).scalar_one()
        return count

    async def user(self, user_id: UUID) -> UserRecord | None:
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(
                    sa.select(
                        users.c.id, users.c.email, users.c.password_hash, users.c.is_blocked
                    ).where(users.c.id == user_id)
                )
            ).first()
        return UserRecord(row.id, row.email, row.password_hash, row.is_blocked) if row else None

    async def approval(self, user_id: UUID, client_id: UUID) -> ApprovalRecord | None:
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(
                    sa.select(approvals.c.id, approvals.c.scope).where(
                        approvals.c.user_id == user_id, approvals.c.client_id == client_id
                    )
                )
            ).first()
        return ApprovalRecord(row.id, user_id, client_id, row.scope) if row else None

    async def client_types_page(self, page: PageRequest) -> Page[ClientTypeRecord]:
        query = sa.select(client_types.c.id, client_types.c.name, client_types.c.scope).order_by(
            client_types.c.name, client_types.c.id
        )
        async with self._engine.connect() as conn:
            rows, total = await _page_rows(conn, query, page)
        entries = tuple(ClientTypeRecord(row.id, row.name, row.scope) for row in rows)
        return Page(entries, page, total)

    async def client_details(self, client_id: UUID) -> ClientDetails | None:
        async with self._engine.connect() as conn:
            rows = (await conn.execute(_CLIENTS.where(clients.c.id == client_id))).all()
            found = await _client_details(conn, rows)
        return found[0] if found else None

    async def clients_page(self, page: PageRequest) -> Page[ClientDetails]:
        async with self._engine.connect() as conn:
            rows, total = await _page_rows(
                conn, _CLIENTS.order_by(clients.c.name, clients.c.id), page
            )
            entries = await _client_details(conn, rows)
        return Page(tuple(entries), page, total)

    async def users_page(self, page: PageRequest) -> Page[UserRecord]:
        query = sa.select(
            users.c.id, users.c.email, users.c.password_hash, users.c.is_blocked
        ).order_by(users.c.email, users.c.id)
        async with self._engine.connect() as conn:
            rows, total = await _page_rows(conn, query, page)
        entries = tuple(
            UserRecord(row.id, row.email, row.password_hash, row.is_blocked) for row in rows
        )
        return Page(entries, page, total)

    async def approvals_page(
        self, page: PageRequest, user_id: UUID | None, client_id: UUID | None
    ) -> Page[ApprovalRecord]:
        query = sa.select(
            approvals.c.id, approvals.c.user_id, approvals.c.client_id, approvals.c.scope
        ).order_by(approvals.c.inserted_at, approvals.c.id)
        if user_id is not None:
            query = query.where(approvals.c.user_id == user_id)
        if client_id is not None:
            query = query.where(approvals.c.client_id == client_id)
        async with self._engine.connect() as conn:
            rows, total = await _page_rows(conn, query, page)
        entries = tuple(
            ApprovalRecord(row.id, row.user_id, row.client_id, row.scope) for row in rows
        )
        return Page(entries, page, total)

    async def tokens_page(
        self, page: PageRequest, user_id: UUID | None, client_id: UUID | None
    ) -> Page[TokenInfo]:
        query = sa.select(*TOKEN_COLUMNS).order_by(tokens.c.issued_at.desc(), tokens.c.id)
        if user_id is not None:
            query = query.where(tokens.c.user_id == user_id)
        if client_id is not None:
            query = query.where(tokens.c.client_id == client_id)
        async with self._engine.connect() as conn:
            rows, total = await _page_rows(conn, query, page)
        return Page(tuple(token_info(row) for row in rows), page, total)
