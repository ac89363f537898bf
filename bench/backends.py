"""Throwaway databases for a run: one PostgreSQL database or one SQLite file per backend.

Each backend creates an empty database, resets it between measured targets (so that the service
and the floor start from the same seeded state) and removes it at the end.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import sqlite3
import tempfile
from contextlib import closing
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit, urlunsplit

import asyncpg  # type: ignore[import-untyped]

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
DATABASE_PREFIX = "ehealth_auth_bench_"
# What every run of a scenario adds (access tokens issued by a refresh, so with a parent);
# removed so that each target starts from the seed, whose own access token stays.
_DELETE_ISSUED = "DELETE FROM tokens WHERE name = 'access_token' AND parent_id IS NOT NULL"


class BackendError(RuntimeError):
    """A database could not be created, reset or dropped."""


class Backend(Protocol):
    name: str
    label: str

    def create(self) -> str:
        """Create an empty database; returns its URL in the service's format."""
        ...

    def reset(self) -> None:
        """Remove the tokens issued by earlier runs and compact the storage."""
        ...

    def drop(self) -> None:
        """Remove the database; safe to call when create failed or never ran."""
        ...


def _database_name() -> str:
    return f"{DATABASE_PREFIX}{os.getpid()}_{secrets.token_hex(4)}"


class PostgresBackend:
    name = "postgresql"
    label = "PostgreSQL"

    def __init__(self, admin_url: str) -> None:
        parts = urlsplit(admin_url)
        if parts.scheme not in ("postgresql", "postgres"):
            raise ValueError("BENCH_PG_ADMIN_URL must be a postgresql:// URL")
        if parts.hostname not in LOOPBACK_HOSTS:
            raise ValueError("BENCH_PG_ADMIN_URL must point at a loopback address")
        self._admin_url = admin_url
        self._database: str | None = None
        self._url: str | None = None

    @staticmethod
    def _execute(url: str, *statements: str) -> None:
        async def run() -> None:
            conn = await asyncpg.connect(url, timeout=10)
            try:
                for statement in statements:
                    await conn.execute(statement, timeout=120)
            finally:
                await conn.close()

        try:
            asyncio.run(run())
        except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
            raise BackendError(f"PostgreSQL: {exc}") from exc

    def create(self) -> str:
        name = _database_name()
        self._execute(self._admin_url, f'CREATE DATABASE "{name}"')
        self._database = name
        self._url = urlunsplit(urlsplit(self._admin_url)._replace(path=f"/{name}"))
        return self._url

    def reset(self) -> None:
        assert self._url is not None
        self._execute(self._url, _DELETE_ISSUED, "VACUUM (FULL, ANALYZE) tokens")

    def drop(self) -> None:
        if self._database is None:
            return
        self._execute(self._admin_url, f'DROP DATABASE IF EXISTS "{self._database}" WITH (FORCE)')
        self._database = None


class SqliteBackend:
    name = "sqlite"
    label = "SQLite"

    def __init__(self) -> None:
        self._directory: Path | None = None

    @property
    def _path(self) -> Path:
        assert self._directory is not None
        return self._directory / "ehealth-auth.db"

    def create(self) -> str:
        self._directory = Path(tempfile.mkdtemp(prefix=DATABASE_PREFIX))
        return f"sqlite:///{self._path}"

    def reset(self) -> None:
        try:
            with closing(sqlite3.connect(self._path, isolation_level=None, timeout=30)) as conn:
                conn.execute(_DELETE_ISSUED)
                conn.execute("VACUUM")
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.Error as exc:
            raise BackendError(f"SQLite: {exc}") from exc

    def drop(self) -> None:
        if self._directory is not None:
            shutil.rmtree(self._directory, ignore_errors=True)
            self._directory = None


def make_backend(name: str, pg_admin_url: str) -> Backend:
    if name == "postgresql":
        return PostgresBackend(pg_admin_url)
    if name == "sqlite":
        return SqliteBackend()
    raise ValueError(f"unknown backend {name!r}")
