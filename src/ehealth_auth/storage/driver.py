"""Bare-driver execution for the hot paths (refresh, verify).

The statements are SQLAlchemy Core expressions, compiled once per dialect; they run directly on
asyncpg or aiosqlite connections. Per request this skips the engine's execution machinery
(contexts, events, the greenlet bridge, per-checkout isolation changes), which costs several
times the database work itself. Everything else (operator actions, purges, migrations) uses the
SQLAlchemy engine.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar, cast
from uuid import UUID

import aiosqlite
import asyncpg  # type: ignore[import-untyped]
import orjson
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql.asyncpg import PGDialect_asyncpg
from sqlalchemy.dialects.sqlite.aiosqlite import SQLiteDialect_aiosqlite
from sqlalchemy.engine import URL, Dialect
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.selectable import ReturnsRows

from ehealth_auth.storage.engine import CONNECT_TIMEOUT, SQLITE_PRAGMAS, async_url, is_sqlite
from ehealth_auth.storage.outage import OutageMonitor, RolledBackError, is_unavailable, never_ran
from ehealth_auth.storage.retry import UNAVAILABLE_BACKOFF

# Seconds a shutdown waits for the pool's connections to come back before cutting them.
CLOSE_LIMIT = 5.0

# Every statement the driver runs looks up or writes rows by key: one generic plan per statement
# and connection serves every call. Left to choose, PostgreSQL plans the batched refresh read
# anew on every call while its batches are small (a custom plan's estimate counts the items, the
# generic plan's cannot, so the custom one always looks cheaper), at about half a millisecond a
# plan, more than the statement itself.
SESSION_SETUP = "SET plan_cache_mode = force_generic_plan"

_log = logging.getLogger(__name__)

Row = Mapping[str, Any]
"""A result row addressed by column name (or label): asyncpg's Record, or a dict on SQLite."""
T = TypeVar("T")
Conversion = Callable[[Any], Any]


@dataclass(frozen=True)
class Compiled:
    """A statement's SQL for one dialect, with its parameters in positional order.

    The driver decides once here which values it must convert, from the SQLAlchemy types of the
    statement's binds and result columns: `binds` are (position, conversion) pairs applied to
    parameters, `uuid_columns` the result columns the backend hands over as text. Call sites
    pass and receive Python values (`uuid.UUID`, dicts for JSON).
    """

    sql: str
    names: tuple[str, ...]
    defaults: Mapping[str, Any]
    binds: tuple[tuple[int, Conversion], ...] = ()
    columns: tuple[str, ...] = ()
    uuid_columns: tuple[str, ...] = ()
    writes: bool = False  # a statement that returns rows and writes (PostgreSQL's WITH ... INSERT)

    def arguments(self, params: Mapping[str, Any]) -> list[Any]:
        values = [params[name] if name in params else self.defaults[name] for name in self.names]
        for position, convert in self.binds:
            value = values[position]
            if value is not None:
                values[position] = convert(value)
        return values

    def row(self, values: Sequence[Any]) -> Row:
        """A row of bare values (SQLite) as a mapping by column name, its UUIDs converted."""
        row = dict(zip(self.columns, values, strict=True))
        for name in self.uuid_columns:
            value = row[name]
            if value is not None:
                # The column holds 32 hex digits (SQLAlchemy's Uuid); `int=` skips the parsing
                # of `hex=`, which costs a fifth more on the refresh path's seven UUIDs.
                row[name] = UUID(int=int(value, 16))
        return row


class DriverConnection(Protocol):
    async def fetchrow(self, statement: Compiled, params: Mapping[str, Any]) -> Row | None: ...

    async def execute(self, statement: Compiled, params: Mapping[str, Any]) -> int:
        """Run a data-changing statement; returns the number of rows it touched."""
        ...


