"""In-memory fakes of the protocol's ports, faithful to the SQL stores they stand in for.

`FakeDatabase` holds the rows; `FakeRefreshGrantStore`, `FakeCodeStore`, `FakeLoginStore` and
`FakeAdminStore` are views over it, as the real stores are views over one engine. Where the
schema would reject a write (a foreign key or unique constraint the protocol never expects to
hit), the fakes raise `FakeIntegrityError` instead of silently accepting data the real database
could not hold.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypeVar
from uuid import UUID

from ehealth_auth.protocol.errors import ConflictError, ServiceUnavailableError
from ehealth_auth.protocol.flow_ports import Bearer, ClientProfile, LoginUser
from ehealth_auth.protocol.model import (
    CodeContext,
    IssuedToken,
    LostRace,
    NewToken,
    RefreshContext,
    Rotated,
    StoredCode,
    StoredRefreshToken,
    TokenName,
)
from ehealth_auth.protocol.oauth.revocation import RevocableToken
from ehealth_auth.protocol.paging import Page, PageRequest
from ehealth_auth.protocol.records import (
    ApprovalRecord,
    ClientDetails,
    ClientRecord,
    ClientTypeRecord,
    ConnectionInfo,
    ConnectionRecord,
    TokenInfo,
    UserRecord,
)
from ehealth_auth.protocol.throttle import CounterKey, LiveCount
from ehealth_auth.protocol.verify import VerifyContext

START = 1_700_000_000
T = TypeVar("T")


class FakeIntegrityError(Exception):
    """A write the real schema would refuse (the SQL stores let IntegrityError propagate)."""


class FakeClock:
    """A clock that moves only when told to; seconds and milliseconds always agree."""

    def __init__(self, now: int = START) -> None:
        self.current_ms = now * 1000

    def now(self) -> int:
        return self.current_ms // 1000

    def now_ms(self) -> int:
        return self.current_ms

    def set(self, seconds: int) -> None:
        self.current_ms = seconds * 1000

    def advance(self, seconds: int) -> None:
        self.current_ms += seconds * 1000

    def advance_ms(self, milliseconds: int) -> None:
        self.current_ms += milliseconds


def sha256(value: str) -> bytes:
    return hashlib.sha256(value.encode("utf-8")).digest()


class Sha256SecretHasher:
    """Unkeyed SHA-256: deterministic, so tests can compute the digest a store should hold."""

    def digest(self, value: str) -> bytes:
        return sha256(value)


class FakeSuccessorCipher:
    """A toy authenticated cipher: a keystream XOR plus a MAC over context and ciphertext.

    Not secure, but it has the two properties the grant relies on: the blob does not contain
    the plain value, and a blob opened under another context (or altered) yields None.
    """

    _KEY = b"fake-successor-cipher"
    _TAG_BYTES = 32

    def _keystream(self, context: bytes, length: int) -> bytes:
        stream = b""
        counter = 0
        while len(stream) < length:
            stream += hashlib.sha256(self._KEY + context + counter.to_bytes(4, "big")).digest()
            counter += 1
        return stream[:length]

    def _tag(self, context: bytes, body: bytes) -> bytes:
        return hmac.new(self._KEY, context + body, hashlib.sha256).digest()

    def encrypt(self, value: str, context: bytes) -> bytes:
        plain = value.encode("utf-8")
        body = bytes(
            a ^ b for a, b in zip(plain, self._keystream(context, len(plain)), strict=True)
        )
        return self._tag(context, body) + body

    def decrypt(self, blob: bytes, context: bytes) -> str | None:
        tag, body = blob[: self._TAG_BYTES], blob[self._TAG_BYTES :]
        if not hmac.compare_digest(tag, self._tag(context, body)):
            return None
        stream = self._keystream(context, len(body))
        return bytes(a ^ b for a, b in zip(body, stream, strict=True)).decode("utf-8")


class FakePasswordHasher:
    """A one-way stand-in for argon2: the hash never contains the password."""

    PREFIX = "fake-sha256$"

    def hash(self, password: str) -> str:
        return self.PREFIX + sha256(password).hex()

    def verify(self, password_hash: str, password: str) -> bool:
        return password_hash == self.PREFIX + sha256(password).hex()


class RecordingPasswordHasher(FakePasswordHasher):
    """A FakePasswordHasher that remembers its work: what it hashed, which hashes it checked."""

    def __init__(self) -> None:
        self.hashed: list[str] = []
        self.verified: list[str] = []

    def hash(self, password: str) -> str:
        self.hashed.append(password)
        return super().hash(password)

    def verify(self, password_hash: str, password: str) -> bool:
        self.verified.append(password_hash)
        return super().verify(password_hash, password)


@dataclass
class TokenRow:
    """A row of the tokens table: the stored token plus the columns later writes change."""

    token: NewToken
    revoked_at: int | None = None
    revoked_for_reuse: bool = False
    retired_at_ms: int | None = None
    successor_id: UUID | None = None
    successor_value_enc: bytes | None = None


@dataclass
class FailureRow:
    """A row of the auth_failures table, keyed by (key digest, window start)."""

    target: bytes | None
    failures: int
    expires_at: int


@dataclass
class FakeDatabase:
    client_types: dict[UUID, ClientTypeRecord] = field(default_factory=dict)
    clients: dict[UUID, ClientRecord] = field(default_factory=dict)
    connections: dict[UUID, ConnectionRecord] = field(default_factory=dict)
    users: dict[UUID, UserRecord] = field(default_factory=dict)
    approvals: dict[UUID, ApprovalRecord] = field(default_factory=dict)
    tokens: dict[UUID, TokenRow] = field(default_factory=dict)
    auth_failures: dict[tuple[bytes, int], FailureRow] = field(default_factory=dict)
    # The inserted_at column of every table, by row id (ids are unique across tables).
    inserted_at: dict[UUID, int] = field(default_factory=dict)

    def insert_token(self, token: NewToken) -> None:
        if token.id in self.tokens:
            raise FakeIntegrityError(f"duplicate token id {token.id}")
        if any(row.token.value_hash == token.value_hash for row in self.tokens.values()):
            raise FakeIntegrityError("duplicate token value_hash")
        if token.user_id not in self.users:
            raise FakeIntegrityError(f"no user {token.user_id}")
        if token.client_id not in self.clients:
            raise FakeIntegrityError(f"no client {token.client_id}")
        if token.connection_id is not None and token.connection_id not in self.connections:
            raise FakeIntegrityError(f"no connection {token.connection_id}")
        self.tokens[token.id] = TokenRow(token)

    def revoke_tokens(self, now: int, where: Callable[[NewToken], bool]) -> int:
        """Mark every live token matching `where` revoked, as the SQL `revoke_tokens` does."""
        count = 0
        for row in self.tokens.values():
            if row.revoked_at is None and where(row.token):
                row.revoked_at = now
                count += 1
        return count

    def revoke_family(self, family_id: UUID, now: int, for_reuse: bool = True) -> int:
        """The SQL `revoke_family`: every live token of the family, its successor value erased,
        the reason kept."""
        count = 0
        for row in self.tokens.values():
            if row.token.family_id == family_id and row.revoked_at is None:
                row.revoked_at = now
                row.revoked_for_reuse = for_reuse
                row.successor_value_enc = None
                count += 1
        return count

    def revoke_earlier_access(self, access: NewToken) -> None:
        self.revoke_tokens(
            access.issued_at,
            lambda token: (
                token.family_id == access.family_id and token.name is TokenName.ACCESS_TOKEN
            ),
        )

    def clear_failures_of(self, target: bytes) -> bool:
        keys = [key for key, row in self.auth_failures.items() if row.target == target]
        for key in keys:
            del self.auth_failures[key]
        return bool(keys)

    def approval_for(self, user_id: UUID, client_id: UUID) -> ApprovalRecord | None:
        for record in self.approvals.values():
            if record.user_id == user_id and record.client_id == client_id:
                return record
        return None

    def token_by_hash(self, value_hash: bytes) -> TokenRow | None:
        for row in self.tokens.values():
            if row.token.value_hash == value_hash:
                return row
        return None

    def by_insertion(self, ids: Iterable[UUID]) -> list[UUID]:
        """`ORDER BY inserted_at, id`."""
        return sorted(ids, key=lambda row_id: (self.inserted_at.get(row_id, 0), row_id))

    def client_details(self, client_id: UUID) -> ClientDetails | None:
        client = self.clients.get(client_id)
        if client is None:
            return None
        connections = [
            connection_id
            for connection_id, row in self.connections.items()
            if row.client_id == client_id
        ]
        return ClientDetails(
            client=client,
            client_type=self.client_types[client.client_type_id],
            connections=tuple(
                connection_info(self.connections[connection_id])
                for connection_id in self.by_insertion(connections)
            ),
        )


def connection_info(row: ConnectionRecord) -> ConnectionInfo:
    return ConnectionInfo(row.id, row.client_id, row.redirect_uri, row.consumer_id)


def token_info(row: TokenRow) -> TokenInfo:
    token = row.token
    return TokenInfo(
        id=token.id,
        name=token.name.value,
        user_id=token.user_id,
        client_id=token.client_id,
        scope=token.scope,
        issued_at=token.issued_at,
        expires_at=token.expires_at,
        revoked_at=row.revoked_at,
    )


def page_of(entries: Sequence[T], page: PageRequest) -> Page[T]:
    """`LIMIT size OFFSET offset` over already ordered entries, with the total count."""
    return Page(tuple(entries[page.offset : page.offset + page.size]), page, len(entries))


Interleaving = Callable[[], Awaitable[object]]


class InterleavingStore:
    """Base of the stores whose races the tests stage.

    `interleave` simulates a concurrent request: a callable stored under a method name runs
    (once) when that method is entered, before the method reads or writes anything, as if
    another server process had committed just before this one's statement.
    """

    def __init__(self, db: FakeDatabase) -> None:
        self.db = db
        self.interleave: dict[str, Interleaving] = {}

    async def _interleaved(self, method: str) -> None:
        other = self.interleave.pop(method, None)
        if other is not None:
            await other()


class FakeRefreshGrantStore(InterleavingStore):
    """The RefreshGrantStore port, mirroring `SqlRefreshStore`."""

    def __init__(self, db: FakeDatabase) -> None:
        super().__init__(db)
        self.context_loads: list[tuple[UUID, bytes, bytes]] = []

    async def load_refresh_context(
        self, client_id: UUID, secret_hash: bytes, token_hash: bytes
    ) -> RefreshContext | None:
        await self._interleaved("load_refresh_context")
        self.context_loads.append((client_id, secret_hash, token_hash))
        connection = next(
            (
                row
                for row in self.db.connections.values()
                if row.client_id == client_id and row.secret_hash == secret_hash
            ),
            None,
        )
        if connection is None:
            return None
        client = self.db.clients[client_id]
        # Outer join on tokens: only rows named refresh_token, whichever client they belong to.
        row = next(
            (
                row
                for row in self.db.tokens.values()
                if row.token.value_hash == token_hash and row.token.name is TokenName.REFRESH_TOKEN
            ),
            None,
        )
        if row is None:
            return RefreshContext(
                connection_id=connection.id,
                client_blocked=client.is_blocked,
                token=None,
                user_blocked=False,
                approval_scope=None,
            )
        token = row.token
        user = self.db.users.get(token.user_id)
        # The approval joined is the token user's approval for the *calling* client.
        approval = self.db.approval_for(token.user_id, client_id)
        return RefreshContext(
            connection_id=connection.id,
            client_blocked=client.is_blocked,
            token=StoredRefreshToken(
                id=token.id,
                client_id=token.client_id,
                user_id=token.user_id,
                expires_at=token.expires_at,
                revoked=row.revoked_at is not None,
                family_id=token.family_id,
                retired_at_ms=row.retired_at_ms,
                successor_id=row.successor_id,
                successor_value_enc=row.successor_value_enc,
                revoked_for_reuse=row.revoked_for_reuse,
                connection_id=token.connection_id,
            ),
            user_blocked=bool(user and user.is_blocked),
            approval_scope=approval.scope if approval else None,
        )

    async def add_access_token(self, access: NewToken, *, revoke_earlier_access: bool) -> None:
        await self._interleaved("add_access_token")
        if revoke_earlier_access:
            self.db.revoke_earlier_access(access)
        self.db.insert_token(access)

    async def rotate(
        self,
        retired_id: UUID,
        retired_at_ms: int,
        successor: NewToken,
        successor_value_enc: bytes | None,
        access: NewToken,
        *,
        revoke_earlier_access: bool,
    ) -> Rotated | LostRace:
        await self._interleaved("rotate")
        retired = self.db.tokens[retired_id]
        # The conditional UPDATE: only a live, not yet retired token can be retired. The loser
        # reads the token back as the winner left it.
        if retired.retired_at_ms is not None or retired.revoked_at is not None:
            token = retired.token
            return LostRace(
                StoredRefreshToken(
                    id=token.id,
                    client_id=token.client_id,
                    user_id=token.user_id,
                    expires_at=token.expires_at,
                    revoked=retired.revoked_at is not None,
                    family_id=token.family_id,
                    retired_at_ms=retired.retired_at_ms,
                    successor_id=retired.successor_id,
                    successor_value_enc=retired.successor_value_enc,
                    revoked_for_reuse=retired.revoked_for_reuse,
                    connection_id=token.connection_id,
                )
            )
        retired.retired_at_ms = retired_at_ms
        retired.successor_id = successor.id
        retired.successor_value_enc = successor_value_enc
        # Only the newest retired token's successor may be echoed.
        for row in self.db.tokens.values():
            if row.token.family_id == successor.family_id and row.token.id != retired_id:
                row.successor_value_enc = None
        if revoke_earlier_access:
            self.db.revoke_earlier_access(access)
        self.db.insert_token(successor)
        self.db.insert_token(access)
        return Rotated()

    async def revoke_family(self, family_id: UUID, now: int) -> int:
        await self._interleaved("revoke_family")
        return self.db.revoke_family(family_id, now)


class FakeCodeStore(InterleavingStore):
    """The CodeStore port, mirroring `SqlCodeStore`: one outer-joined read, an atomic consume."""

    def __init__(self, db: FakeDatabase) -> None:
        super().__init__(db)
        self.context_loads: list[tuple[UUID, bytes, bytes]] = []
        self.revoked_families: list[UUID] = []

    async def load_code_context(
        self, client_id: UUID, secret_hash: bytes, code_hash: bytes
    ) -> CodeContext | None:
        await self._interleaved("load_code_context")
        self.context_loads.append((client_id, secret_hash, code_hash))
        connection = next(
            (
                row
                for row in self.db.connections.values()
                if row.client_id == client_id and row.secret_hash == secret_hash
            ),
            None,
        )
        if connection is None:
            return None
        client = self.db.clients[client_id]
        # Outer join on tokens: only rows named authorization_code, whichever client they have.
        row = next(
            (
                row
                for row in self.db.tokens.values()
                if row.token.value_hash == code_hash
                and row.token.name is TokenName.AUTHORIZATION_CODE
            ),
            None,
        )
        if row is None:
            return CodeContext(
                connection_id=connection.id,
                client_blocked=client.is_blocked,
                code=None,
                user_blocked=False,
                approval_scope=None,
            )
        token = row.token
        user = self.db.users.get(token.user_id)
        # The approval joined is the code user's approval for the *calling* client.
        approval = self.db.approval_for(token.user_id, client_id)
        return CodeContext(
            connection_id=connection.id,
            client_blocked=client.is_blocked,
            code=StoredCode(
                id=token.id,
                client_id=token.client_id,
                user_id=token.user_id,
                connection_id=token.connection_id,
                scope=token.scope,
                expires_at=token.expires_at,
                revoked=row.revoked_at is not None,
                consumed=row.retired_at_ms is not None,
                family_id=token.family_id,
                redirect_uri=token.redirect_uri or "",
                code_challenge=token.code_challenge,
            ),
            user_blocked=bool(user and user.is_blocked),
            approval_scope=approval.scope if approval else None,
        )

    async def consume_code(
        self, code_id: UUID, consumed_at_ms: int, refresh: NewToken, access: NewToken
    ) -> bool:
        await self._interleaved("consume_code")
        code = self.db.tokens.get(code_id)
        # The conditional UPDATE: only a code neither used nor revoked can be consumed.
        if code is None or code.retired_at_ms is not None or code.revoked_at is not None:
            return False
        code.retired_at_ms = consumed_at_ms
        code.successor_id = refresh.id
        inserted: list[UUID] = []
        try:
            for token in (refresh, access):
                self.db.insert_token(token)
                inserted.append(token.id)
        except FakeIntegrityError:
            # The transaction rolls back as a whole.
            for token_id in inserted:
                del self.db.tokens[token_id]
            code.retired_at_ms = None
            code.successor_id = None
            raise
        return True

    async def revoke_family(self, family_id: UUID, now: int) -> int:
        await self._interleaved("revoke_family")
        self.revoked_families.append(family_id)
        return self.db.revoke_family(family_id, now)


class FakeLoginStore:
    """ClientDirectory, UserDirectory, ApprovalLookup, TokenWriter and BearerLookup in one,
    mirroring `SqlLoginStore`."""

    def __init__(self, db: FakeDatabase) -> None:
        self.db = db

    async def client_profile(self, client_id: UUID) -> ClientProfile | None:
        client = self.db.clients.get(client_id)
        # Inner join on the client type; outer join on connections, oldest first.
        kind = self.db.client_types.get(client.client_type_id) if client else None
        if client is None or kind is None:
            return None
        connections = [row.id for row in self.db.connections.values() if row.client_id == client_id]
        return ClientProfile(
            id=client.id,
            name=client.name,
            is_blocked=client.is_blocked,
            type_scope=kind.scope,
            redirect_uris=tuple(
                (connection_id, self.db.connections[connection_id].redirect_uri)
                for connection_id in self.db.by_insertion(connections)
            ),
        )

    async def user_by_email(self, email: str) -> LoginUser | None:
        # WHERE lower(users.email) = lower(:email)
        for user in self.db.users.values():
            if user.email.lower() == email.lower():
                return LoginUser(user.id, user.password_hash, user.is_blocked)
        return None

    async def add_token(self, token: NewToken) -> None:
        self.db.insert_token(token)

    async def bearer(self, token_hash: bytes) -> Bearer | None:
        row = self.db.token_by_hash(token_hash)
        if row is None:
            return None
        token = row.token
        user = self.db.users[token.user_id]
        client = self.db.clients[token.client_id]
        return Bearer(
            name=token.name.value,  # the column is a plain string
            user_id=token.user_id,
            scope=token.scope,
            expires_at=token.expires_at,
            revoked=row.revoked_at is not None,
            user_blocked=user.is_blocked,
            client_blocked=client.is_blocked,
        )

    async def approved_scope(self, user_id: UUID, client_id: UUID) -> str | None:
        approval = self.db.approval_for(user_id, client_id)
        return approval.scope if approval else None

    async def revoke_access_token(self, token_hash: bytes, now: int) -> bool:
        row = self.db.token_by_hash(token_hash)
        if row is None or row.token.name != TokenName.ACCESS_TOKEN or row.revoked_at is not None:
            return False
        row.revoked_at = now
        return True


class FakeFailureCounters:
    """The FailureCounters port over `FakeDatabase.auth_failures`, like SqlFailureCounters."""

    def __init__(self, db: FakeDatabase) -> None:
        self.db = db

    async def add(
        self, keys: Sequence[CounterKey], window_start: int, expires_at: int, delta: int
    ) -> dict[bytes, int]:
        counts = {}
        for key in keys:
            row = self.db.auth_failures.setdefault(
                (key.key, window_start), FailureRow(key.target, 0, expires_at)
            )
            row.failures += delta
            counts[key.key] = row.failures
        return counts

    async def settle(self, refund: Sequence[CounterKey], forget: bytes, window_start: int) -> None:
        for key in refund:
            row = self.db.auth_failures.get((key.key, window_start))
            if row is not None and row.failures > 0:
                row.failures -= 1
            if row is not None and row.failures <= 0:
                del self.db.auth_failures[(key.key, window_start)]
        self.db.auth_failures.pop((forget, window_start), None)

    async def at_least(self, now: int, failures: int) -> list[LiveCount]:
        return [
            LiveCount(key, row.expires_at, row.failures)
            for (key, _), row in self.db.auth_failures.items()
            if row.expires_at > now and row.failures >= failures
        ]

    async def purge(self, now: int) -> int:
        ended = [key for key, row in self.db.auth_failures.items() if row.expires_at <= now]
        for key in ended:
            del self.db.auth_failures[key]
        return len(ended)


class InlinePasswordWork:
    """PasswordWork that runs the work in place and counts it; `full` makes it say it has no
    room, `refuse` makes it refuse work all the same (room gone meanwhile)."""

    def __init__(self) -> None:
        self.runs = 0
        self.refuse = False
        self.full = False

    def has_room(self) -> bool:
        return not self.full

    async def run(self, work: Callable[[], T]) -> T:
        if self.refuse:
            raise ServiceUnavailableError(1, "Too many sign-ins in progress. Try again shortly.")
        self.runs += 1
        return work()


class FakeAdminStore:
    """The AdminStore port, mirroring `SqlAdminStore` including its constraints."""

    def __init__(self, db: FakeDatabase) -> None:
        self.db = db

    async def add_client_type(self, record: ClientTypeRecord, now: int) -> None:
        # The name column is UNIQUE with the database's default (case-sensitive) collation.
        if any(row.name == record.name for row in self.db.client_types.values()):
            raise ConflictError(f"Client type {record.name!r} already exists.")
        self.db.client_types[record.id] = record
        self.db.inserted_at[record.id] = now

    async def client_type_by_name(self, name: str) -> ClientTypeRecord | None:
        return next((row for row in self.db.client_types.values() if row.name == name), None)

    async def client_type_of(self, client_id: UUID) -> ClientTypeRecord | None:
        client = self.db.clients.get(client_id)
        return self.db.client_types.get(client.client_type_id) if client else None

    async def add_client(
        self, client: ClientRecord, connection: ConnectionRecord, now: int
    ) -> None:
        if client.id in self.db.clients:
            raise FakeIntegrityError(f"duplicate client id {client.id}")
        if client.client_type_id not in self.db.client_types:
            raise FakeIntegrityError(f"no client type {client.client_type_id}")
        if connection.client_id != client.id and connection.client_id not in self.db.clients:
            raise FakeIntegrityError(f"no client {connection.client_id}")
        if any(row.secret_hash == connection.secret_hash for row in self.db.connections.values()):
            raise FakeIntegrityError("duplicate connection secret_hash")
        self.db.clients[client.id] = client
        self.db.connections[connection.id] = connection
        self.db.inserted_at[client.id] = self.db.inserted_at[connection.id] = now

    async def client(self, client_id: UUID) -> ClientRecord | None:
        return self.db.clients.get(client_id)

    async def client_count(self) -> int:
        return len(self.db.clients)

    async def set_client_blocked(self, client_id: UUID, blocked: bool, now: int) -> bool:
        client = self.db.clients.get(client_id)
        if client is None:
            return False
        self.db.clients[client_id] = dataclasses.replace(client, is_blocked=blocked)
        return True

    async def revoke_client_tokens(self, client_id: UUID, now: int) -> int:
        return self.db.revoke_tokens(now, lambda token: token.client_id == client_id)

    async def add_user(self, record: UserRecord, now: int) -> None:
        # Mirrors the unique index on lower(email).
        taken = {row.email.lower() for row in self.db.users.values()}
        if record.email.lower() in taken:
            raise ConflictError("A user with this email already exists.")
        self.db.users[record.id] = record
        self.db.inserted_at[record.id] = now

    async def user(self, user_id: UUID) -> UserRecord | None:
        return self.db.users.get(user_id)

    async def set_password_hash(self, user_id: UUID, password_hash: str, now: int) -> bool:
        user = self.db.users.get(user_id)
        if user is None:
            return False
        self.db.users[user_id] = dataclasses.replace(user, password_hash=password_hash)
        return True

    async def clear_attempts(self, account: bytes) -> bool:
        return self.db.clear_failures_of(account)

    async def block_user(self, user_id: UUID, now: int) -> bool:
        user = self.db.users.get(user_id)
        if user is None:
            return False
        self.db.users[user_id] = dataclasses.replace(user, is_blocked=True)
        self.db.revoke_tokens(now, lambda token: token.user_id == user_id)
        return True

    async def approval(self, user_id: UUID, client_id: UUID) -> ApprovalRecord | None:
        return self.db.approval_for(user_id, client_id)

    async def save_approval(self, record: ApprovalRecord, now: int) -> ApprovalRecord:
        existing = self.db.approval_for(record.user_id, record.client_id)
        if existing is not None:
            # Like the SQL UPDATE ... RETURNING id: the existing row keeps its id.
            updated = dataclasses.replace(existing, scope=record.scope)
            self.db.approvals[existing.id] = updated
            return updated
        if record.user_id not in self.db.users:
            raise FakeIntegrityError(f"no user {record.user_id}")
        if record.client_id not in self.db.clients:
            raise FakeIntegrityError(f"no client {record.client_id}")
        self.db.approvals[record.id] = record
        self.db.inserted_at[record.id] = now
        return record

    async def delete_approval(self, user_id: UUID, client_id: UUID, now: int) -> bool:
        existing = self.db.approval_for(user_id, client_id)
        if existing is None:
            return False
        del self.db.approvals[existing.id]
        self.db.revoke_tokens(
            now, lambda token: token.user_id == user_id and token.client_id == client_id
        )
        return True

    async def add_token(self, token: NewToken) -> None:
        self.db.insert_token(token)

    # ------------------------------------------------------------------- lookups and listings

    async def client_types_page(self, page: PageRequest) -> Page[ClientTypeRecord]:
        rows = sorted(self.db.client_types.values(), key=lambda row: (row.name, row.id))
        return page_of(rows, page)

    async def client_details(self, client_id: UUID) -> ClientDetails | None:
        return self.db.client_details(client_id)

    async def clients_page(self, page: PageRequest) -> Page[ClientDetails]:
        ordered = sorted(self.db.clients.values(), key=lambda row: (row.name, row.id))
        details = [self.db.client_details(row.id) for row in ordered]
        return page_of([entry for entry in details if entry is not None], page)

    async def replace_connection_secret(
        self, client_id: UUID, connection_id: UUID, secret_hash: bytes, now: int
    ) -> ConnectionInfo | None:
        row = self.db.connections.get(connection_id)
        if row is None or row.client_id != client_id:
            return None
        self.db.connections[connection_id] = dataclasses.replace(row, secret_hash=secret_hash)
        return connection_info(row)

    async def set_connection_consumer(
        self, client_id: UUID, connection_id: UUID, consumer_id: UUID | None, now: int
    ) -> ConnectionInfo | None:
        row = self.db.connections.get(connection_id)
        if row is None or row.client_id != client_id:
            return None
        if consumer_id is not None and consumer_id not in self.db.clients:
            raise FakeIntegrityError(f"no client {consumer_id}")
        self.db.connections[connection_id] = dataclasses.replace(row, consumer_id=consumer_id)
        return connection_info(self.db.connections[connection_id])

    async def users_page(self, page: PageRequest) -> Page[UserRecord]:
        return page_of(sorted(self.db.users.values(), key=lambda row: (row.email, row.id)), page)

    async def unblock_user(self, user_id: UUID, now: int) -> bool:
        user = self.db.users.get(user_id)
        if user is None:
            return False
        self.db.users[user_id] = dataclasses.replace(user, is_blocked=False)
        return True

    async def approvals_page(
        self, page: PageRequest, user_id: UUID | None, client_id: UUID | None
    ) -> Page[ApprovalRecord]:
        rows = [
            self.db.approvals[approval_id]
            for approval_id in self.db.by_insertion(self.db.approvals)
            if user_id in (None, self.db.approvals[approval_id].user_id)
            and client_id in (None, self.db.approvals[approval_id].client_id)
        ]
        return page_of(rows, page)

    async def delete_approval_by_id(self, approval_id: UUID, now: int) -> bool:
        existing = self.db.approvals.get(approval_id)
        if existing is None:
            return False
        return await self.delete_approval(existing.user_id, existing.client_id, now)

    async def tokens_page(
        self, page: PageRequest, user_id: UUID | None, client_id: UUID | None
    ) -> Page[TokenInfo]:
        rows = sorted(
            (
                row
                for row in self.db.tokens.values()
                if user_id in (None, row.token.user_id) and client_id in (None, row.token.client_id)
            ),
            key=lambda row: (-row.token.issued_at, row.token.id),
        )
        return page_of([token_info(row) for row in rows], page)

    async def revoke_token(self, token_id: UUID, now: int) -> TokenInfo | None:
        row = self.db.tokens.get(token_id)
        if row is None:
            return None
        if row.revoked_at is None:
            row.revoked_at = now
        return token_info(row)

    async def revoke_user_tokens(self, user_id: UUID, client_id: UUID | None, now: int) -> int:
        return self.db.revoke_tokens(
            now,
            lambda token: token.user_id == user_id and client_id in (None, token.client_id),
        )


class FakeVerifyStore:
    """The VerifyStore port, mirroring `SqlVerifyStore`'s outer-joined read."""

    def __init__(self, db: FakeDatabase) -> None:
        self.db = db

    async def load_token(self, value_hash: bytes) -> VerifyContext | None:
        row = self.db.token_by_hash(value_hash)
        if row is None:
            return None
        token = row.token
        client = self.db.clients.get(token.client_id)
        user = self.db.users.get(token.user_id)
        connection = self.db.connections.get(token.connection_id) if token.connection_id else None
        approval = self.db.approval_for(token.user_id, token.client_id)
        kind = self.db.client_types.get(client.client_type_id) if client else None
        return VerifyContext(
            id=token.id,
            name=token.name.value,
            expires_at=token.expires_at,
            revoked=row.revoked_at is not None,
            user_id=token.user_id,
            details=dict(token.details),
            approval_exists=self.db.approval_for(token.user_id, token.client_id) is not None,
            client_blocked=bool(client and client.is_blocked),
            user_blocked=bool(user and user.is_blocked),
            mis_client_id=connection.consumer_id if connection else None,
            issued_at=token.issued_at,
            scope=token.scope,
            approval_scope=approval.scope if approval else None,
            type_scope=kind.scope if kind else None,
        )


