"""Retrying transactions that the database aborted for concurrency (CONTRACT §6: never a 5xx).

PostgreSQL reports serialization failures and deadlocks by SQLSTATE; SQLite reports a writer
that waited out its busy timeout as "database is locked". Errors arrive raw from the drivers on
the hot paths, and wrapped by SQLAlchemy (with the driver's error as `orig`) elsewhere.
"""

from __future__ import annotations

import asyncio
import random
import sqlite3
from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlalchemy.exc import DBAPIError

T = TypeVar("T")

_TRANSIENT_SQLSTATES = frozenset({"40001", "40P01"})
_TRANSIENT_SQLITE = ("database is locked", "database is busy")
ATTEMPTS = 8


def is_transient(error: BaseException) -> bool:
    cause = error.orig if isinstance(error, DBAPIError) else error
    if getattr(cause, "sqlstate", None) in _TRANSIENT_SQLSTATES:
        return True
    if isinstance(error, DBAPIError | sqlite3.OperationalError):
        return any(text in str(cause) for text in _TRANSIENT_SQLITE)
    return False


async def retrying(operation: Callable[[], Awaitable[T]], attempts: int = ATTEMPTS) -> T:
    """Run `operation` (one whole transaction) again after a transient abort, with backoff."""
    for attempt in range(1, attempts + 1):
        try:
            return await operation()
        except Exception as error:
            if attempt == attempts or not is_transient(error):
                raise
            await asyncio.sleep(random.uniform(0, 0.002 * 2**attempt))  # noqa: S311
    raise AssertionError("unreachable")  # pragma: no cover
