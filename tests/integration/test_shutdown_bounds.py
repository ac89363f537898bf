"""A serving process's shutdown has a bound on PostgreSQL: the verify cache's feed stops at any
point of its heartbeat, and neither a feed that will not stop nor a connection still in use
holds the process up past its limit."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable, Iterator

import asyncpg  # type: ignore[import-untyped]
import pytest
from sqlalchemy.engine import make_url

from ehealth_auth.storage import driver as driver_module
from ehealth_auth.storage.driver import create_driver
from ehealth_auth.storage.verify_cache import VerifyResultCache
from ehealth_auth.storage.verify_listener import MAX_LAG, VerifyInvalidationListener
from tests.conftest import (
    create_pg_database,
    drop_pg_database,
    pg_admin_value,
    until_no_pg_connections,
)

FEED_LOGGER = "ehealth_auth.storage.verify_listener"


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    url = create_pg_database()
    yield url
    drop_pg_database(url)


def _dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def _until(condition: Callable[[], bool], within: float) -> None:
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {within} s")
        await asyncio.sleep(0.005)


async def test_feed_stops_at_once_at_any_point_of_its_heartbeat(
    pg_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    # Fast heartbeats put many stops in the middle of one: a stop that lands as a heartbeat's
    # answer arrives must still end the feed, not leave it running.
    rng = random.Random(13)
    with caplog.at_level(logging.WARNING, logger=FEED_LOGGER):
        for _ in range(40):
            cache = VerifyResultCache(10, 60, MAX_LAG)
            listener = VerifyInvalidationListener(_dsn(pg_url), cache, heartbeat=0.002)
            listener.start()
            await _until(lambda: cache.ticket() is not None, 10)  # noqa: B023
            await asyncio.sleep(rng.uniform(0, 0.01))
            started = time.monotonic()
            await listener.stop()
            assert time.monotonic() - started < 1
            assert cache.ticket() is None
    assert [record.getMessage() for record in caplog.records] == []
    await until_no_pg_connections(pg_url)


class _StubbornFeed(VerifyInvalidationListener):
    """A feed that ignores cancellation, as one whose cancellation was lost would."""

    released = False
    running: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        self.running = asyncio.current_task()
        while not self.released:
            try:
                await asyncio.sleep(0.01)
            except asyncio.CancelledError:
                continue


async def test_a_feed_that_will_not_stop_holds_the_shutdown_only_up_to_its_limit(
    pg_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    cache = VerifyResultCache(10, 60, MAX_LAG)
    feed = _StubbornFeed(_dsn(pg_url), cache, stop_limit=0.3)
    feed.start()
    await asyncio.sleep(0.05)

    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger=FEED_LOGGER):
        await feed.stop()
    waited = time.monotonic() - started

    assert 0.3 <= waited < 2
    assert [record.getMessage() for record in caplog.records] == [
        "verify cache feed did not stop within 0.3 s; leaving it"
    ]
    assert cache.ticket() is None
    assert feed.running is not None
    assert not feed.running.done()
    feed.released = True
    await feed.running


async def test_a_connection_still_in_use_holds_the_pool_close_only_up_to_its_limit(
    pg_url: str, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(driver_module, "CLOSE_LIMIT", 0.3)
    driver = create_driver(pg_url, pool_size=2)
    holding = asyncio.Event()

    async def hold() -> None:
        async with driver.transaction():
            holding.set()
            await asyncio.sleep(3600)

    holder = asyncio.create_task(hold())
    await holding.wait()
    count = "SELECT count(*) FROM pg_stat_activity WHERE datname = $1"
    assert await pg_admin_value(count, make_url(pg_url).database) == 1  # opened on demand

    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="ehealth_auth.storage.driver"):
        await driver.close()
    waited = time.monotonic() - started

    assert 0.3 <= waited < 2
    assert [record.getMessage() for record in caplog.records] == [
        "connections still in use after 0.3 s at shutdown; cutting them"
    ]
    await until_no_pg_connections(pg_url)
    holder.cancel()
    with pytest.raises((asyncio.CancelledError, asyncpg.exceptions.InterfaceError)):
        await holder


async def test_an_idle_pool_closes_without_waiting(pg_url: str) -> None:
    driver = create_driver(pg_url, pool_size=2)
    async with driver.transaction():
        pass
    started = time.monotonic()
    await driver.close()
    assert time.monotonic() - started < driver_module.CLOSE_LIMIT
    await until_no_pg_connections(pg_url)
    await driver.close()  # a second close is harmless
