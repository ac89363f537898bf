"""Throwaway databases for a run: one PostgreSQL database or one SQLite file per backend.

Each backend creates an empty database, takes bulk token rows (bench/bulk.py), resets it between
measured targets (so that the service and the floor start from the same seeded state) and removes
it at the end.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import sqlite3
import tempfile
from collections.abc import Sequence
from contextlib import closing
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit, urlunsplit

import asyncpg  # type: ignore[import-untyped]

from bench.bulk import TOKEN_COLUMNS, TokenRow

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
DATABASE_PREFIX = "ehealth_auth_bench_"
# What a run changes, undone so that each target starts from the seed: every token a refresh
# issues (access token or successor) has a parent and no seeded token has one; a rotation
# retires the token it was given.
_RESTORE_SEED = (
    "DELETE FROM tokens WHERE parent_id IS NOT NULL",
    "UPDATE tokens SET retired_at_ms = NULL, successor_id = NULL, successor_value_enc = NULL"
    " WHERE retired_at_ms IS NOT NULL",
)
_DELETE_DEAD = "DELETE FROM tokens WHERE expires_at < {cutoff:d} OR revoked_at < {cutoff:d}"


class BackendError(RuntimeError):
    """A database could not be created, reset or dropped."""


class Backend(Protocol):
    name: str
    label: str

    def create(self) -> str:
        """Create an empty database; returns its URL in the service's format."""
        ...

    def reset(self) -> None:
        """Undo what earlier runs did to the tokens and compact the storage."""
        ...

    def insert_tokens(self, rows: Sequence[TokenRow]) -> None:
        """Add token rows in bulk, in one transaction."""
        ...

    def delete_dead(self, cutoff: int) -> None:
        """Delete the tokens expired or revoked before `cutoff` (Unix seconds), all at once."""
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
        self._execute(self._url, *_RESTORE_SEED, "VACUUM (FULL, ANALYZE) tokens")

    def insert_tokens(self, rows: Sequence[TokenRow]) -> None:
        assert self._url is not None
        url = self._url

        async def run() -> None:
            conn = await asyncpg.connect(url, timeout=10)
            try:
                await conn.copy_records_to_table(
                    "tokens", records=rows, columns=TOKEN_COLUMNS, timeout=300
                )
                await conn.execute("ANALYZE tokens", timeout=120)
            finally:
                await conn.close()

        try:
            asyncio.run(run())
        except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
            raise BackendError(f"PostgreSQL: {exc}") from exc

    def delete_dead(self, cutoff: int) -> None:
        assert self._url is not None
        self._execute(self._url, _DELETE_DEAD.format(cutoff=cutoff))

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

    def _connect(self) -> closing[sqlite3.Connection]:
        return closing(sqlite3.connect(self._path, isolation_level=None, timeout=30))

    def reset(self) -> None:
        try:
            with self._connect() as conn:
                for statement in _RESTORE_SEED:
                    conn.execute(statement)
                conn.execute("VACUUM")
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.Error as exc:
            raise BackendError(f"SQLite: {exc}") from exc

    def insert_tokens(self, rows: Sequence[TokenRow]) -> None:
        """UUIDs as 32 hex digits, as the service's SQLAlchemy Uuid type stores them."""
        columns = ", ".join(TOKEN_COLUMNS)
        marks = ", ".join("?" for _ in TOKEN_COLUMNS)
        try:
            with self._connect() as conn:
                conn.execute("BEGIN IMMEDIATE")
                conn.executemany(
                    f"INSERT INTO tokens ({columns}) VALUES ({marks})",  # noqa: S608
                    (
                        (
                            row.id.hex,
                            row.name,
                            row.value_hash,
                            row.issued_at,
                            row.expires_at,
                            row.user_id.hex,
                            row.client_id.hex,
                            row.scope,
                            row.details,
                            row.family_id.hex,
                            None if row.parent_id is None else row.parent_id.hex,
                            None if row.connection_id is None else row.connection_id.hex,
                        )
                        for row in rows
                    ),
                )
                conn.execute("COMMIT")
        except sqlite3.Error as exc:
            raise BackendError(f"SQLite: {exc}") from exc

    def delete_dead(self, cutoff: int) -> None:
        try:
            with self._connect() as conn:
                conn.execute(_DELETE_DEAD.format(cutoff=cutoff))
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
