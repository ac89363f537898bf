"""Schema upgrades through Alembic, callable from the CLI and the tests, and the revision probe
that readiness checks use."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import AsyncEngine

from ehealth_auth.storage.engine import create_engine

_SCRIPT_LOCATION = Path(__file__).parent / "migrations"


@dataclass(frozen=True)
class Upgrade:
    """What `upgrade` did: the revision before (None: an empty database) and after."""

    from_revision: str | None
    to_revision: str | None

    @property
    def changed(self) -> bool:
        return self.from_revision != self.to_revision


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(_SCRIPT_LOCATION))
    # ConfigParser interpolation would eat a literal '%' in a password.
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


@cache
def head_revision() -> str | None:
    """The newest revision this code ships (read from the migration scripts, not the database)."""
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


async def current_revision(engine: AsyncEngine) -> str | None:
    """The database's revision; None for a database without the schema."""
    async with engine.connect() as conn:
        return await conn.run_sync(
            lambda sync: MigrationContext.configure(sync).get_current_revision()
        )


async def _revision_of(database_url: str) -> str | None:
    engine = create_engine(database_url, pool_size=1)
    try:
        return await current_revision(engine)
    finally:
        await engine.dispose()


def upgrade(database_url: str, revision: str = "head") -> Upgrade:
    before = asyncio.run(_revision_of(database_url))
    command.upgrade(alembic_config(database_url), revision)
    return Upgrade(before, asyncio.run(_revision_of(database_url)))


def downgrade(database_url: str, revision: str) -> None:
    command.downgrade(alembic_config(database_url), revision)
