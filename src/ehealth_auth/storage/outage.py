"""Telling "the database cannot be reached" from every other failure (CONTRACT §7: 503).

Errors arrive raw from the drivers on the hot paths and wrapped by SQLAlchemy elsewhere (the
driver's error is `orig`, or the cause of a translated one), so the checks walk the chain.

Two questions are asked of an error:

- `is_unavailable`: the connection was refused, lost or closed, or the server is starting or
  shutting down. The request is answered 503 with `Retry-After` after a small retry budget.
- `never_ran`: the statement surely did not take effect (the connection could not be made, was
  already closed, or the server aborted the statement). Only such errors are retried for
  writes; a connection lost in the middle of a write leaves its outcome unknown, so it is not.

`OutageMonitor` logs one line per outage episode: the first failure of an episode is logged,
the others are only counted, and the episode ends at the next successful database call.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Iterator

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy.exc import DBAPIError

from ehealth_auth.protocol.errors import ServiceUnavailableError

log = logging.getLogger("ehealth_auth.database")

# SQLSTATEs of a server that is going away or not there yet (class 08: connection exceptions).
_UNAVAILABLE_SQLSTATES = frozenset({"57P01", "57P02", "57P03", "57P04", "57P05", "53300"})
_NOT_RUN_SQLSTATES = frozenset({"57P01", "57P02", "57P03", "53300", "08001", "08004"})
_SQLITE_UNAVAILABLE = (
    "unable to open database file",
    "disk i/o error",
    "database is locked",
    "database is busy",
)

# Seconds a client is asked to wait (Retry-After) while the database is unavailable.
RETRY_AFTER = 1


class RolledBackError(Exception):
    """The connection of a transaction failed before COMMIT was sent: nothing was committed."""


def _chain(error: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        if isinstance(current, DBAPIError) and current.orig is not None:
            current = current.orig
        else:
            current = current.__cause__ or current.__context__


def _sqlstate(error: BaseException) -> str:
    return str(getattr(error, "sqlstate", None) or "")


def _one_unavailable(error: BaseException) -> bool:
    if isinstance(error, DBAPIError) and error.connection_invalidated:
        return True
    if isinstance(error, OSError | TimeoutError):
        return True
    if isinstance(error, asyncpg.InterfaceError | asyncpg.exceptions.InternalClientError):
        return True
    if isinstance(error, sqlite3.OperationalError):
        text = str(error).lower()
        return any(marker in text for marker in _SQLITE_UNAVAILABLE)
    state = _sqlstate(error)
    return state.startswith("08") or state in _UNAVAILABLE_SQLSTATES


def is_unavailable(error: BaseException) -> bool:
    """The database could not be reached or the connection was lost."""
    return any(_one_unavailable(link) for link in _chain(error))


def _one_never_ran(error: BaseException) -> bool:
    if isinstance(error, RolledBackError | TimeoutError):
        return True
    if isinstance(error, OSError):  # raised while connecting; a lost connection is reported
        return not isinstance(error, ConnectionResetError | BrokenPipeError)  # differently
    if isinstance(error, asyncpg.InterfaceError):
        return "connection is closed" in str(error)  # checked before anything is sent
    if isinstance(error, sqlite3.OperationalError):
        text = str(error).lower()
        return any(marker in text for marker in _SQLITE_UNAVAILABLE)
    return _sqlstate(error) in _NOT_RUN_SQLSTATES


def never_ran(error: BaseException) -> bool:
    """The failed statement surely had no effect, so running it again is safe."""
    return any(_one_never_ran(link) for link in _chain(error))


class OutageMonitor:
    """One log line per outage episode, however many requests it fails."""

    def __init__(self, on_failure: Callable[[], None] | None = None) -> None:
        self.down = False
        self.failures = 0
        self._on_failure = on_failure

    def failed(self, error: BaseException) -> ServiceUnavailableError:
        """Record a failure to reach the database; the error to answer with."""
        self.failures += 1
        if self._on_failure is not None:
            self._on_failure()
        if not self.down:
            self.down = True
            # The error's class only: driver messages can carry host names or statement text.
            log.warning(
                "database unavailable",
                extra={"error": type(error).__name__, "retry_after": RETRY_AFTER},
            )
        return ServiceUnavailableError(RETRY_AFTER)

    def recovered(self) -> None:
        self.down = False

    def translate(self, error: BaseException) -> ServiceUnavailableError | None:
        """The 503 for an error that says the database is unavailable, else None."""
        return self.failed(error) if is_unavailable(error) else None
