"""Retrying transactions that the database aborted for concurrency (CONTRACT §6: never a 5xx),
or that could not reach the database (CONTRACT §7), within a small budget.

PostgreSQL reports serialization failures and deadlocks by SQLSTATE; SQLite reports a writer
that waited out its busy timeout as "database is locked". Errors arrive raw from the drivers on
the hot paths, and wrapped by SQLAlchemy (with the driver's error as `orig`) elsewhere.

A lost connection is retried only when the failed work surely had no effect (`never_ran`):
a transaction whose connection failed before COMMIT, or a connection that could not be made.
What is still failing after the budget reaches the web layer, which answers 503.
"""

from __future__ import annotations

import asyncio
import random
import sqlite3
from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlalchemy.exc import DBAPIError

from ehealth_auth.storage.outage import is_unavailable, never_ran

T = TypeVar("T")

_TRANSIENT_SQLSTATES = frozenset({"40001", "40P01"})
_TRANSIENT_SQLITE = ("database is locked", "database is busy")
ATTEMPTS = 8
# A restarting database refuses connections for about a second; two more tries, 50 ms and
# 250 ms later, ride out a dropped connection without holding a request for long.
UNAVAILABLE_BACKOFF = (0.05, 0.25)


def is_transient(error: BaseException) -> bool:
    cause = error.orig if isinstance(error, DBAPIError) else error
    if getattr(cause, "sqlstate", None) in _TRANSIENT_SQLSTATES:
        return True
    if isinstance(error, DBAPIError | sqlite3.OperationalError):
        return any(text in str(cause) for text in _TRANSIENT_SQLITE)
    return False


async def retrying(operation: Callable[[], Awaitable[T]], attempts: int = ATTEMPTS) -> T:
    """Run `operation` (one whole transaction) again after a transient abort, with backoff, or
    after a failure to reach the database that left nothing committed."""
    attempt = unavailable = 0
    while True:
        attempt += 1
        try:
            return await operation()
        except Exception as error:
            if attempt < attempts and is_transient(error):
                await asyncio.sleep(random.uniform(0, 0.002 * 2**attempt))  # noqa: S311
            elif (
                unavailable < len(UNAVAILABLE_BACKOFF)
                and not is_transient(error)
                and is_unavailable(error)
                and never_ran(error)
            ):
                await asyncio.sleep(UNAVAILABLE_BACKOFF[unavailable])
                unavailable += 1
            else:
                raise
