"""Test helpers: a seeded world, database snapshots."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from ehealth_auth.protocol.admin import AdminService
from ehealth_auth.protocol.model import TokenName
from ehealth_auth.storage.tables import metadata

SCOPE = "app:authorize legal_entity:read employee:read"
TEST_SECRET_KEY = "test-secret-key-0123456789abcdef"
# argon2id at its cheapest: the suite hashes passwords often, and their strength is not under test.
# Nor is the rate of sign-in hashes (1 a second by default), except where a test sets it.
CHEAP_PASSWORD_HASHING = {
    "password_hash_time_cost": 1,
    "password_hash_memory_kib": 8,
    "password_hash_parallelism": 1,
    "password_hash_rate": 0,
}


@dataclass(frozen=True)
class World:
    """One client with its secret, one user approved for it, and a live refresh token."""

    client_type: str
    client_id: UUID
    client_secret: str
    user_id: UUID
    user_email: str
    user_password: str
    refresh_token: str
    refresh_token_id: UUID
    refresh_expires_at: int

    def refresh_body(self, **overrides: Any) -> dict[str, Any]:
        token: dict[str, Any] = {
            "grant_type": "refresh_token",
            "client_id": str(self.client_id),
            "client_secret": self.client_secret,
            "refresh_token": self.refresh_token,
        }
        token.update(overrides)
        return {"token": {key: value for key, value in token.items() if value is not ...}}


async def seed_world(
    admin: AdminService, *, tag: str = "a", scope: str = SCOPE, client_type: str | None = None
) -> World:
    kind_name = client_type or f"MIS_{tag}"
    if client_type is None:
        await admin.create_client_type(kind_name, scope)
    new = await admin.create_client(f"Clinic {tag}", kind_name, "https://mis.example.org/cb")
    password = f"password-{tag}-123"
    user = await admin.create_user(f"user.{tag}@example.org", password)
    await admin.approve(user.id, new.client.id, scope)
    refresh = await admin.create_token(TokenName.REFRESH_TOKEN, user.id, new.client.id)
    return World(
        client_type=kind_name,
        client_id=new.client.id,
        client_secret=new.secret,
        user_id=user.id,
        user_email=user.email,
        user_password=password,
        refresh_token=refresh.value,
        refresh_token_id=refresh.id,
        refresh_expires_at=refresh.expires_at,
    )


async def snapshot(engine: AsyncEngine) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, in a stable order: to prove a request changed nothing.

    The throttle's failure counters are left out: counting a failed authentication is the one
    write a refused request makes (tests of throttling read them directly)."""
    tables: dict[str, list[tuple[Any, ...]]] = {}
    async with engine.connect() as conn:
        for table in metadata.sorted_tables:
            if table.name == "auth_failures":
                continue
            rows = (await conn.execute(sa.select(table))).all()
            tables[table.name] = sorted((tuple(row) for row in rows), key=repr)
    return tables


async def clear_tables(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        for table in reversed(metadata.sorted_tables):
            await conn.execute(table.delete())
