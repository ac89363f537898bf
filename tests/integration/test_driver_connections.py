"""The PostgreSQL driver's connections, on a real server: at most `size` at once, opened on
demand; a connection whose statement did not finish cleanly is never lent again; a refused
transaction keeps its connection; a request that goes away while waiting loses no connection;
every connection uses generic plans. And `fetch`, on both drivers, returns every row."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import pytest
import sqlalchemy as sa

from ehealth_auth.storage.driver import AsyncpgDriver, Driver, create_driver
from tests.conftest import (
    create_pg_database,
    drop_pg_database,
    pg_admin_value,
    until_no_pg_connections,
)

BACKEND_PID = sa.select(sa.func.pg_backend_pid().label("pid"))


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    url = create_pg_database()
    yield url
    drop_pg_database(url)


async def _pid(driver: Driver, connection: Any = None) -> int:
    row = await (connection or driver).fetchrow(driver.compile(BACKEND_PID), {})
    assert row is not None
    pid: int = row["pid"]
    return pid


def _sql(driver: Driver, text: str) -> Any:
    return driver.compile(sa.text(text))


async def test_at_most_size_connections_are_lent_and_the_next_request_waits(pg_url: str) -> None:
    driver = create_driver(pg_url, pool_size=2)
    release = asyncio.Event()
    both_held = asyncio.Event()
    pids: list[int] = []

    async def hold() -> None:
        async with driver.transaction() as connection:
            pids.append(await _pid(driver, connection))
            if len(pids) == 2:
                both_held.set()
            await release.wait()

    holders = [asyncio.create_task(hold()) for _ in range(2)]
    await both_held.wait()
    assert driver.in_use() == 2
    waiting = asyncio.create_task(_pid(driver))
    await asyncio.sleep(0.1)
    assert not waiting.done()  # no third connection

    release.set()
    await asyncio.gather(*holders)
    assert await waiting in pids  # served on one of the two, once it came back
    assert driver.in_use() == 0
    await driver.close()


async def test_a_statement_the_server_refuses_keeps_its_connection(pg_url: str) -> None:
    driver = create_driver(pg_url, pool_size=1)
    first = await _pid(driver)
    assert await _pid(driver) == first  # kept between statements

    with pytest.raises(asyncpg.exceptions.DivisionByZeroError):
        await driver.fetchrow(_sql(driver, "SELECT 1 / 0 AS x"), {})

    assert await _pid(driver) == first
    await driver.close()


async def test_a_connection_the_server_ends_is_cut_and_the_next_one_is_new(pg_url: str) -> None:
    driver = create_driver(pg_url, pool_size=1)
    first = await _pid(driver)

    with pytest.raises(asyncpg.exceptions.ConnectionDoesNotExistError):
        await driver.fetchrow(_sql(driver, "SELECT pg_terminate_backend(pg_backend_pid())"), {})

    assert await _pid(driver) != first
    await driver.close()


async def test_a_cancelled_statement_cuts_its_connection(pg_url: str) -> None:
    driver = create_driver(pg_url, pool_size=1)
    first = await _pid(driver)
    slow = asyncio.create_task(driver.fetchrow(_sql(driver, "SELECT pg_sleep(30) AS x"), {}))
    await asyncio.sleep(0.2)
    slow.cancel()
    with pytest.raises(asyncio.CancelledError):
        await slow

    # The next statement neither waits for the cancelled one nor meets it on its connection.
    second = await asyncio.wait_for(_pid(driver), 5)
    assert second != first
    await driver.close()
    # The server side of the cut connection sleeps on until it notices: end it.
    await pg_admin_value("SELECT pg_terminate_backend($1)", first)


async def test_a_refused_transaction_is_rolled_back_and_keeps_its_connection(
    pg_url: str,
) -> None:
    driver = create_driver(pg_url, pool_size=1)
    await driver.fetchrow(_sql(driver, "CREATE TABLE IF NOT EXISTS lent_rows (n int)"), {})
    first = await _pid(driver)

    async def refused_insert() -> None:
        async with driver.transaction() as connection:
            await connection.execute(_sql(driver, "INSERT INTO lent_rows VALUES (1)"), {})
            raise LookupError("refused")  # as a grant's check would

    with pytest.raises(LookupError):
        await refused_insert()

    assert await _pid(driver) == first
    row = await driver.fetchrow(_sql(driver, "SELECT count(*) AS n FROM lent_rows"), {})
    assert row is not None
    assert row["n"] == 0
    await driver.close()


async def test_a_request_that_goes_away_while_waiting_loses_no_connection(
    pg_url: str,
) -> None:
    driver = create_driver(pg_url, pool_size=1)
    assert isinstance(driver, AsyncpgDriver)
    held = asyncio.Event()
    release = asyncio.Event()

    async def hold() -> None:
        async with driver.transaction():
            held.set()
            await release.wait()

    holder = asyncio.create_task(hold())
    await held.wait()
    waiter = asyncio.create_task(_pid(driver))
    await asyncio.sleep(0.05)
    # The connection comes back and is handed to the waiter, which is cancelled in the same
    # turn of the loop, before it could take it.
    release.set()
    await asyncio.sleep(0)
    waiter.cancel()
    await holder
    with pytest.raises(asyncio.CancelledError):
        await waiter

    assert await asyncio.wait_for(_pid(driver), 5) > 0
    assert driver.in_use() == 0
    await driver.close()


async def test_an_unreachable_database_fails_each_request_and_frees_its_place(
    pg_url: str,
) -> None:
    driver = create_driver("postgresql://root@127.0.0.1:1/nowhere", pool_size=1)
    for _ in range(3):  # every request tries, fails, and leaves the place free
        with pytest.raises(ConnectionRefusedError):
            await asyncio.wait_for(_pid(driver), 10)
    assert driver.in_use() == 0
    await driver.close()


async def test_a_closed_driver_refuses_new_statements(pg_url: str) -> None:
    driver = create_driver(pg_url, pool_size=1)
    await _pid(driver)
    await driver.close()
    with pytest.raises(asyncpg.exceptions.InterfaceError):
        await driver.fetchrow(driver.compile(BACKEND_PID), {})


async def test_a_connection_opened_as_the_driver_closes_is_not_kept(pg_url: str) -> None:
    driver = create_driver(pg_url, pool_size=1)
    opening = asyncio.create_task(_pid(driver))
    await asyncio.sleep(0)  # its connection is being opened
    await driver.close()

    with pytest.raises(asyncpg.exceptions.InterfaceError):
        await opening
    assert driver.in_use() == 0
    await until_no_pg_connections(pg_url)


async def test_every_connection_plans_its_statements_once_generically(pg_url: str) -> None:
    driver = create_driver(pg_url, pool_size=2)
    mode = driver.compile(sa.select(sa.func.current_setting("plan_cache_mode").label("mode")))
    try:
        async with driver.transaction() as first, driver.transaction() as second:
            for connection in (first, second):
                row = await connection.fetchrow(mode, {})
                assert row is not None
                assert row["mode"] == "force_generic_plan"
    finally:
        await driver.close()


@pytest.mark.parametrize("backend", ["postgresql", "sqlite"])
async def test_driver_fetch_returns_every_row_in_order(
    pg_url: str, backend: str, tmp_path: Path
) -> None:
    url = pg_url if backend == "postgresql" else f"sqlite:///{tmp_path / 'fetch.db'}"
    driver = create_driver(url, pool_size=1)
    numbers = driver.compile(
        sa.union_all(
            *(sa.select(sa.literal(number, sa.Integer).label("n")) for number in (1, 2, 3))
        )
    )
    try:
        assert [row["n"] for row in await driver.fetch(numbers, {})] == [1, 2, 3]
    finally:
        await driver.close()