class Driver(DriverConnection, Protocol):
    """`fetchrow` and `execute` on the driver itself run one statement on a pooled connection in
    autocommit mode: it commits on its own. `writes_in_with` says whether a statement may write
    in a WITH clause and read in the same statement (PostgreSQL: yes; SQLite: no)."""

    writes_in_with: bool

    def compile(self, statement: ClauseElement, *, writes: bool = False) -> Compiled:
        """`writes`: the statement writes, even if it returns rows, so a lost connection does
        not run it again unless it surely never ran."""
        ...

    async def fetch(self, statement: Compiled, params: Mapping[str, Any]) -> list[Row]:
        """Every row of one statement, on a pooled connection in autocommit mode."""
        ...

    def transaction(self) -> AbstractAsyncContextManager[DriverConnection]:
        """A pooled connection inside one write transaction, committed on a clean exit."""
        ...

    async def close(self) -> None: ...

    def in_use(self) -> int:
        """How many pooled connections are checked out now (for metrics)."""
        ...


def _json_text(value: Any) -> str:
    # Both drivers take a json column's value as text; the engine's JSON type does the same.
    return orjson.dumps(value).decode()


def _uuid_hex(value: UUID) -> str:
    return value.hex  # SQLAlchemy's Uuid on SQLite: 32 hex digits


def _compile(
    statement: ClauseElement,
    dialect: Dialect,
    conversions: Mapping[type[Any], Conversion],
    *,
    uuid_as_text: bool,
    writes: bool = False,
) -> Compiled:
    """Compile `statement`; `conversions` maps a SQLAlchemy type to what its bind values become
    for this driver, and `uuid_as_text` says the driver returns Uuid columns as hex text."""
    compiled = cast(SQLCompiler, statement.compile(dialect=dialect))
    names = tuple(compiled.positiontup or ())
    binds = tuple(
        (position, convert)
        for position, name in enumerate(names)
        for kind, convert in conversions.items()
        if isinstance(compiled.binds[name].type, kind)
    )
    columns = statement.exported_columns if isinstance(statement, ReturnsRows) else None
    keys: tuple[str, ...] = ()
    uuids: tuple[str, ...] = ()
    if columns is not None and uuid_as_text:
        keys = tuple(columns.keys())
        uuids = tuple(key for key, column in columns.items() if isinstance(column.type, sa.Uuid))
    return Compiled(str(compiled), names, dict(compiled.params), binds, keys, uuids, writes)


def _row_count(status: str) -> int:
    """The row count of asyncpg's command tag, e.g. "UPDATE 3" or "INSERT 0 1"."""
    return int(status.rsplit(" ", 1)[-1])


async def _run_again(error: Exception, operation: Callable[[], Awaitable[T]], *, read: bool) -> T:
    """After `error`, run `operation` again within the retry budget when that is safe: a read
    after any lost connection, a write only when the failed attempt surely had no effect."""
    for delay in UNAVAILABLE_BACKOFF:
        if not is_unavailable(error) or not (read or never_ran(error)):
            break
        await asyncio.sleep(delay)
        try:
            return await operation()
        except Exception as again:
            error = again
    raise error


async def _roll_back(connection: Any, transaction: Any) -> None:
    if connection.is_closed():
        return  # the server rolls back a transaction whose connection is gone
    try:
        await transaction.rollback()
    except Exception:
        # A connection in an unknown state must never go back to the pool.
        connection.terminate()


class _AsyncpgConnection:
    __slots__ = ("_connection",)

    def __init__(self, connection: Any) -> None:
        self._connection = connection

    async def fetchrow(self, statement: Compiled, params: Mapping[str, Any]) -> Row | None:
        row: Row | None = await self._connection.fetchrow(
            statement.sql, *statement.arguments(params)
        )
        return row

    async def execute(self, statement: Compiled, params: Mapping[str, Any]) -> int:
        return _row_count(
            await self._connection.execute(statement.sql, *statement.arguments(params))
        )


