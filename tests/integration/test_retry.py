"""Transactions aborted for concurrency are run again; other failures are not."""

from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy.exc import OperationalError

from ehealth_auth.storage.retry import is_transient, retrying


class SerializationFailure(Exception):
    sqlstate = "40001"


class UniqueViolation(Exception):
    sqlstate = "23505"


@pytest.mark.parametrize(
    "error",
    [
        SerializationFailure(),
        sqlite3.OperationalError("database is locked"),
        OperationalError("UPDATE tokens", {}, sqlite3.OperationalError("database is locked")),
    ],
    ids=["postgresql-40001", "sqlite-locked", "wrapped-sqlite-locked"],
)
async def test_transient_aborts_are_retried_until_the_transaction_passes(
    error: Exception,
) -> None:
    assert is_transient(error)
    calls = 0

    async def transaction() -> str:
        nonlocal calls
        calls += 1
        if calls < 3:
            raise error
        return "committed"

    assert await retrying(transaction) == "committed"
    assert calls == 3


@pytest.mark.parametrize(
    "error",
    [UniqueViolation(), sqlite3.OperationalError("no such table: tokens"), ValueError("x")],
    ids=["unique-violation", "sqlite-no-table", "not-a-database-error"],
)
async def test_other_failures_are_raised_at_once(error: Exception) -> None:
    assert not is_transient(error)
    calls = 0

    async def transaction() -> None:
        nonlocal calls
        calls += 1
        raise error

    with pytest.raises(type(error)):
        await retrying(transaction)
    assert calls == 1


async def test_retries_stop_after_the_last_attempt() -> None:
    calls = 0

    async def transaction() -> None:
        nonlocal calls
        calls += 1
        raise SerializationFailure()

    with pytest.raises(SerializationFailure):
        await retrying(transaction, attempts=3)
    assert calls == 3
