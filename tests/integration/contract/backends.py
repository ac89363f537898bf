"""The stores of every backend behind one bundle, for the contract cases in this package.

The one module of the contract suite that names the service's store classes, ports and value
types: the cases reach every backend through `Stores` and arrange rows through `Seed`.
"""

from __future__ import annotations

import os
import sqlite3
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Protocol
from uuid import UUID

import asyncpg  # type: ignore[import-untyped]
import sqlalchemy as sa
import sqlalchemy.exc

from ehealth_auth.protocol.errors import ConflictError
from ehealth_auth.protocol.model import LostRace, NewToken, Rotated, StoredRefreshToken, TokenName
from ehealth_auth.protocol.paging import PageRequest
from ehealth_auth.protocol.ports import (
    AdminCommands,
    AdminQueries,
    ApprovalLookup,
    BearerLookup,
    ClientDirectory,
    ClientSecretStore,
    CodeStore,
    FailureCounters,
    PurgeStore,
    RefreshGrantStore,
    RevocationStore,
    TokenWriter,
    UserDirectory,
    VerifyStore,
)
from ehealth_auth.protocol.records import (
    ApprovalRecord,
    ClientRecord,
    ClientTypeRecord,
    ConnectionRecord,
    CounterKey,
    TokenInfo,
    UserRecord,
)
from ehealth_auth.storage import migrate as migrations
from ehealth_auth.storage.admin_listings import SqlAdminQueries
from ehealth_auth.storage.admin_store import SqlAdminStore
from ehealth_auth.storage.code_store import SqlCodeStore
from ehealth_auth.storage.driver import create_driver
from ehealth_auth.storage.engine import create_engine
from ehealth_auth.storage.login_store import SqlLoginStore
from ehealth_auth.storage.oauth_store import SqlClientSecretStore, SqlRevocationStore
from ehealth_auth.storage.purge_store import SqlPurgeStore
from ehealth_auth.storage.refresh_store import SqlRefreshStore
from ehealth_auth.storage.tables import connections
from ehealth_auth.storage.throttle_store import SqlFailureCounters
from ehealth_auth.storage.verify_store import SqlVerifyStore
from tests.fakes import (
    FakeAdminStore,
    FakeClientSecretStore,
    FakeCodeStore,
    FakeDatabase,
    FakeFailureCounters,
    FakeIntegrityError,
    FakeLoginStore,
    FakePurgeStore,
    FakeRefreshGrantStore,
    FakeRevocationStore,
    FakeVerifyStore,
)
from tests.support import clear_tables

__all__ = [
    "BACKENDS",
    "INTEGRITY_ERRORS",
    "NOW",
    "ApprovalRecord",
    "Client",
    "ConflictError",
    "CounterKey",
    "NewToken",
    "PageRequest",
    "Seed",
    "StoredRefreshToken",
    "Stores",
    "TokenName",
    "assert_lost_race",
    "assert_rotated",
    "memory_stores",
    "migrate",
    "rotation_won",
    "sql_stores",
]

BACKENDS = ("memory", "sqlite", "postgresql")
NOW = 1_700_000_000
CEILING = "app:authorize legal_entity:read employee:read"

# What a write the schema refuses raises: SQLAlchemy on the engine's stores, the bare drivers'
# own errors on the hot paths' stores, FakeIntegrityError in memory.
INTEGRITY_ERRORS: tuple[type[Exception], ...] = (
    sqlalchemy.exc.IntegrityError,
    sqlite3.IntegrityError,
    asyncpg.IntegrityConstraintViolationError,
    FakeIntegrityError,
)


def rotation_won(result: object) -> bool:
    """Whether `rotate` retired the token (this request won) or found it already retired or
    revoked (this request lost the race)."""
    assert isinstance(result, Rotated | LostRace)
    return isinstance(result, Rotated)


def assert_rotated(result: object) -> None:
    assert rotation_won(result)


def assert_lost_race(result: object) -> StoredRefreshToken:
    """The presented token as the loser read it back, after the winner."""
    assert isinstance(result, LostRace)
    return result.token


class LoginPorts(
    ClientDirectory, UserDirectory, ApprovalLookup, TokenWriter, BearerLookup, Protocol
):
    """The ports of the login and the app authorization, served by one store."""


@dataclass(frozen=True)
class Client:
    id: UUID
    type_id: UUID
    secret_hash: bytes
    connection_id: UUID


class ConnectionAdder(Protocol):
    """Inserts a further connection of a client: the admin port has no command for it."""

    async def __call__(self, record: ConnectionRecord, now: int) -> None: ...


