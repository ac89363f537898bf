"""Which failures mean "the database cannot be reached" (503), and which of those may be run
again inside the service because they surely had no effect."""

from __future__ import annotations

import sqlite3

import asyncpg  # type: ignore[import-untyped]
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from ehealth_auth.storage.driver import AsyncpgDriver
from ehealth_auth.storage.outage import OutageMonitor, RolledBackError, is_unavailable, never_ran
from ehealth_auth.storage.retry import retrying


def _rolled_back() -> RolledBackError:
    try:
        try:
            raise asyncpg.exceptions.ConnectionDoesNotExistError("closed in the middle")
        except Exception as lost:
            raise RolledBackError("connection lost before COMMIT") from lost
    except RolledBackError as error:
        return error


@pytest.mark.parametrize(
    ("error", "retry_is_safe"),
    [
        (ConnectionRefusedError(111, "refused"), True),
        (TimeoutError(), True),
        (asyncpg.exceptions.CannotConnectNowError("starting up"), True),
        (asyncpg.exceptions.AdminShutdownError("terminating connection"), True),
        (asyncpg.exceptions.TooManyConnectionsError("too many"), True),
        (asyncpg.exceptions.InterfaceError("connection is closed"), True),
        (asyncpg.exceptions.ConnectionDoesNotExistError("closed in the middle"), False),
        (ConnectionResetError(104, "reset"), False),
        (asyncpg.exceptions.InternalClientError("cannot switch to state 12"), False),
        (_rolled_back(), True),
        (sqlite3.OperationalError("unable to open database file"), True),
        (
            OperationalError("SELECT 1", {}, sqlite3.OperationalError("disk I/O error")),
            True,
        ),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, BaseException) else str(value),
)
def test_unreachable_database_errors_are_recognised(
    error: BaseException, retry_is_safe: bool
) -> None:
    assert is_unavailable(error)
    assert never_ran(error) is retry_is_safe


@pytest.mark.parametrize(
    "error",
    [
        ValueError("x"),
        sqlite3.OperationalError("no such table: tokens"),
        asyncpg.exceptions.UniqueViolationError("duplicate key"),
    ],
    ids=["not-a-database-error", "sqlite-no-table", "unique-violation"],
)
def test_other_errors_are_not_outages(error: BaseException) -> None:
    assert not is_unavailable(error)
    assert OutageMonitor().translate(error) is None


async def test_work_that_surely_had_no_effect_is_run_again_within_the_budget() -> None:
    calls = 0

    async def transaction() -> str:
        nonlocal calls
        calls += 1
        if calls < 3:
            raise _rolled_back()
        return "committed"

    assert await retrying(transaction) == "committed"
    assert calls == 3


async def test_the_budget_ends_with_the_error_and_an_unknown_outcome_is_not_repeated() -> None:
    calls = 0

    async def refused() -> None:
        nonlocal calls
        calls += 1
        raise ConnectionRefusedError(111, "refused")

    with pytest.raises(ConnectionRefusedError):
        await retrying(refused)
    assert calls == 3

    calls = 0

    async def lost_at_commit() -> None:
        nonlocal calls
        calls += 1
        raise asyncpg.exceptions.ConnectionDoesNotExistError("closed in the middle")

    with pytest.raises(asyncpg.exceptions.ConnectionDoesNotExistError):
        await retrying(lost_at_commit)
    assert calls == 1


def test_the_monitor_answers_503_and_logs_once_per_episode(
    caplog: pytest.LogCaptureFixture,
) -> None:
    monitor = OutageMonitor()
    with caplog.at_level("WARNING", logger="ehealth_auth.database"):
        answers = [monitor.translate(ConnectionRefusedError(111, "x")) for _ in range(3)]
        monitor.recovered()
        monitor.translate(ConnectionRefusedError(111, "x"))
    statuses = {(a.status, a.type) for a in answers if a is not None}
    assert statuses == {(503, "service_unavailable")}
    assert None not in answers
    assert answers[0] is not None
    assert answers[0].headers == {"Retry-After": "1"}
    assert [r.getMessage() for r in caplog.records] == ["database unavailable"] * 2
    assert monitor.failures == 4


class _ConnectionsLosingTheFirstStatement:
    """Stands for the driver's connections: the first statement's connection is lost
    mid-statement (its outcome unknown); later statements succeed."""

    def __init__(self) -> None:
        self.statements = 0
        self.given_back: list[bool] = []

    async def lend(self) -> _ConnectionsLosingTheFirstStatement:
        return self

    def give_back(self, _connection: object, clean: bool) -> None:
        self.given_back.append(clean)

    async def fetchrow(self, sql: str, *arguments: object) -> dict[str, int]:
        self.statements += 1
        if self.statements == 1:
            raise asyncpg.exceptions.ConnectionDoesNotExistError("closed in the middle")
        return {"one": 1}


@pytest.mark.parametrize(("writes", "statements"), [(False, 2), (True, 1)])
async def test_a_read_is_run_again_after_a_lost_connection_and_a_writing_read_is_not(
    writes: bool, statements: int
) -> None:
    # The one-statement refresh reads and inserts: run twice, it could store a token twice.
    driver = AsyncpgDriver(make_url("postgresql://127.0.0.1/unused"), 1, OutageMonitor())
    connections = _ConnectionsLosingTheFirstStatement()
    driver._connections = connections  # type: ignore[assignment]
    statement = driver.compile(sa.select(sa.literal(1).label("one")), writes=writes)

    if writes:
        with pytest.raises(asyncpg.exceptions.ConnectionDoesNotExistError):
            await driver.fetchrow(statement, {})
    else:
        assert await driver.fetchrow(statement, {}) == {"one": 1}
    assert connections.statements == statements
    # The lost connection is never lent again; the one that answered is.
    assert connections.given_back == [False, True][:statements]
