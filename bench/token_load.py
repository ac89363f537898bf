"""Millions of realistic token rows, written with COPY into the tokens table the migrations made.

The rows look like what the service leaves behind over forty days: token families spread over
many users and clients, each a refresh token (one in three after an authorization code, one in
four rotated once) with one to six access tokens; one family in twenty revoked whole (half of
them for reuse), a few access tokens revoked one by one (logout); most access tokens and codes
expired, as they are between purges. Values are stored as the service stores them, as their
HMAC-SHA-256 under the server key.

The last family is cut short where needed to make the count exact. Among them, spread evenly
through the load, are the probes: live refresh and access tokens of the
seeded user and client whose values are kept, which the measurement presents. Every id is a
UUIDv7 of its token's issue time, as the service makes them. The filler rows, never presented,
draw their values from a fast generator seeded from `secrets` (ten million rows must be made in
a few minutes on a small host); the probes' come from `secrets`.

For a large load the table's indexes and primary and unique constraints are dropped first and
rebuilt afterwards from the definitions PostgreSQL printed for them (pg_get_indexdef,
pg_get_constraintdef); the rebuilt set is compared with the original and the load fails if they
differ. The tokens table has no foreign keys to check (migration 0008); every row refers to a
user, client and connection created beforehand.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import random
import secrets
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import asyncpg  # type: ignore[import-untyped]
import orjson
import uuid_utils
import uuid_utils.compat
from asyncpg.pgproto.pgproto import UUID as WireUUID  # type: ignore[import-untyped]

from bench.bulk import ACCESS_TOKEN, ACCESS_TOKEN_TTL, DAY, REFRESH_TOKEN, REFRESH_TOKEN_TTL
from bench.seed import Seed

AUTHORIZATION_CODE = "authorization_code"
CODE_TTL = 600
HISTORY = 40 * DAY  # how far back families start
CHUNK = 50_000  # rows generated between progress reports
# Loads of more rows than this, and than the table holds, drop and rebuild the indexes.
REBUILD_FROM = 100_000
COPY_COLUMNS = (
    "id",
    "name",
    "value_hash",
    "issued_at",
    "expires_at",
    "revoked_at",
    "user_id",
    "client_id",
    "scope",
    "details",
    "family_id",
    "parent_id",
    "connection_id",
    "retired_at_ms",
    "successor_id",
    "successor_value_enc",
    "redirect_uri",
    "code_challenge",
    "revoked_reason",
)
Row = tuple[Any, ...]  # one tokens row in COPY_COLUMNS order


class LoadError(RuntimeError):
    pass


def _log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Population:
    """Who the filler tokens belong to: users, and clients with their connection."""

    user_ids: Sequence[UUID]
    clients: Sequence[tuple[UUID, UUID]]  # (client id, connection id)


@dataclass
class Probes:
    """Values of the live tokens of the seeded user and client written among the filler rows."""

    refresh_tokens: list[str]
    access_tokens: list[str]


class _Rows:
    """Generates filler families and probes; `now` bounds every issue time."""

    def __init__(self, key: bytes, seed: Seed, population: Population, now: int) -> None:
        self._seed = seed
        self._population = population
        self._now = now
        self._rng = random.Random(secrets.randbits(128))  # never presented
        # HMAC-SHA-256 (RFC 2104) with the key's two padded blocks hashed once.
        block = (hashlib.sha256(key).digest() if len(key) > 64 else key).ljust(64, b"\0")
        self._inner = hashlib.sha256(bytes(byte ^ 0x36 for byte in block))
        self._outer = hashlib.sha256(bytes(byte ^ 0x5C for byte in block))
        if self._digest(b"check") != hmac.digest(key, b"check", "sha256"):
            raise LoadError("the precomputed HMAC differs from the service's")
        self._details = {
            client_id: orjson.dumps({"client_id": str(client_id), "scope": seed.scope}).decode()
            for client_id, _ in population.clients
        }

    def _digest(self, value: bytes) -> bytes:
        inner = self._inner.copy()
        inner.update(value)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.digest()

    def _value_hash(self) -> tuple[str, bytes]:
        """A probe's value (as the service mints them) and its stored hash."""
        value = secrets.token_urlsafe(32)
        return value, self._digest(value.encode())

    def _filler_hash(self) -> bytes:
        """The stored hash of a filler value: 32 random bytes in the service's alphabet."""
        return self._digest(base64.urlsafe_b64encode(self._rng.randbytes(32)).rstrip(b"="))

    def _id(self, issued: int) -> Any:
        """A filler token's id as the service makes them: a UUIDv7 of its issue time."""
        nanoseconds = issued * 10**9 + self._rng.randrange(10**9)
        return WireUUID(uuid_utils.uuid7(nanoseconds=nanoseconds).bytes)

    def family(self) -> list[Row]:
        rng = self._rng
        user_id = rng.choice(self._population.user_ids)
        client_id, connection_id = rng.choice(self._population.clients)
        details = self._details[client_id]
        scope = self._seed.scope
        start = self._now - rng.randrange(2 * DAY, HISTORY)
        family_id = self._id(start)
        rows: list[list[Any]] = []

        def row(name: str, issued: int, ttl: int, parent: Any, token_id: Any) -> list[Any]:
            new = [
                token_id,
                name,
                self._filler_hash(),
                issued,
                issued + ttl,
                None,
                user_id,
                client_id,
                scope,
                details,
                family_id,
                parent,
                connection_id,
                None,
                None,
                None,
                None,
                None,
                None,
            ]
            rows.append(new)
            return new

        parent: Any = None
        refresh_id = family_id
        if rng.random() < 1 / 3:
            code = row(AUTHORIZATION_CODE, start, CODE_TTL, None, family_id)
            code[16] = "https://client.example.org/cb"
            code[17] = secrets.token_urlsafe(32)
            parent = family_id
            refresh_id = self._id(start + 5)
            code[13] = (start + 5) * 1000  # consumed
            code[14] = refresh_id
            start += 5
        refresh = row(REFRESH_TOKEN, start, REFRESH_TOKEN_TTL, parent, refresh_id)
        accesses = rng.randint(1, 6)
        rotate_after = rng.randrange(accesses) if rng.random() < 0.25 else None
        current = refresh
        for index in range(accesses):
            issued = start + index * ACCESS_TOKEN_TTL
            if rotate_after is not None and index == rotate_after + 1:
                successor_id = self._id(issued)
                successor = row(REFRESH_TOKEN, issued, REFRESH_TOKEN_TTL, current[0], successor_id)
                current[13] = issued * 1000
                current[14] = successor[0]
                current = successor
            access = row(ACCESS_TOKEN, issued, ACCESS_TOKEN_TTL, current[0], self._id(issued))
            if rng.random() < 0.03:
                access[5] = issued + rng.randrange(ACCESS_TOKEN_TTL)  # logout
        if rng.random() < 0.05:
            revoked_at = start + rng.randrange(accesses * ACCESS_TOKEN_TTL)
            reason = "reuse" if rng.random() < 0.5 else None
            for each in rows:
                if each[5] is None:
                    each[5] = max(revoked_at, each[3])
                    each[18] = reason
        return [tuple(each) for each in rows]

    def probe(self, probes: Probes) -> list[Row]:
        """One live refresh token of the seeded user and client and one access token under it."""
        seed = self._seed
        user_id, client_id = UUID(seed.user_id), UUID(seed.client_id)
        connection_id = UUID(seed.connection_id)
        details = orjson.dumps({"client_id": seed.client_id, "scope": seed.scope}).decode()
        refresh_id = uuid_utils.compat.uuid7()
        refresh_value, refresh_hash = self._value_hash()
        access_value, access_hash = self._value_hash()
        now = self._now
        common = (user_id, client_id, seed.scope, details, refresh_id)
        tail = (None,) * 6
        probes.refresh_tokens.append(refresh_value)
        probes.access_tokens.append(access_value)
        refresh = (refresh_id, REFRESH_TOKEN, refresh_hash, now, now + REFRESH_TOKEN_TTL, None)
        access_id = uuid_utils.compat.uuid7()
        access = (access_id, ACCESS_TOKEN, access_hash, now, now + ACCESS_TOKEN_TTL, None)
        return [
            (*refresh, *common, None, connection_id, *tail),
            (*access, *common, refresh_id, connection_id, *tail),
        ]


