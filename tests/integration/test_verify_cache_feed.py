"""The verify cache's feed on a real PostgreSQL: every change that can turn a verified token's
answer reaches the cache through the triggers, a lost feed leaves no stale answer, and the memory
bound holds. (SQLite has no cache: see test_verify_cache_is_off_on_sqlite.)"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg  # type: ignore[import-untyped]
import pytest
from pydantic import SecretStr
from sqlalchemy.engine import make_url

from ehealth_auth.protocol.errors import ServiceError
from ehealth_auth.protocol.model import TokenName
from ehealth_auth.settings import Settings
from ehealth_auth.storage.verify_cache import VerifyResultCache
from ehealth_auth.storage.verify_listener import (
    APPLICATION_NAME,
    CHANNEL,
    MAX_LAG,
    VerifyInvalidationListener,
)
from ehealth_auth.wiring import Services, build_services
from tests.support import CHEAP_PASSWORD_HASHING, TEST_SECRET_KEY, World, clear_tables, seed_world

BOUND = 1.0  # seconds within which every worker must see a change


@pytest.fixture(scope="module")
def pg_url(module_pg_url: str) -> str:
    return module_pg_url


def _settings(url: str, **overrides: Any) -> Settings:
    return Settings(
        database_url=url,
        secret_key=SecretStr(TEST_SECRET_KEY),
        **{**CHEAP_PASSWORD_HASHING, **overrides},
    )


async def _until(condition: Callable[[], bool], within: float) -> float:
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > within:
            raise AssertionError(f"not within {within} s")
        await asyncio.sleep(0.01)
    return time.monotonic() - started


def _cache(services: Services) -> VerifyResultCache:
    assert services.verify_cache is not None
    return services.verify_cache


@pytest.fixture
async def live(pg_url: str) -> AsyncIterator[Services]:
    """Services with the cache's feed listening, as in a serving worker."""
    services = build_services(_settings(pg_url, verify_cache_max_entries=3))
    await clear_tables(services.engine)
    services.start()
    await _until(lambda: _cache(services).ticket() is not None, 10)
    yield services
    await services.close()


@pytest.fixture
async def sql(pg_url: str) -> AsyncIterator[asyncpg.Connection]:
    connection = await asyncpg.connect(pg_url)
    yield connection
    await connection.close()


async def _access(services: Services, world: World) -> tuple[str, str]:
    token = await services.admin.create_token(
        TokenName.ACCESS_TOKEN, world.user_id, world.client_id
    )
    return token.value, str(token.id)


async def _verifies(services: Services, value: str) -> bool:
    try:
        await services.verifier.verify(value)
    except ServiceError:
        return False
    return True


async def _cached(services: Services, value: str) -> None:
    assert await _verifies(services, value)
    assert len(_cache(services)) >= 1


async def _silently(sql: asyncpg.Connection, statement: str, *args: Any) -> None:
    """A change that fires no trigger: what the cache would miss without its feed."""
    async with sql.transaction():
        await sql.execute("SET LOCAL session_replication_role = replica")
        await sql.execute(statement, *args)


Change = Callable[[asyncpg.Connection, World, str], Awaitable[object]]

CHANGES: dict[str, Change] = {
    "token revoked": lambda sql, _w, token_id: sql.execute(
        "UPDATE tokens SET revoked_at = 1 WHERE id = $1::uuid", token_id
    ),
    "token expiry moved": lambda sql, _w, token_id: sql.execute(
        "UPDATE tokens SET expires_at = 1 WHERE id = $1::uuid", token_id
    ),
    "token deleted": lambda sql, _w, token_id: sql.execute(
        "DELETE FROM tokens WHERE id = $1::uuid", token_id
    ),
    "user blocked": lambda sql, world, _t: sql.execute(
        "UPDATE users SET is_blocked = true WHERE id = $1", world.user_id
    ),
    "client blocked": lambda sql, world, _t: sql.execute(
        "UPDATE clients SET is_blocked = true WHERE id = $1", world.client_id
    ),
    # Verify bounds a token's scope by its approval's and its client type's.
    "approval narrowed": lambda sql, world, _t: sql.execute(
        "UPDATE approvals SET scope = 'other:read' WHERE user_id = $1", world.user_id
    ),
    "client type ceiling narrowed": lambda sql, _w, _t: sql.execute(
        "UPDATE client_types SET scope = 'other:read'"
    ),
    "approval deleted": lambda sql, world, _t: sql.execute(
        "DELETE FROM approvals WHERE user_id = $1 AND client_id = $2",
        world.user_id,
        world.client_id,
    ),
}


@pytest.mark.parametrize("change", sorted(CHANGES))
async def test_change_made_by_any_code_path_reaches_the_cache_within_the_bound(
    live: Services, sql: asyncpg.Connection, change: str
) -> None:
    world = await seed_world(live.admin)
    value, token_id = await _access(live, world)
    await _cached(live, value)

    await CHANGES[change](sql, world, token_id)

    async def refused() -> bool:
        return not await _verifies(live, value)

    started = time.monotonic()
    while not await refused():
        assert time.monotonic() - started < BOUND
        await asyncio.sleep(0.01)


