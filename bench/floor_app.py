"""The floor: the service's per-request work as a bare ASGI app over the bare database driver.

No framework, no ORM: asyncpg on PostgreSQL, aiosqlite on SQLite. Each handler runs the SQL work
of the service for its endpoint the direct way, a statement per step, in autocommit mode except
for the rotation's writes (one transaction: asyncpg's on PostgreSQL, BEGIN IMMEDIATE ... COMMIT
on SQLite), and answers with a comparable JSON envelope. On PostgreSQL the service sends a
refresh's read and write as one statement (rotation off) and a rotation's writes as one
statement (rotation on); the floor keeps them apart, as the service's earlier design did.

Serve it with uvicorn's factory mode (`uvicorn bench.floor_app:create_app --factory`). It reads
the service's own settings (EHEALTH_AUTH_DATABASE_URL, EHEALTH_AUTH_SECRET_KEY,
EHEALTH_AUTH_ACCESS_TOKEN_TTL, EHEALTH_AUTH_REFRESH_TOKEN_TTL) so that both run against the same
seeded database, and
BENCH_FLOOR_HANDLER names the handler to serve (see HANDLERS).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import os
import secrets
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, MutableMapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol
from uuid import UUID

import aiosqlite
import asyncpg  # type: ignore[import-untyped]
import orjson

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Handler = Callable[[Scope, Receive, Send], Awaitable[None]]

POOL_SIZE = 10  # the service's pool_size
MAX_BODY_BYTES = 65_536  # the service's default max_body_bytes
SQLITE_BUSY_TIMEOUT_MS = 5_000
DEFAULT_ACCESS_TOKEN_TTL = 28_800
DEFAULT_REFRESH_TOKEN_TTL = 2_592_000
TOKEN_BYTES = 32
REFRESH_TOKEN = "refresh_token"
ACCESS_TOKEN = "access_token"


class RefreshContext(NamedTuple):
    """The row of the refresh SELECT; the token fields are None when no token matched."""

    connection_id: UUID
    client_blocked: bool
    token_id: UUID | None
    token_client_id: UUID | None
    token_user_id: UUID | None
    token_expires_at: int | None
    token_revoked: bool
    token_family_id: UUID | None
    token_retired_at_ms: int | None
    token_successor_id: UUID | None
    token_successor_value_enc: bytes | None
    user_blocked: bool
    approval_scope: str | None


class VerifyContext(NamedTuple):
    """The row of the verify SELECT."""

    token_id: UUID
    name: str
    expires_at: int
    revoked: bool
    user_id: UUID
    details: dict[str, Any]
    approval_exists: bool
    client_blocked: bool
    user_blocked: bool
    mis_client_id: UUID | None
    issued_at: int


class NewToken(NamedTuple):
    id: UUID
    name: str
    value_hash: bytes
    issued_at: int
    expires_at: int
    user_id: UUID
    client_id: UUID
    scope: str
    details: str
    family_id: UUID
    parent_id: UUID | None
    connection_id: UUID


class Session(Protocol):
    """One pooled connection, held for the length of a request."""

    async def load_refresh_context(
        self, client_id: UUID, secret_hash: bytes, token_hash: bytes
    ) -> RefreshContext | None: ...

    async def insert_token(self, token: NewToken) -> None: ...

    async def rotate(
        self, retired_id: UUID, retired_at_ms: int, successor: NewToken, access: NewToken
    ) -> bool:
        """In one transaction: retire the token, erase older successor values in its family,
        insert the successor and the access token. False, with nothing written, when the token
        was no longer live."""
        ...

    async def load_verify_context(self, value_hash: bytes) -> VerifyContext | None: ...


class Database(Protocol):
    async def open(self) -> None: ...

    async def close(self) -> None: ...

    def session(self) -> AbstractAsyncContextManager[Session]: ...


# The statement of the service's token store (_LOAD_REFRESH_CONTEXT), written out by hand.
_PG_LOAD_REFRESH_CONTEXT = """
SELECT connections.id, clients.is_blocked, tokens.id, tokens.client_id, tokens.user_id,
       tokens.expires_at, tokens.revoked_at, tokens.family_id, tokens.retired_at_ms,
       tokens.successor_id, tokens.successor_value_enc, users.is_blocked, approvals.scope,
       tokens.connection_id
