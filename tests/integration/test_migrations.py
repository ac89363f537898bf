"""Alembic migrations on both backends: they build exactly the tables the code declares."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from pydantic import SecretStr
from sqlalchemy.engine import Connection

from ehealth_auth.protocol.model import TokenName
from ehealth_auth.settings import Settings
from ehealth_auth.storage import migrate
from ehealth_auth.storage.engine import create_engine
from ehealth_auth.storage.tables import metadata
from ehealth_auth.wiring import build_services
from tests.conftest import BACKENDS, new_database_url
from tests.fakes import FakeClock
from tests.support import CHEAP_PASSWORD_HASHING, TEST_SECRET_KEY, seed_world, snapshot


def _state(connection: Connection) -> tuple[str | None, list[object]]:
    context = MigrationContext.configure(connection)
    return context.get_current_revision(), compare_metadata(context, metadata)


async def _inspect(url: str) -> tuple[str | None, list[object]]:
    engine = create_engine(url, pool_size=1)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(_state)
    finally:
        await engine.dispose()


@pytest.mark.filterwarnings(
    "ignore:Skipped unsupported reflection of expression-based index:sqlalchemy.exc.SAWarning",
    "ignore:autogenerate skipping metadata-specified expression-based index:UserWarning",
)
@pytest.mark.parametrize("backend", BACKENDS)
def test_migrations_match_tables_and_round_trip(
    backend: str, tmp_path: Path, pg_database_factory: list[str]
) -> None:
    url = new_database_url(backend, tmp_path, pg_database_factory)
    head = ScriptDirectory.from_config(migrate.alembic_config(url)).get_current_head()

    migrate.upgrade(url)
    revision, diff = asyncio.run(_inspect(url))
    assert revision == head
    assert diff == []

    migrate.downgrade(url, "base")
    revision, _ = asyncio.run(_inspect(url))
    assert revision is None

    migrate.upgrade(url)
    revision, diff = asyncio.run(_inspect(url))
    assert (revision, diff) == (head, [])


async def _seed_and_snapshot(url: str) -> dict[str, list[tuple[object, ...]]]:
    """A client, user, approval and tokens (one revoked) stored; every row read back."""
    cheap: dict[str, Any] = dict(CHEAP_PASSWORD_HASHING)
    settings = Settings(database_url=url, secret_key=SecretStr(TEST_SECRET_KEY), **cheap)
    services = build_services(settings, FakeClock(1_800_000_000))
    try:
        world = await seed_world(services.admin)
        access = await services.admin.create_token(
            TokenName.ACCESS_TOKEN, world.user_id, world.client_id
        )
        await services.admin.revoke_token(access.id)
        return await snapshot(services.engine)
    finally:
        await services.close()


async def _snapshot(url: str) -> dict[str, list[tuple[object, ...]]]:
    engine = create_engine(url, pool_size=1)
    try:
        return await snapshot(engine)
    finally:
        await engine.dispose()


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_token_writes_migration_keeps_every_row_both_ways(
    backend: str, tmp_path: Path, pg_database_factory: list[str]
) -> None:
    """0008 rebuilds the tokens table on SQLite and drops its keys: nothing stored is lost."""
    url = new_database_url(backend, tmp_path, pg_database_factory)
    migrate.upgrade(url, "0007")
    stored = asyncio.run(_seed_and_snapshot(url))
    assert len(stored["tokens"]) == 2

    migrate.upgrade(url, "0008")
    assert asyncio.run(_snapshot(url)) == stored
    migrate.downgrade(url, "0007")  # the keys come back: every row still has its parents
    assert asyncio.run(_snapshot(url)) == stored