async def test_operator_actions_reach_the_cache(live: Services) -> None:
    world = await seed_world(live.admin)
    revoked, revoked_id = await _access(live, world)
    await _cached(live, revoked)

    await live.admin.revoke_token(UUID(revoked_id))
    await _until(lambda: len(_cache(live)) == 0, BOUND)
    assert not await _verifies(live, revoked)


async def test_cache_serves_what_it_holds_until_an_event_says_otherwise(
    live: Services, sql: asyncpg.Connection
) -> None:
    world = await seed_world(live.admin)
    value, token_id = await _access(live, world)
    await _cached(live, value)

    await _silently(sql, "UPDATE tokens SET revoked_at = 1 WHERE id = $1::uuid", token_id)
    await asyncio.sleep(0.3)
    assert await _verifies(live, value)  # the answer came from the cache, not the database

    await sql.execute("SELECT pg_notify($1, '*')", CHANNEL)
    await _until(lambda: len(_cache(live)) == 0, BOUND)
    assert not await _verifies(live, value)


async def test_changes_that_cannot_alter_a_verify_answer_keep_the_cache(
    live: Services, sql: asyncpg.Connection
) -> None:
    world = await seed_world(live.admin)
    value, _token_id = await _access(live, world)
    await _cached(live, value)
    ticket = _cache(live).ticket()

    # Refresh-path writes: a new access token, a refresh token retired; the purge of an access
    # token that expired long ago.
    await _access(live, world)
    expired = await live.admin.create_token(
        TokenName.ACCESS_TOKEN, world.user_id, world.client_id, int(time.time()) - 8 * 86_400
    )
    await sql.execute("DELETE FROM tokens WHERE id = $1", expired.id)
    await sql.execute("UPDATE tokens SET revoked_at = 1 WHERE id = $1", world.refresh_token_id)
    await sql.execute("SELECT pg_notify($1, 'sentinel')", CHANNEL + "_other")
    await asyncio.sleep(0.3)

    assert _cache(live).ticket() == ticket
    assert len(_cache(live)) == 1


async def test_lost_feed_leaves_no_stale_answer_and_comes_back(
    live: Services, sql: asyncpg.Connection
) -> None:
    world = await seed_world(live.admin)
    value, token_id = await _access(live, world)
    await _cached(live, value)

    killed = await sql.fetchval(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
        " WHERE application_name = $1 AND datname = current_database()",
        APPLICATION_NAME,
    )
    assert killed == 1
    # A change the feed cannot report (it is down, and this one fires no trigger anyway).
    await _silently(sql, "UPDATE tokens SET revoked_at = 1 WHERE id = $1::uuid", token_id)

    await _until(lambda: len(_cache(live)) == 0, BOUND)
    assert not await _verifies(live, value)

    await _until(lambda: _cache(live).ticket() is not None, 10)
    fresh, _ = await _access(live, world)
    await _cached(live, fresh)


async def test_unreadable_notification_flushes_the_cache(
    live: Services, sql: asyncpg.Connection
) -> None:
    world = await seed_world(live.admin)
    value, _token_id = await _access(live, world)
    await _cached(live, value)

    await sql.execute("SELECT pg_notify($1, 'not-hex')", CHANNEL)

    await _until(lambda: len(_cache(live)) == 0, BOUND)


async def test_cache_memory_stays_within_its_entry_bound(live: Services) -> None:
    world = await seed_world(live.admin)
    values = [(await _access(live, world))[0] for _ in range(6)]

    for value in values:
        assert await _verifies(live, value)
        assert len(_cache(live)) <= 3

    assert len(_cache(live)) == 3


def test_verify_cache_is_off_on_sqlite_and_when_disabled(tmp_path: Path, pg_url: str) -> None:
    sqlite = build_services(_settings(f"sqlite:///{tmp_path / 'x.db'}"))
    disabled = build_services(_settings(pg_url, verify_cache="off"))
    try:
        assert sqlite.verify_cache is None
        assert sqlite.verify_listener is None
        assert disabled.verify_cache is None
    finally:
        asyncio.run(sqlite.close())
        asyncio.run(disabled.close())


async def test_cache_stays_trusted_while_heartbeats_answer(live: Services) -> None:
    world = await seed_world(live.admin)
    value, _token_id = await _access(live, world)
    await _cached(live, value)

    await asyncio.sleep(3 * MAX_LAG)  # several heartbeats, longer than one proof lasts

    assert _cache(live).ticket() is not None
    assert len(_cache(live)) == 1


async def test_feed_that_cannot_connect_keeps_the_cache_off_and_logs_no_details(
    pg_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    cache = VerifyResultCache(10, 60, MAX_LAG)
    unreachable = make_url(pg_url).set(database="no_such_database_for_the_feed")
    dsn = unreachable.set(password="feed-password").render_as_string(hide_password=False)
    listener = VerifyInvalidationListener(dsn, cache, retry=0.05, max_retry=0.1)

    with caplog.at_level(logging.WARNING, logger="ehealth_auth.storage.verify_listener"):
        listener.start()
        await _until(lambda: len(caplog.records) >= 2, 10)
        await listener.stop()

    assert cache.ticket() is None
    text = "\n".join(record.getMessage() for record in caplog.records)
    assert "verify cache feed lost" in text
    assert "no_such_database_for_the_feed" not in text
    assert "feed-password" not in text