FROM connections
JOIN clients ON clients.id = connections.client_id
LEFT OUTER JOIN tokens ON tokens.value_hash = $1 AND tokens.name = $2
LEFT OUTER JOIN users ON users.id = tokens.user_id
LEFT OUTER JOIN approvals
  ON approvals.user_id = tokens.user_id AND approvals.client_id = connections.client_id
WHERE connections.client_id = $3 AND connections.secret_hash = $4
LIMIT 1
"""

_PG_INSERT_TOKEN = """
INSERT INTO tokens (id, name, value_hash, issued_at, expires_at, revoked_at, user_id, client_id,
                    scope, details, family_id, parent_id, connection_id)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
"""

# The rotation's statements (the token store's _RETIRE and _ERASE_OLDER_SUCCESSORS; its insert
# names the same columns as _PG_INSERT_TOKEN). Grace is 0, so no successor value is stored.
_PG_RETIRE = """
UPDATE tokens SET retired_at_ms = $1, successor_id = $2, successor_value_enc = $3
WHERE tokens.id = $4 AND tokens.retired_at_ms IS NULL AND tokens.revoked_at IS NULL
"""

_PG_ERASE_OLDER_SUCCESSORS = """
UPDATE tokens SET successor_value_enc = $1
WHERE tokens.family_id = $2 AND tokens.successor_value_enc IS NOT NULL AND tokens.id != $3
"""

_SQLITE_LOAD_REFRESH_CONTEXT = """
SELECT connections.id, clients.is_blocked, tokens.id, tokens.client_id, tokens.user_id,
       tokens.expires_at, tokens.revoked_at, tokens.family_id, tokens.retired_at_ms,
       tokens.successor_id, tokens.successor_value_enc, users.is_blocked, approvals.scope,
       tokens.connection_id
FROM connections
JOIN clients ON clients.id = connections.client_id
LEFT OUTER JOIN tokens ON tokens.value_hash = ? AND tokens.name = ?
LEFT OUTER JOIN users ON users.id = tokens.user_id
LEFT OUTER JOIN approvals
  ON approvals.user_id = tokens.user_id AND approvals.client_id = connections.client_id
WHERE connections.client_id = ? AND connections.secret_hash = ?
LIMIT 1
"""

_SQLITE_INSERT_TOKEN = """
INSERT INTO tokens (id, name, value_hash, issued_at, expires_at, revoked_at, user_id, client_id,
                    scope, details, family_id, parent_id, connection_id)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
"""


_SQLITE_RETIRE = """
UPDATE tokens SET retired_at_ms = ?, successor_id = ?, successor_value_enc = ?
WHERE tokens.id = ? AND tokens.retired_at_ms IS NULL AND tokens.revoked_at IS NULL
"""

_SQLITE_ERASE_OLDER_SUCCESSORS = """
UPDATE tokens SET successor_value_enc = ?
WHERE tokens.family_id = ? AND tokens.successor_value_enc IS NOT NULL AND tokens.id != ?
"""


def _rowcount(status: str) -> int:
    """The row count of an asyncpg command tag, e.g. "UPDATE 1"."""
    return int(status.rsplit(" ", 1)[-1])


# The statement of the service's verify store (_LOAD_TOKEN), written out by hand.
_VERIFY_SELECT = """
SELECT tokens.id, tokens.name, tokens.expires_at, tokens.revoked_at, tokens.user_id,
       tokens.details, approvals.id, clients.is_blocked, users.is_blocked, connections.consumer_id,
       tokens.issued_at, tokens.scope, approvals.scope, client_types.scope
FROM tokens
LEFT OUTER JOIN clients ON clients.id = tokens.client_id
LEFT OUTER JOIN client_types ON client_types.id = clients.client_type_id
LEFT OUTER JOIN users ON users.id = tokens.user_id
LEFT OUTER JOIN approvals
  ON approvals.user_id = tokens.user_id AND approvals.client_id = tokens.client_id
