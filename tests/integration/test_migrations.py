"""Alembic migrations on both backends: they build exactly the tables the code declares."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

from ehealth_auth.storage import migrate
from ehealth_auth.storage.engine import create_engine
from ehealth_auth.storage.tables import metadata
from tests.conftest import BACKENDS, new_database_url


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
