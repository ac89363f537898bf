"""Database URLs and engines: plain `postgresql://` and `sqlite:///` URLs map to async drivers."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

_DRIVERS = {
    "postgresql": "postgresql+asyncpg",
    "postgres": "postgresql+asyncpg",
    "sqlite": "sqlite+aiosqlite",
}

SQLITE_BUSY_TIMEOUT_MS = 5_000
# Seconds to wait for a new PostgreSQL connection before the request is answered 503.
CONNECT_TIMEOUT = 5


class UnsupportedDatabaseError(ValueError):
    pass


def async_url(database_url: str) -> URL:
    """The SQLAlchemy URL with this service's async driver for the backend named."""
    url = make_url(database_url)
    backend = url.get_backend_name()
    if url.drivername in _DRIVERS.values():
        return url
    if backend not in _DRIVERS or url.drivername != backend:
        raise UnsupportedDatabaseError(
            f"unsupported database URL scheme {url.drivername!r}: use postgresql:// or sqlite:///"
        )
    return url.set(drivername=_DRIVERS[backend])


def is_sqlite(url: URL) -> bool:
    return url.get_backend_name() == "sqlite"


def create_engine(
    database_url: str, *, pool_size: int = 10, on_connect: Callable[[], None] | None = None
) -> AsyncEngine:
    """`on_connect` runs after each new connection: the database is reachable."""
    url = async_url(database_url)
    if is_sqlite(url):
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, pool_size=pool_size, max_overflow=0, hide_parameters=True)
        event.listen(engine.sync_engine, "connect", _configure_sqlite)
        return engine
    # Statement parameters hold digests of secrets: keep them out of exception texts and logs.
    # A fixed-size pool: overflow connections would be opened and closed under load.
    # Pre-ping replaces a connection the server dropped (a restart) before it is used; this
    # engine serves operator actions and sign-ins, not the hot paths, so the round trip is cheap.
    engine = create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=0,
        hide_parameters=True,
        pool_pre_ping=True,
        connect_args={"timeout": CONNECT_TIMEOUT},
    )
    if on_connect is not None:
        callback = on_connect
        event.listen(engine.sync_engine, "connect", lambda *_: callback())
    return engine


# WAL lets readers run beside the one writer; the busy timeout queues writers instead of
# failing them; foreign keys are off by default in SQLite.
SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}",
    "PRAGMA foreign_keys=ON",
    "PRAGMA synchronous=NORMAL",
)


def _configure_sqlite(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    for pragma in SQLITE_PRAGMAS:
        cursor.execute(pragma)
    cursor.close()


def display_url(database_url: str) -> str:
    """The database URL as logs may show it: no user, password or query parameters."""
    url = async_url(database_url)
    shown = URL.create(url.get_backend_name(), host=url.host, port=url.port, database=url.database)
    return shown.render_as_string(hide_password=True)