LEFT OUTER JOIN connections ON connections.id = tokens.connection_id
"""
_PG_LOAD_VERIFY_CONTEXT = _VERIFY_SELECT + "WHERE tokens.value_hash = $1"
_SQLITE_LOAD_VERIFY_CONTEXT = _VERIFY_SELECT + "WHERE tokens.value_hash = ?"


class _PgSession:
    __slots__ = ("_conn",)

    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    async def load_refresh_context(
        self, client_id: UUID, secret_hash: bytes, token_hash: bytes
    ) -> RefreshContext | None:
        row = await self._conn.fetchrow(
            _PG_LOAD_REFRESH_CONTEXT, token_hash, REFRESH_TOKEN, client_id, secret_hash
        )
        if row is None:
            return None
        return RefreshContext(
            connection_id=row[0],
            client_blocked=row[1],
            token_id=row[2],
            token_client_id=row[3],
            token_user_id=row[4],
            token_expires_at=row[5],
            token_revoked=row[6] is not None,
            token_family_id=row[7],
            token_retired_at_ms=row[8],
            token_successor_id=row[9],
            token_successor_value_enc=row[10],
            user_blocked=bool(row[11]),
            approval_scope=row[12],
        )

    async def insert_token(self, token: NewToken) -> None:
        await self._conn.execute(
            _PG_INSERT_TOKEN,
            token.id,
            token.name,
            token.value_hash,
            token.issued_at,
            token.expires_at,
            None,
            token.user_id,
            token.client_id,
            token.scope,
            token.details,
            token.family_id,
            token.parent_id,
            token.connection_id,
        )

    async def rotate(
        self, retired_id: UUID, retired_at_ms: int, successor: NewToken, access: NewToken
    ) -> bool:
        async with self._conn.transaction():
            retired = await self._conn.execute(
                _PG_RETIRE, retired_at_ms, successor.id, None, retired_id
            )
            if _rowcount(retired) != 1:
                return False
            await self._conn.execute(
                _PG_ERASE_OLDER_SUCCESSORS, None, successor.family_id, retired_id
            )
            await self.insert_token(successor)
            await self.insert_token(access)
        return True

    async def load_verify_context(self, value_hash: bytes) -> VerifyContext | None:
        row = await self._conn.fetchrow(_PG_LOAD_VERIFY_CONTEXT, value_hash)
        if row is None:
            return None
        return VerifyContext(
            token_id=row[0],
            name=row[1],
            expires_at=row[2],
            revoked=row[3] is not None,
            user_id=row[4],
            details=orjson.loads(row[5]),  # asyncpg hands json columns over as text
            approval_exists=row[6] is not None,
            client_blocked=bool(row[7]),
            user_blocked=bool(row[8]),
            mis_client_id=row[9],
            issued_at=row[10],
        )


async def _keep_session_state(_conn: asyncpg.Connection) -> None:
    """Pool reset hook: the floor never changes session state, so nothing needs resetting."""


class PostgresDatabase:
    """An asyncpg pool; asyncpg prepares and caches each statement per connection."""

    def __init__(self, dsn: str, size: int = POOL_SIZE) -> None:
        self._dsn = dsn
        self._size = size
        self._pool: asyncpg.Pool | None = None

    async def open(self) -> None:
        self._pool = await asyncpg.create_pool(
            self._dsn, min_size=self._size, max_size=self._size, reset=_keep_session_state
        )

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()

    @asynccontextmanager
    async def session(self) -> AsyncIterator[Session]:
        assert self._pool is not None
        async with self._pool.acquire() as conn:
            yield _PgSession(conn)


def _uuid_or_none(value: str | None) -> UUID | None:
    return None if value is None else UUID(hex=value)


def _hex_or_none(value: UUID | None) -> str | None:
    return None if value is None else value.hex


class _SqliteSession:
    """SQLite stores UUIDs as 32-digit hex strings, booleans as integers, hashes as blobs."""

    __slots__ = ("_conn",)

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn

    async def load_refresh_context(
        self, client_id: UUID, secret_hash: bytes, token_hash: bytes
    ) -> RefreshContext | None:
        # execute_fetchall runs execute and fetch in one trip to the connection's thread.
        rows = await self._conn.execute_fetchall(
            _SQLITE_LOAD_REFRESH_CONTEXT, (token_hash, REFRESH_TOKEN, client_id.hex, secret_hash)
        )
        row = next(iter(rows), None)
        if row is None:
            return None
        return RefreshContext(
            connection_id=UUID(hex=row[0]),
            client_blocked=bool(row[1]),
            token_id=_uuid_or_none(row[2]),
            token_client_id=_uuid_or_none(row[3]),
            token_user_id=_uuid_or_none(row[4]),
            token_expires_at=row[5],
            token_revoked=row[6] is not None,
            token_family_id=_uuid_or_none(row[7]),
            token_retired_at_ms=row[8],
            token_successor_id=_uuid_or_none(row[9]),
            token_successor_value_enc=row[10],
            user_blocked=bool(row[11]),
            approval_scope=row[12],
        )

    async def insert_token(self, token: NewToken) -> None:
        await self._conn.execute_fetchall(
            _SQLITE_INSERT_TOKEN,
            (
                token.id.hex,
                token.name,
                token.value_hash,
                token.issued_at,
                token.expires_at,
                None,
                token.user_id.hex,
                token.client_id.hex,
                token.scope,
                token.details,
                token.family_id.hex,
                _hex_or_none(token.parent_id),
                token.connection_id.hex,
            ),
        )

    async def rotate(
        self, retired_id: UUID, retired_at_ms: int, successor: NewToken, access: NewToken
    ) -> bool:
        conn = self._conn
        # The connection is in autocommit mode; BEGIN IMMEDIATE takes the write lock up front.
        await conn.execute_fetchall("BEGIN IMMEDIATE")
        try:
            cursor = await conn.execute(
                _SQLITE_RETIRE, (retired_at_ms, successor.id.hex, None, retired_id.hex)
            )
            if cursor.rowcount != 1:
                await conn.execute_fetchall("COMMIT")  # nothing was written
                return False
            await conn.execute_fetchall(
                _SQLITE_ERASE_OLDER_SUCCESSORS, (None, successor.family_id.hex, retired_id.hex)
            )
            await self.insert_token(successor)
            await self.insert_token(access)
        except BaseException:
            await conn.execute_fetchall("ROLLBACK")
            raise
        await conn.execute_fetchall("COMMIT")
        return True

    async def load_verify_context(self, value_hash: bytes) -> VerifyContext | None:
        rows = await self._conn.execute_fetchall(_SQLITE_LOAD_VERIFY_CONTEXT, (value_hash,))
        row = next(iter(rows), None)
        if row is None:
            return None
        return VerifyContext(
            token_id=UUID(hex=row[0]),
            name=row[1],
            expires_at=row[2],
            revoked=row[3] is not None,
            user_id=UUID(hex=row[4]),
            details=orjson.loads(row[5]),
            approval_exists=row[6] is not None,
            client_blocked=bool(row[7]),
            user_blocked=bool(row[8]),
            mis_client_id=_uuid_or_none(row[9]),
            issued_at=row[10],
        )


class SqliteDatabase:
    """A fixed pool of aiosqlite connections, configured with the service's pragmas."""

    _PRAGMAS = (
        "PRAGMA journal_mode=WAL",
        f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}",
        "PRAGMA foreign_keys=ON",
        "PRAGMA synchronous=NORMAL",
    )

    def __init__(self, path: str, size: int = POOL_SIZE) -> None:
        self._path = path
        self._size = size
        self._all: list[aiosqlite.Connection] = []
        self._idle: asyncio.Queue[aiosqlite.Connection] = asyncio.Queue()

    async def open(self) -> None:
        for _ in range(self._size):
            # isolation_level=None: autocommit, each statement is its own transaction.
            conn = await aiosqlite.connect(self._path, isolation_level=None)
            for pragma in self._PRAGMAS:
                await conn.execute_fetchall(pragma)
            self._all.append(conn)
            self._idle.put_nowait(conn)

    async def close(self) -> None:
        for conn in self._all:
            await conn.close()
        self._all.clear()

    @asynccontextmanager
    async def session(self) -> AsyncIterator[Session]:
        conn = await self._idle.get()
        try:
            yield _SqliteSession(conn)
        finally:
            self._idle.put_nowait(conn)