class Seed:
    """Rows arranged through the admin store's port, so every backend gets the same ones."""

    def __init__(self, admin: AdminCommands, add_connection: ConnectionAdder) -> None:
        self._admin = admin
        self._add_connection = add_connection

    async def client_type(self, scope: str = CEILING, name: str | None = None) -> UUID:
        record = ClientTypeRecord(uuid.uuid4(), name or f"MIS-{uuid.uuid4().hex[:8]}", scope)
        await self._admin.add_client_type(record, NOW)
        return record.id

    async def client(
        self,
        type_id: UUID | None = None,
        *,
        name: str = "Clinic",
        redirect_uri: str = "https://mis.test/cb",
        now: int = NOW,
        secret_hash: bytes | None = None,
    ) -> Client:
        type_id = type_id or await self.client_type()
        client = ClientRecord(uuid.uuid4(), name, type_id, is_blocked=False)
        connection = ConnectionRecord(
            uuid.uuid4(), client.id, secret_hash or os.urandom(32), redirect_uri
        )
        await self._admin.add_client(client, connection, now)
        return Client(client.id, type_id, connection.secret_hash, connection.id)

    async def connection(
        self, client_id: UUID, redirect_uri: str, now: int, secret_hash: bytes | None = None
    ) -> ConnectionRecord:
        """A further connection of the client, inserted at `now`."""
        record = ConnectionRecord(
            uuid.uuid4(), client_id, secret_hash or os.urandom(32), redirect_uri
        )
        await self._add_connection(record, now)
        return record

    async def user(self, email: str | None = None, *, now: int = NOW) -> UUID:
        record = UserRecord(
            uuid.uuid4(), email or f"{uuid.uuid4().hex[:8]}@example.org", "hash", False
        )
        await self._admin.add_user(record, now)
        return record.id

    async def approve(
        self, user_id: UUID, client_id: UUID, scope: str = "employee:read", *, now: int = NOW
    ) -> ApprovalRecord:
        return await self._admin.save_approval(
            ApprovalRecord(uuid.uuid4(), user_id, client_id, scope), now
        )

    async def token(
        self, name: TokenName, user_id: UUID, client: Client, **fields: Any
    ) -> NewToken:
        """A stored token (see `new_token`)."""
        token = new_token(name, user_id, client, **fields)
        await self._admin.add_token(token)
        return token


def new_token(
    name: TokenName,
    user_id: UUID,
    client: Client,
    *,
    family_id: UUID | None = None,
    issued_at: int = NOW,
    expires_at: int = NOW + 3_600,
    scope: str = "employee:read",
    connection: bool = True,
    redirect_uri: str | None = None,
    code_challenge: str | None = None,
    value_hash: bytes | None = None,
    details: dict[str, str] | None = None,
) -> NewToken:
    """A token of the client for the user, not yet stored; in a family of its own unless told."""
    token_id = uuid.uuid4()
    return NewToken(
        id=token_id,
        name=name,
        value_hash=value_hash or os.urandom(32),
        issued_at=issued_at,
        expires_at=expires_at,
        user_id=user_id,
        client_id=client.id,
        scope=scope,
        details=details if details is not None else {"client_id": str(client.id)},
        family_id=family_id or token_id,
        connection_id=client.connection_id if connection else None,
        redirect_uri=redirect_uri,
        code_challenge=code_challenge,
    )


@dataclass(frozen=True)
class Stores:
    """Every store port the protocol uses, over one backend's rows."""

    backend: str
    refresh: RefreshGrantStore
    codes: CodeStore
    login: LoginPorts
    verify: VerifyStore
    admin: AdminCommands
    queries: AdminQueries
    counters: FailureCounters
    purge: PurgeStore
    client_secrets: ClientSecretStore
    revocation: RevocationStore
    seed: Seed

    new_token = staticmethod(new_token)

    async def tokens(self) -> dict[UUID, TokenInfo]:
        """Every stored token, by id, as an operator lists them."""
        page = await self.queries.tokens_page(PageRequest(1, 100), None, None)
        assert page.total_entries <= 100
        return {token.id: token for token in page.entries}

    async def refresh_token(self, client: Client, token: NewToken) -> StoredRefreshToken:
        """The stored state of a refresh token of `client`, as the refresh grant reads it."""
        context = await self.refresh.load_refresh_context(
            client.id, client.secret_hash, token.value_hash
        )
        assert context is not None
        assert context.token is not None
        return context.token


def memory_stores() -> Stores:
    db = FakeDatabase()
    admin = FakeAdminStore(db)

    async def add_connection(record: ConnectionRecord, now: int) -> None:
        db.connections[record.id] = record
        db.inserted_at[record.id] = now

    return Stores(
        backend="memory",
        refresh=FakeRefreshGrantStore(db),
        codes=FakeCodeStore(db),
        login=FakeLoginStore(db),
        verify=FakeVerifyStore(db),
        admin=admin,
        queries=admin,
        counters=FakeFailureCounters(db),
        purge=FakePurgeStore(db),
        client_secrets=FakeClientSecretStore(db),
        revocation=FakeRevocationStore(db),
        seed=Seed(admin, add_connection),
    )


def migrate(url: str) -> None:
    """Bring an empty database to the schema, with the service's Alembic migrations."""
    migrations.upgrade(url)


@asynccontextmanager
async def sql_stores(backend: str, url: str) -> AsyncIterator[Stores]:
    """The SQL stores over an emptied, migrated database, on the engine and the bare driver
    as the service wires them."""
    engine = create_engine(url, pool_size=5)
    driver = create_driver(url, pool_size=5)
    admin = SqlAdminStore(engine)

    async def add_connection(record: ConnectionRecord, now: int) -> None:
        async with engine.begin() as conn:
            await conn.execute(
                sa.insert(connections).values(
                    id=record.id,
                    client_id=record.client_id,
                    secret_hash=record.secret_hash,
                    redirect_uri=record.redirect_uri,
                    inserted_at=now,
                    updated_at=now,
                )
            )

    try:
        await clear_tables(engine)
        yield Stores(
            backend=backend,
            refresh=SqlRefreshStore(driver),
            codes=SqlCodeStore(driver),
            login=SqlLoginStore(engine),
            verify=SqlVerifyStore(driver),
            admin=admin,
            queries=SqlAdminQueries(engine),
            counters=SqlFailureCounters(engine),
            purge=SqlPurgeStore(engine),
            client_secrets=SqlClientSecretStore(driver),
            revocation=SqlRevocationStore(driver),
            seed=Seed(admin, add_connection),
        )
    finally:
        await driver.close()
        await engine.dispose()