class FakeClientSecretStore:
    """The ClientSecretStore port, mirroring `SqlClientSecretStore`."""

    def __init__(self, db: FakeDatabase) -> None:
        self.db = db

    async def client_blocked(self, client_id: UUID, secret_hash: bytes) -> bool | None:
        for connection in self.db.connections.values():
            if connection.client_id == client_id and hmac.compare_digest(
                connection.secret_hash, secret_hash
            ):
                return self.db.clients[client_id].is_blocked
        return None


class FakeRevocationStore:
    """The RevocationStore port, mirroring `SqlRevocationStore`."""

    def __init__(self, db: FakeDatabase) -> None:
        self.db = db

    async def token_by_hash(self, value_hash: bytes) -> RevocableToken | None:
        row = self.db.token_by_hash(value_hash)
        if row is None:
            return None
        token = row.token
        return RevocableToken(token.id, token.name.value, token.client_id, token.family_id)

    async def revoke_token(self, token_id: UUID, now: int) -> bool:
        return self.db.revoke_tokens(now, lambda token: token.id == token_id) == 1

    async def revoke_family(self, family_id: UUID, now: int) -> int:
        return self.db.revoke_family(family_id, now, for_reuse=False)


class RecordingGrant:
    """A Grant that answers with a fixed token and remembers what it was asked."""

    def __init__(self, grant_type: str, answer: IssuedToken) -> None:
        self.grant_type = grant_type
        self.answer = answer
        self.calls: list[Mapping[str, object]] = []
        self.requested_scopes: list[str | None] = []
        self.sources: list[str] = []

    async def handle(
        self,
        params: Mapping[str, object],
        requested_scope: str | None = None,
        *,
        source: str = "",
    ) -> IssuedToken:
        self.calls.append(params)
        self.requested_scopes.append(requested_scope)
        self.sources.append(source)
        return self.answer


class FakePurgeStore:
    """The PurgeStore port, mirroring `SqlPurgeStore`; remembers the size of each batch."""

    def __init__(self, db: FakeDatabase) -> None:
        self.db = db
        self.batches: list[int] = []
        self.erase_calls: list[int] = []

    async def delete_dead_tokens(self, cutoff: int, limit: int) -> int:
        dead = [
            token_id
            for token_id, row in self.db.tokens.items()
            if row.token.expires_at < cutoff
            or (row.revoked_at is not None and row.revoked_at < cutoff)
        ][:limit]
        for token_id in dead:
            del self.db.tokens[token_id]
        self.batches.append(len(dead))
        return len(dead)

    async def erase_successor_values(self, retired_before_ms: int) -> int:
        self.erase_calls.append(retired_before_ms)
        count = 0
        for row in self.db.tokens.values():
            if (
                row.successor_value_enc is not None
                and row.retired_at_ms is not None
                and row.retired_at_ms < retired_before_ms
            ):
                row.successor_value_enc = None
                count += 1
        return count