def open_database(url: str) -> Database:
    """The floor's database for a service URL (`postgresql://...` or `sqlite:////path`)."""
    sqlite_prefix = "sqlite:///"
    if url.startswith(sqlite_prefix):
        return SqliteDatabase(url[len(sqlite_prefix) :].split("?", 1)[0])
    if url.startswith(("postgresql://", "postgres://")):
        return PostgresDatabase(url)
    raise ValueError(f"unsupported database URL: {url.split(':', 1)[0]}://...")


@dataclass(frozen=True)
class Request:
    """What the handlers need from the ASGI scope, read in one pass over the headers."""

    method: str
    path: str
    url: str
    request_id: str
    content_type: str


def read_request(scope: Scope) -> Request:
    host = content_type = request_id = ""
    for name, value in scope["headers"]:
        if name == b"host":
            host = value.decode("latin-1")
        elif name == b"content-type":
            content_type = value.decode("latin-1")
        elif name == b"x-request-id" and 20 <= len(value) <= 200 and value.isascii():
            request_id = value.decode("ascii")
    path: str = scope["path"]
    return Request(
        method=scope["method"],
        path=path,
        url=f"{scope['scheme']}://{host}{path}",
        request_id=request_id or uuid.uuid4().hex,
        content_type=content_type,
    )