async def _on_lent(connections: _Connections, call: Callable[[Any], Awaitable[T]]) -> T:
    """`call` on a lent connection, which goes back clean only when the call finished or the
    server merely refused its statement."""
    connection = await connections.lend()
    clean = False
    try:
        result = await call(connection)
        clean = True
    except asyncpg.PostgresError as error:
        # A statement the server refused (a constraint, a cancelled query) leaves its
        # connection ready for the next one, unless the error says the connection is going.
        clean = not is_unavailable(error)
        raise
    finally:
        connections.give_back(connection, clean)
    return result


class _Connections:
    """The driver's PostgreSQL connections, each lent to one statement or transaction at a time.

    What the hot paths need of a pool and no more: asyncpg's `Pool` spends 35 to 40 µs of CPU
    on every checkout (an asyncio queue, a shielded task for the release, a timeout), about a
    seventh of a refresh; here a checkout is a list pop and a return a list append. Up to `size`
    connections are opened on demand and kept. One that comes back from a statement that did
    not finish (a cancellation, a timeout, a lost connection), or inside a transaction, is cut,
    and its place is freed for a new one; a statement the server refused does not cost its
    connection.
    """

    def __init__(self, dsn: str, size: int) -> None:
        self._dsn = dsn
        self._size = size
        self._idle: list[Any] = []
        self._lent: set[Any] = set()
        self._opening = 0
        self._waiters: deque[asyncio.Future[Any]] = deque()
        self._all_back: asyncio.Event | None = None
        self._closed = False
        self._shut = False  # closed, and the connections of the moment closed too

    def in_use(self) -> int:
        return len(self._lent)

    async def lend(self) -> Any:
        while True:
            if self._closed:
                raise asyncpg.exceptions.InterfaceError("the driver is closed")
            if self._idle:
                connection = self._idle.pop()
                break
            if len(self._lent) + len(self._idle) + self._opening < self._size:
                connection = await self._open()
                break
            connection = await self._wait()
            if connection is not None:  # else a place was freed: look again
                break
        self._lent.add(connection)
        return connection

    def give_back(self, connection: Any, clean: bool) -> None:
        """`clean`: the connection's last statement or transaction finished as it should."""
        self._lent.discard(connection)
        if not clean or connection.is_closed() or connection.is_in_transaction():
            connection.terminate()
            self._hand_over(None)
        else:
            self._hand_over(connection)
        if self._all_back is not None and not self._lent:
            self._all_back.set()

    async def _open(self) -> Any:
        self._opening += 1
        try:
            connection = await asyncpg.connect(self._dsn, timeout=CONNECT_TIMEOUT)
            try:
                await connection.execute(SESSION_SETUP)
            except BaseException:
                connection.terminate()
                raise
        except BaseException:
            self._opening -= 1
            self._hand_over(None)  # the place is free again: a waiting request may try it
            raise
        self._opening -= 1
        if self._closed:  # closed while it was being opened
            connection.terminate()
            raise asyncpg.exceptions.InterfaceError("the driver is closed")
        return connection

    async def _wait(self) -> Any:
        waiter: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            return await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self._hand_over(waiter.result())  # handed over just as its request went away
            raise

    def _hand_over(self, connection: Any | None) -> None:
        """To the first request still waiting, else to the idle list (None: a freed place)."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(connection)
                return
        if connection is None:
            return
        if self._shut:  # back after `close` ended (it had cut it already)
            connection.terminate()
        else:
            self._idle.append(connection)  # closed by `close` once all are back

    async def close(self, limit: float) -> None:
        """Close every connection; those still lent get `limit` seconds to come back. Closing
        again does nothing."""
        if self._closed:
            return
        self._closed = True
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_exception(asyncpg.exceptions.InterfaceError("the driver is closed"))
        self._waiters.clear()
        if self._lent:
            self._all_back = asyncio.Event()
            try:
                async with asyncio.timeout(limit):
                    await self._all_back.wait()
            except TimeoutError:
                _log.warning("connections still in use after %g s at shutdown; cutting them", limit)
                for connection in self._lent:
                    connection.terminate()
                self._lent.clear()
        idle, self._idle = self._idle, []
        self._shut = True
        for connection in idle:
            try:
                await connection.close(timeout=limit)
            except Exception:
                connection.terminate()


# What the driver asks of a lent asyncpg connection, by the SQL and its arguments.
def _fetchrow(connection: Any, sql: str, arguments: list[Any]) -> Awaitable[Any]:
    return cast(Awaitable[Any], connection.fetchrow(sql, *arguments))


def _fetch(connection: Any, sql: str, arguments: list[Any]) -> Awaitable[Any]:
    return cast(Awaitable[Any], connection.fetch(sql, *arguments))


def _execute(connection: Any, sql: str, arguments: list[Any]) -> Awaitable[Any]:
    return cast(Awaitable[Any], connection.execute(sql, *arguments))


class AsyncpgDriver:
    writes_in_with = True

    def __init__(self, url: URL, pool_size: int, outage: OutageMonitor) -> None:
        dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
        self._connections = _Connections(dsn, pool_size)
        self._outage = outage
        self._dialect = PGDialect_asyncpg()  # type: ignore[no-untyped-call]

    def compile(self, statement: ClauseElement, *, writes: bool = False) -> Compiled:
        # asyncpg binds and returns uuid.UUID itself (its UUID subclasses it): rows stay Records.
        return _compile(
            statement, self._dialect, {sa.JSON: _json_text}, uuid_as_text=False, writes=writes
        )

    async def _lent(
        self,
        statement: Compiled,
        params: Mapping[str, Any],
        call: Callable[[Any, str, list[Any]], Awaitable[T]],
    ) -> T:
        arguments = statement.arguments(params)
        return await _on_lent(
            self._connections, lambda connection: call(connection, statement.sql, arguments)
        )

    async def _run(
        self,
        statement: Compiled,
        params: Mapping[str, Any],
        call: Callable[[Any, str, list[Any]], Awaitable[T]],
        *,
        read: bool,
    ) -> T:
        try:
            result = await self._lent(statement, params, call)
        except Exception as error:
            result = await _run_again(error, lambda: self._lent(statement, params, call), read=read)
        if self._outage.down:
            self._outage.recovered()
        return result

    async def fetchrow(self, statement: Compiled, params: Mapping[str, Any]) -> Row | None:
        row: Row | None = await self._run(statement, params, _fetchrow, read=not statement.writes)
        return row

    async def fetch(self, statement: Compiled, params: Mapping[str, Any]) -> list[Row]:
        rows: list[Row] = await self._run(statement, params, _fetch, read=not statement.writes)
        return rows

    async def execute(self, statement: Compiled, params: Mapping[str, Any]) -> int:
        return _row_count(await self._run(statement, params, _execute, read=False))

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[DriverConnection]:
        """COMMIT is sent only after the body ran; a connection lost before that is reported as
        `RolledBackError`, which callers may retry (a lost COMMIT's outcome is unknown)."""
        connections = self._connections
        connection = await connections.lend()
        clean = False
        try:
            transaction = connection.transaction()
            try:
                await transaction.start()
                yield _AsyncpgConnection(connection)
            except BaseException as error:
                await _roll_back(connection, transaction)
                # Rolled back, the connection serves again (a refused grant is no reason to
                # open a new one); `_roll_back` cuts it when the rollback fails.
                clean = True
                if isinstance(error, Exception) and is_unavailable(error):
                    raise RolledBackError("connection lost before COMMIT") from error
                raise
            await transaction.commit()
            clean = True
        finally:
            connections.give_back(connection, clean)
        if self._outage.down:
            self._outage.recovered()

    async def close(self) -> None:
        """Close the connections, waiting at most CLOSE_LIMIT seconds for those still in use
        (shutdown has already ended the requests); then those are cut."""
        await self._connections.close(CLOSE_LIMIT)

    def in_use(self) -> int:
        return self._connections.in_use()


class _SqliteConnection:
    __slots__ = ("_connection",)

    def __init__(self, connection: aiosqlite.Connection) -> None:
        self._connection = connection

    async def fetchrow(self, statement: Compiled, params: Mapping[str, Any]) -> Row | None:
        # execute_fetchall runs, fetches and closes in one hop to the connection's thread.
        rows = await self._connection.execute_fetchall(statement.sql, statement.arguments(params))
        for row in rows:
            return statement.row(row)
        return None

    async def execute(self, statement: Compiled, params: Mapping[str, Any]) -> int:
        cursor = await self._connection.execute(statement.sql, statement.arguments(params))
        # A data-changing statement has run to completion here; the cursor holds no lock.
        return cursor.rowcount


class SqliteDriver:
    """A fixed set of aiosqlite connections in autocommit mode; writes use BEGIN IMMEDIATE, so a
    writer waits for the lock up front (busy timeout) instead of failing on a stale snapshot."""

    writes_in_with = False

    def __init__(self, url: URL, pool_size: int) -> None:
        self._path = url.database or ":memory:"
        self._pool_size = pool_size
        self._idle: asyncio.Queue[aiosqlite.Connection] | None = None
        self._all: list[aiosqlite.Connection] = []
        self._lock = asyncio.Lock()
        self._dialect = SQLiteDialect_aiosqlite()

    def compile(self, statement: ClauseElement, *, writes: bool = False) -> Compiled:
        return _compile(
            statement,
            self._dialect,
            {sa.Uuid: _uuid_hex, sa.JSON: _json_text},
            uuid_as_text=True,
            writes=writes,
        )

    async def _open(self) -> aiosqlite.Connection:
        connection = await aiosqlite.connect(self._path, isolation_level=None)
        for pragma in SQLITE_PRAGMAS:
            await connection.execute(pragma)
        return connection

    async def _queue(self) -> asyncio.Queue[aiosqlite.Connection]:
        if self._idle is None:
            async with self._lock:
                if self._idle is None:
                    idle: asyncio.Queue[aiosqlite.Connection] = asyncio.Queue()
                    for _ in range(self._pool_size):
                        connection = await self._open()
                        self._all.append(connection)
                        idle.put_nowait(connection)
                    self._idle = idle
        return self._idle

    @asynccontextmanager
    async def _checkout(self) -> AsyncIterator[aiosqlite.Connection]:
        idle = await self._queue()
        connection = await idle.get()
        try:
            yield connection
        finally:
            idle.put_nowait(connection)

    async def fetchrow(self, statement: Compiled, params: Mapping[str, Any]) -> Row | None:
        async with self._checkout() as connection:
            return await _SqliteConnection(connection).fetchrow(statement, params)

    async def fetch(self, statement: Compiled, params: Mapping[str, Any]) -> list[Row]:
        async with self._checkout() as connection:
            rows = await connection.execute_fetchall(statement.sql, statement.arguments(params))
        return [statement.row(row) for row in rows]

    async def execute(self, statement: Compiled, params: Mapping[str, Any]) -> int:
        async with self._checkout() as connection:
            return await _SqliteConnection(connection).execute(statement, params)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[DriverConnection]:
        async with self._checkout() as connection:
            await connection.execute("BEGIN IMMEDIATE")
            try:
                yield _SqliteConnection(connection)
            except BaseException:
                await connection.execute("ROLLBACK")
                raise
            await connection.execute("COMMIT")

    def in_use(self) -> int:
        return 0 if self._idle is None else len(self._all) - self._idle.qsize()

    async def close(self) -> None:
        for connection in self._all:
            await connection.close()
        self._all.clear()
        self._idle = None


def create_driver(
    database_url: str, pool_size: int = 10, outage: OutageMonitor | None = None
) -> Driver:
    url = async_url(database_url)
    if is_sqlite(url):
        return SqliteDriver(url, pool_size)
    return AsyncpgDriver(url, pool_size, outage or OutageMonitor())
