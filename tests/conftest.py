"""Fixtures: every integration and acceptance test runs on SQLite and on a real PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy.engine import make_url

from ehealth_auth.settings import Settings
from ehealth_auth.storage import migrate
from ehealth_auth.wiring import Services, build_app, build_services
from tests.fakes import FakeClock
from tests.support import (
    CHEAP_PASSWORD_HASHING,
    TEST_SECRET_KEY,
    World,
    clear_tables,
    seed_world,
)

PG_ADMIN_URL = os.environ.get(
    "EHEALTH_AUTH_TEST_PG_URL", "postgresql://root@127.0.0.1:5432/postgres"
)
BACKENDS = ("sqlite", "postgresql")


async def _pg_execute(sql: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN_URL, timeout=10)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def pg_admin_value(sql: str, *arguments: object) -> Any:
    """One value of `sql`, run as the admin user (inside a running event loop)."""
    conn = await asyncpg.connect(PG_ADMIN_URL, timeout=10)
    try:
        return await conn.fetchval(sql, *arguments)
    finally:
        await conn.close()


async def until_no_pg_connections(url: str, within: float = 5.0) -> None:
    """Wait until no session is connected to the database of `url`; fail after `within` s."""
    database = make_url(url).database
    deadline = time.monotonic() + within
    count = "SELECT count(*) FROM pg_stat_activity WHERE datname = $1"
    while await pg_admin_value(count, database):
        if time.monotonic() > deadline:
            raise AssertionError(f"sessions still connected to {database}")
        await asyncio.sleep(0.05)


def create_pg_database(prefix: str = "ehealth_auth_test") -> str:
    """A new empty PostgreSQL database; its plain URL. Unreachable PostgreSQL fails the run."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    try:
        asyncio.run(_pg_execute(f'CREATE DATABASE "{name}"'))
    except (OSError, asyncpg.PostgresError) as exc:
        pytest.fail(f"PostgreSQL at {PG_ADMIN_URL} is required and unreachable: {exc}")
    return make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)


def drop_pg_database(url: str) -> None:
    name = make_url(url).database
    asyncio.run(_pg_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="module")
def module_pg_url() -> Iterator[str]:
    """A migrated PostgreSQL database of the test module's own, dropped after it."""
    url = create_pg_database()
    migrate.upgrade(url)
    yield url
    drop_pg_database(url)


@pytest.fixture(scope="session")
def pg_database_factory() -> Iterator[list[str]]:
    """Databases a test creates with create_pg_database are dropped at the end of the run."""
    created: list[str] = []
    yield created
    for url in created:
        drop_pg_database(url)


def new_database_url(backend: str, directory: Path, created: list[str]) -> str:
    if backend == "sqlite":
        return f"sqlite:///{directory / f'ehealth-{uuid.uuid4().hex[:8]}.db'}"
    url = create_pg_database()
    created.append(url)
    return url


@pytest.fixture(scope="session", params=BACKENDS)
def migrated_url(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    pg_database_factory: list[str],
) -> str:
    """One migrated database per backend for the whole run; tests empty it before use."""
    url = new_database_url(request.param, tmp_path_factory.mktemp("db"), pg_database_factory)
    migrate.upgrade(url)
    return url


@pytest.fixture
def clock() -> FakeClock:
    # Real time, ticking: the app's requests, one after another, read ordered milliseconds.
    return FakeClock(int(time.time()), tick_ms=1)


@pytest.fixture
def setting_overrides() -> dict[str, Any]:
    """Settings a test module changes, e.g. by parametrizing this fixture's name."""
    return {}


@pytest.fixture
def settings(migrated_url: str, setting_overrides: dict[str, Any]) -> Settings:
    return Settings(
        database_url=migrated_url,
        secret_key=SecretStr(TEST_SECRET_KEY),
        **{**CHEAP_PASSWORD_HASHING, **setting_overrides},
    )


@pytest.fixture
async def services(settings: Settings, clock: FakeClock) -> AsyncIterator[Services]:
    built = build_services(settings, clock)
    await clear_tables(built.engine)
    yield built
    await built.close()


@pytest.fixture
async def world(services: Services) -> World:
    return await seed_world(services.admin)


@pytest.fixture
async def http(settings: Settings, services: Services) -> AsyncIterator[httpx.AsyncClient]:
    app = build_app(settings, services)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client
