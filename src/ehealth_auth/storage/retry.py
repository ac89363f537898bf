"""Retrying transactions that the database aborted for concurrency (CONTRACT §6: never a 5xx).

PostgreSQL reports serialization failures and deadlocks by SQLSTATE; SQLite reports a writer
that waited out its busy timeout as "database is locked".
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlalchemy.exc import DBAPIError

T = TypeVar("T")

_TRANSIENT_SQLSTATES = frozenset({"40001", "40P01"})
_TRANSIENT_SQLITE = ("database is locked", "database is busy")
ATTEMPTS = 8


def is_transient(error: DBAPIError) -> bool:
    sqlstate = getattr(error.orig, "sqlstate", None)
    if sqlstate in _TRANSIENT_SQLSTATES:
        return True
    return any(text in str(error.orig) for text in _TRANSIENT_SQLITE)


async def retrying(operation: Callable[[], Awaitable[T]], attempts: int = ATTEMPTS) -> T:
    """Run `operation` (one whole transaction) again after a transient abort, with backoff."""
    for attempt in range(1, attempts + 1):
        try:
            return await operation()
        except DBAPIError as error:
            if attempt == attempts or not is_transient(error):
                raise
            await asyncio.sleep(random.uniform(0, 0.002 * 2**attempt))  # noqa: S311
    raise AssertionError("unreachable")  # pragma: no cover