async def read_body(receive: Receive, limit: int = MAX_BODY_BYTES) -> bytes | None:
    """The request body, or None when it is larger than `limit`."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def respond(send: Send, request: Request, status: int, payload: dict[str, Any]) -> None:
    """Answer in the service's envelope: meta plus data or error, never cached."""
    body = orjson.dumps(
        {
            "meta": {
                "code": status,
                "url": request.url,
                "type": "object",
                "request_id": request.request_id,
            },
            **payload,
        }
    )
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"cache-control", b"no-store"),
                (b"pragma", b"no-cache"),
                (b"x-request-id", request.request_id.encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def respond_error(send: Send, request: Request, status: int, kind: str, message: str) -> None:
    await respond(send, request, status, {"error": {"type": kind, "message": message}})


def _strings(params: dict[str, Any], names: Iterable[str]) -> list[str] | None:
    values: list[str] = []
    for name in names:
        value = params.get(name)
        if not isinstance(value, str) or not value.strip():
            return None
        values.append(value)
    return values


@dataclass(frozen=True)
class FloorSettings:
    database_url: str
    secret_key: bytes
    access_ttl: int
    refresh_ttl: int
    admin_keys: tuple[str, ...] = ()

    @classmethod
    def from_env(cls) -> FloorSettings:
        return cls(
            database_url=os.environ["EHEALTH_AUTH_DATABASE_URL"],
            secret_key=os.environ["EHEALTH_AUTH_SECRET_KEY"].encode(),
            access_ttl=int(
                os.environ.get("EHEALTH_AUTH_ACCESS_TOKEN_TTL", DEFAULT_ACCESS_TOKEN_TTL)
            ),
            refresh_ttl=int(
                os.environ.get("EHEALTH_AUTH_REFRESH_TOKEN_TTL", DEFAULT_REFRESH_TOKEN_TTL)
            ),
            admin_keys=tuple(
                key.strip()
                for key in os.environ.get("EHEALTH_AUTH_ADMIN_KEYS", "").split(",")
                if key.strip()
            ),
        )


class RefreshHandler:
    """POST /oauth/tokens with grant_type=refresh_token, rotation off: one SELECT, one INSERT.

    Subclasses change how the tokens are stored (`_issue`)."""

    PATH = "/oauth/tokens"
    _FIELDS = ("client_id", "client_secret", "refresh_token")

    def __init__(self, database: Database, settings: FloorSettings) -> None:
        self._database = database
        self._key = settings.secret_key
        self._access_ttl = settings.access_ttl
        self._refresh_ttl = settings.refresh_ttl

    def _digest(self, value: str) -> bytes:
        return hmac.new(self._key, value.encode("utf-8", "surrogatepass"), hashlib.sha256).digest()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = read_request(scope)
        if request.path != self.PATH:
            return await respond_error(send, request, 404, "not_found", "Not found.")
        if request.method != "POST":
            return await respond_error(
                send, request, 405, "method_not_allowed", "Method not allowed."
            )
        if not request.content_type.lower().startswith("application/json"):
            return await respond_error(
                send, request, 415, "content_type_invalid", "Invalid content type."
            )
        raw = await read_body(receive)
        if raw is None:
            return await respond_error(
                send, request, 413, "payload_too_large", "Payload too large."
            )
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            body = None
        params = body.get("token") if isinstance(body, dict) else None
        if not isinstance(params, dict):
            return await respond_error(
                send, request, 400, "request_malformed", "Request body is malformed."
            )
        if params.get("grant_type") != REFRESH_TOKEN:
            return await respond_error(
                send, request, 401, "invalid_grant", "Grant type not allowed."
            )
        fields = _strings(params, self._FIELDS)
        if fields is None:
            return await respond_error(
                send, request, 422, "validation_failed", "Validation failed."
            )
        client_id_text, client_secret, refresh_token = fields
        try:
            client_id = UUID(client_id_text)
        except ValueError:
            return await respond_error(
                send, request, 401, "invalid_client", "Invalid client id or secret."
            )
        secret_hash = self._digest(client_secret)
        token_hash = self._digest(refresh_token)

        async with self._database.session() as session:
            context = await session.load_refresh_context(client_id, secret_hash, token_hash)
            if context is None:
                return await respond_error(
                    send, request, 401, "invalid_client", "Invalid client id or secret."
                )
            if context.client_blocked:
                return await respond_error(
                    send, request, 401, "invalid_client", "Client is blocked."
                )
            if (
                context.token_id is None
                or context.token_user_id is None
                or context.token_family_id is None
                or context.token_expires_at is None
            ):
                return await respond_error(
                    send, request, 401, "token_not_found", "Token not found."
                )
            if context.token_client_id != client_id:
                return await respond_error(
                    send, request, 401, "invalid_grant", "Token not found or expired."
                )
            now = int(time.time())
            if context.token_revoked or context.token_expires_at <= now:
                return await respond_error(send, request, 401, "token_expired", "Token expired.")
            if context.user_blocked:
                return await respond_error(send, request, 401, "user_blocked", "User blocked.")
            scope_granted = context.approval_scope
            if scope_granted is None:
                return await respond_error(
                    send,
                    request,
                    401,
                    "access_denied",
                    "Resource owner revoked access for the client.",
                )
            if context.token_retired_at_ms is not None:  # only with rotation on
                return await respond_error(
                    send, request, 401, "invalid_grant", "Token has already been used."
                )

            value = secrets.token_urlsafe(TOKEN_BYTES)
            token_id = uuid.uuid4()
            expires_at = now + self._access_ttl
            details: dict[str, str] = {
                "client_id": str(client_id),
                "grant_type": REFRESH_TOKEN,
                "scope": scope_granted,
            }
            access = NewToken(
                id=token_id,
                name=ACCESS_TOKEN,
                value_hash=self._digest(value),
                issued_at=now,
                expires_at=expires_at,
                user_id=context.token_user_id,
                client_id=client_id,
                scope=scope_granted,
                details=orjson.dumps(details).decode(),
                family_id=context.token_family_id,
                parent_id=context.token_id,
                connection_id=context.connection_id,
            )
            shown = await self._issue(session, context, access)
            if shown is None:
                return await respond_error(
                    send, request, 401, "invalid_grant", "Token has already been used."
                )

        await respond(
            send,
            request,
            201,
            {
                "data": {
                    "id": str(token_id),
                    "name": ACCESS_TOKEN,
                    "value": value,
                    "expires_at": expires_at,
                    "user_id": str(context.token_user_id),
                    "details": {**details, **shown} if shown else details,
                }
            },
        )

    async def _issue(
        self, session: Session, context: RefreshContext, access: NewToken
    ) -> dict[str, str] | None:
        """Store the access token; returns what to add to the answer's details."""
        await session.insert_token(access)
        return {}


class RotationRefreshHandler(RefreshHandler):
    """POST /oauth/tokens with grant_type=refresh_token, rotation on, grace 0: one SELECT, then
    one transaction retiring the token and inserting its successor and the access token, each
    write a statement of its own (seven round trips in all). The service sends the same writes
    as one statement on PostgreSQL; this is the rotation floor it is measured against: the
    rotation work done the direct way, as the reference floor does its refresh."""

    async def _issue(
        self, session: Session, context: RefreshContext, access: NewToken
    ) -> dict[str, str] | None:
        """Rotate; None when the token was retired first (a lost race)."""
        assert context.token_id is not None  # checked by the caller
        assert context.token_family_id is not None
        value = secrets.token_urlsafe(TOKEN_BYTES)
        successor = NewToken(
            id=uuid.uuid4(),
            name=REFRESH_TOKEN,
            value_hash=self._digest(value),
            issued_at=access.issued_at,
            expires_at=access.issued_at + self._refresh_ttl,
            user_id=access.user_id,
            client_id=access.client_id,
            scope=access.scope,
            details=orjson.dumps(
                {"client_id": str(access.client_id), "scope": access.scope}
            ).decode(),
            family_id=context.token_family_id,
            parent_id=context.token_id,
            connection_id=context.connection_id,
        )
        won = await session.rotate(context.token_id, time.time_ns() // 1_000_000, successor, access)
        return {REFRESH_TOKEN: value} if won else None


def _key_digest(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8", "surrogateescape")).digest()


class VerifyHandler:
    """GET /admin/tokens/{value}/verify: the admin-key check, then one SELECT."""

    _PREFIX = "/admin/tokens/"
    _SUFFIX = "/verify"
    _DEAD = "Token expired or client approval was revoked."

    def __init__(self, database: Database, settings: FloorSettings) -> None:
        self._database = database
        self._key = settings.secret_key
        self._admin_digests = tuple(_key_digest(key) for key in settings.admin_keys)

    def _admitted(self, scope: Scope) -> bool:
        # The same work as the service's guard: every configured key, in constant time.
        authorization = ""
        for name, value in scope["headers"]:
            if name == b"authorization":
                authorization = value.decode("latin-1")
        scheme, _, key = authorization.partition(" ")
        if scheme.lower() != "bearer" or not key.strip():
            return False
        presented = _key_digest(key.strip())
        admitted = False
        for digest in self._admin_digests:
            admitted |= hmac.compare_digest(presented, digest)
        return admitted

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = read_request(scope)
        path = request.path
        value = path[len(self._PREFIX) : -len(self._SUFFIX)]
        if not (path.startswith(self._PREFIX) and path.endswith(self._SUFFIX)) or (
            not value or "/" in value
        ):
            return await respond_error(send, request, 404, "not_found", "Not found.")
        if request.method != "GET":
            return await respond_error(
                send, request, 405, "method_not_allowed", "Method not allowed."
            )
        if not self._admitted(scope):
            return await respond_error(
                send, request, 401, "access_denied", "Missing or invalid admin key."
            )
        value_hash = hmac.new(
            self._key, value.encode("utf-8", "surrogatepass"), hashlib.sha256
        ).digest()
        async with self._database.session() as session:
            context = await session.load_verify_context(value_hash)
        if context is None:
            return await respond_error(send, request, 404, "not_found", "Token not found.")
        if context.name != ACCESS_TOKEN:
            return await respond_error(
                send, request, 401, "invalid_grant", "Token is not an access token."
            )
        if context.revoked or context.expires_at <= int(time.time()):
            return await respond_error(send, request, 401, "invalid_grant", self._DEAD)
        if not context.approval_exists:
            return await respond_error(send, request, 401, "invalid_grant", self._DEAD)
        if context.client_blocked:
            return await respond_error(
                send, request, 401, "invalid_client", "Authentication failed."
            )
        if context.user_blocked:
            return await respond_error(send, request, 401, "invalid_user", "Authentication failed.")
        mis_client_id = context.mis_client_id
        await respond(
            send,
            request,
            200,
            {
                "data": {
                    "id": str(context.token_id),
                    "name": ACCESS_TOKEN,
                    "value": value,
                    "expires_at": context.expires_at,
                    "user_id": str(context.user_id),
                    "details": context.details,
                },
                "urgent": {"mis_client_id": None if mis_client_id is None else str(mis_client_id)},
            },
        )


HandlerFactory = Callable[[Database, FloorSettings], Handler]

HANDLERS: dict[str, HandlerFactory] = {
    "refresh": RefreshHandler,
    "refresh-rotation": RotationRefreshHandler,
    "verify": VerifyHandler,
}


class FloorApp:
    """ASGI entry: opens the database pool on startup and sends every request to one handler."""

    def __init__(self, database: Database, handler: Handler) -> None:
        self._database = database
        self._handler = handler

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self._handler(scope, receive, send)
        elif scope["type"] == "lifespan":
            await self._lifespan(receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self._database.open()
                except Exception as exc:
                    await send({"type": "lifespan.startup.failed", "message": repr(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self._database.close()
                await send({"type": "lifespan.shutdown.complete"})
                return


def create_app() -> FloorApp:
    """uvicorn factory: settings from the environment, handler named by BENCH_FLOOR_HANDLER."""
    settings = FloorSettings.from_env()
    name = os.environ.get("BENCH_FLOOR_HANDLER", "refresh")
    try:
        factory = HANDLERS[name]
    except KeyError:
        raise ValueError(f"unknown floor handler {name!r}; known: {sorted(HANDLERS)}") from None
    database = open_database(settings.database_url)
    return FloorApp(database, factory(database, settings))