def _records(
    rows: _Rows, count: int, probe_count: int, probes: Probes, started: float
) -> Iterator[Row]:
    """`count` rows, `probe_count` probe pairs among them at even intervals; logs progress."""
    every = max(count // max(probe_count, 1), 1)
    written = 0
    next_probe = every // 2
    next_report = CHUNK * 20
    probes_written = 0
    while written < count:
        if probes_written < probe_count and written >= next_probe:
            batch = rows.probe(probes)
            probes_written += 1
            next_probe += every
        else:
            batch = rows.family()
        yield from batch[: count - written]
        written += min(len(batch), count - written)
        if written >= next_report or written == count:
            elapsed = time.monotonic() - started
            rate = written / elapsed if elapsed else 0.0
            eta = (count - written) / rate if rate else 0.0
            _log(
                f"flat-cost: {written:,} / {count:,} rows copied, {elapsed:.0f} s, "
                f"{rate:,.0f} rows/s, about {eta:.0f} s left"
            )
            next_report += CHUNK * 20


@dataclass(frozen=True)
class LoadTimes:
    """Seconds spent: generating and copying, rebuilding indexes, vacuuming, checkpointing."""

    rows: int
    copy_s: float
    indexes_s: float
    vacuum_s: float
    checkpoint_s: float
    rebuilt_indexes: bool

    @property
    def total_s(self) -> float:
        return self.copy_s + self.indexes_s + self.vacuum_s + self.checkpoint_s


async def _definitions(conn: Any) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """The tokens table's constraints backed by indexes, and its other indexes, as SQL."""
    constraints = await conn.fetch(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint"
        " WHERE conrelid = 'tokens'::regclass AND contype IN ('p', 'u') ORDER BY conname"
    )
    indexes = await conn.fetch(
        "SELECT indexname, indexdef FROM pg_indexes"
        " WHERE schemaname = current_schema() AND tablename = 'tokens' ORDER BY indexname"
    )
    names = {row[0] for row in constraints}
    return (
        [(row[0], row[1]) for row in constraints],
        [(row[0], row[1]) for row in indexes if row[0] not in names],
    )


async def _all_indexes(conn: Any) -> list[tuple[str, str]]:
    rows = await conn.fetch(
        "SELECT indexname, indexdef FROM pg_indexes"
        " WHERE schemaname = current_schema() AND tablename = 'tokens' ORDER BY indexname"
    )
    return [(row[0], row[1]) for row in rows]


async def load(
    dsn: str,
    key: bytes,
    seed: Seed,
    population: Population,
    count: int,
    probe_count: int,
    rebuild_indexes: bool,
) -> tuple[Probes, LoadTimes]:
    """COPY `count` rows (with `probe_count` probe pairs among them) into the tokens table."""
    probes = Probes([], [])
    rows = _Rows(key, seed, population, int(time.time()))
    conn = await asyncpg.connect(dsn, timeout=10)
    try:
        await conn.execute("SET maintenance_work_mem = '1GB'")
        before = await _all_indexes(conn)
        constraints, indexes = await _definitions(conn)
        if rebuild_indexes:
            for name, _ in indexes:
                await conn.execute(f'DROP INDEX "{name}"')
            for name, _ in constraints:
                await conn.execute(f'ALTER TABLE tokens DROP CONSTRAINT "{name}"')
        started = time.monotonic()
        await conn.copy_records_to_table(
            "tokens",
            records=_records(rows, count, probe_count, probes, started),
            columns=COPY_COLUMNS,
            timeout=None,
        )
        copy_s = time.monotonic() - started
        started = time.monotonic()
        if rebuild_indexes:
            for name, definition in constraints:
                _log(f"flat-cost: rebuilding {name}")
                await conn.execute(f'ALTER TABLE tokens ADD CONSTRAINT "{name}" {definition}')
            for name, definition in indexes:
                _log(f"flat-cost: rebuilding {name}")
                await conn.execute(definition)
            after = await _all_indexes(conn)
            if after != before:
                raise LoadError(f"the rebuilt indexes differ: {after} != {before}")
        indexes_s = time.monotonic() - started
        started = time.monotonic()
        _log("flat-cost: VACUUM (ANALYZE) tokens")
        await conn.execute("VACUUM (ANALYZE) tokens", timeout=None)
        vacuum_s = time.monotonic() - started
        started = time.monotonic()
        await conn.execute("CHECKPOINT", timeout=None)
        checkpoint_s = time.monotonic() - started
    finally:
        await conn.close()
    times = LoadTimes(count, copy_s, indexes_s, vacuum_s, checkpoint_s, rebuild_indexes)
    return probes, times


async def populate(dsn: str, seed: Seed, users: int, clients: int) -> Population:
    """Add `users` users and `clients` clients with a connection each, copied from the seeded
    ones (same password hash, type and redirect URI), with ids, emails and secrets of their own."""
    conn = await asyncpg.connect(dsn, timeout=10)
    try:
        user = await conn.fetchrow("SELECT * FROM users WHERE id = $1", UUID(seed.user_id))
        client = await conn.fetchrow("SELECT * FROM clients WHERE id = $1", UUID(seed.client_id))
        connection = await conn.fetchrow(
            "SELECT * FROM connections WHERE id = $1", UUID(seed.connection_id)
        )
        if user is None or client is None or connection is None:
            raise LoadError("the seeded user, client or connection is missing")
        user_ids = [uuid.uuid4() for _ in range(users)]
        user_rows = [
            tuple({**dict(user), "id": user_id, "email": f"flat-{index}@example.org"}.values())
            for index, user_id in enumerate(user_ids)
        ]
        await conn.copy_records_to_table("users", records=user_rows, columns=list(user.keys()))
        pairs = [(uuid.uuid4(), uuid.uuid4()) for _ in range(clients)]
        client_rows = [
            tuple({**dict(client), "id": client_id, "name": f"flat-{index}"}.values())
            for index, (client_id, _) in enumerate(pairs)
        ]
        await conn.copy_records_to_table(
            "clients", records=client_rows, columns=list(client.keys())
        )
        connection_rows = [
            tuple(
                {
                    **dict(connection),
                    "id": connection_id,
                    "client_id": client_id,
                    "secret_hash": os.urandom(32),
                }.values()
            )
            for client_id, connection_id in pairs
        ]
        await conn.copy_records_to_table(
            "connections", records=connection_rows, columns=list(connection.keys())
        )
        await conn.execute("ANALYZE users; ANALYZE clients; ANALYZE connections")
    finally:
        await conn.close()
    return Population(user_ids, pairs)


async def sizes(dsn: str) -> tuple[int, int]:
    """The tokens table's size with its indexes, and the database's size."""
    conn = await asyncpg.connect(dsn, timeout=10)
    try:
        table = await conn.fetchval("SELECT pg_total_relation_size('tokens')")
        database = await conn.fetchval("SELECT pg_database_size(current_database())")
    finally:
        await conn.close()
    return int(table), int(database)


async def wal_counters(dsn: str) -> tuple[int, int]:
    """The server's write-ahead log so far (pg_stat_wal): bytes, and full-page images."""
    conn = await asyncpg.connect(dsn, timeout=10)
    try:
        row = await conn.fetchrow("SELECT wal_bytes, wal_fpi FROM pg_stat_wal")
    finally:
        await conn.close()
    return int(row["wal_bytes"]), int(row["wal_fpi"])


async def data_directory(dsn: str) -> str:
    """Where the server keeps its data (a loopback server's, so a local path), or `/` when the
    setting cannot be read."""
    conn = await asyncpg.connect(dsn, timeout=10)
    try:
        directory = await conn.fetchval("SHOW data_directory")
    except asyncpg.PostgresError:
        directory = "/"
    finally:
        await conn.close()
    return str(directory)


async def forget_run(dsn: str, since: int) -> None:
    """Delete the tokens a measurement issued (every loaded row was issued before `since`), then
    checkpoint: every measurement starts with no dirty pages and every page's next change logged
    whole (a full-page image), the worst case for a large table, the same in every round."""
    conn = await asyncpg.connect(dsn, timeout=10)
    try:
        await conn.execute("DELETE FROM tokens WHERE issued_at >= $1", since, timeout=None)
        await conn.execute("VACUUM (ANALYZE) tokens", timeout=None)
        await conn.execute("CHECKPOINT", timeout=None)
    finally:
        await conn.close()
