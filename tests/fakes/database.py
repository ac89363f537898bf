"""The rows the fakes share: `FakeDatabase` holds them, as one engine holds the tables.

Where the schema would reject a write (a foreign key or unique constraint the protocol never
expects to hit), the fakes raise `FakeIntegrityError` instead of silently accepting data the
real database could not hold.
"""

from __future__ import annotations

import copy
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TypeVar
from uuid import UUID

from ehealth_auth.protocol.model import NewToken, TokenName
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

T = TypeVar("T")


class FakeIntegrityError(Exception):
    """A write the real schema would refuse (the SQL stores let IntegrityError propagate)."""


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

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All of the block's writes or none of them, like the SQL stores' transactions: when
        the block raises (a write the schema refuses), every table is put back as it was."""
        saved = copy.deepcopy(vars(self))
        try:
            yield
        except BaseException:
            for name, rows in saved.items():
                table = getattr(self, name)
                table.clear()
                table.update(rows)
            raise

    def insert_token(self, token: NewToken) -> None:
        if token.id in self.tokens:
            raise FakeIntegrityError(f"duplicate token id {token.id}")
        if any(row.token.value_hash == token.value_hash for row in self.tokens.values()):
            raise FakeIntegrityError("duplicate token value_hash")
        # Like the tables, no foreign keys (migration 0008): the admin store checks the parents
        # of the tokens it is given (`has_parents`); every other writer read them first.
        self.tokens[token.id] = TokenRow(token)

    def has_parents(self, token: NewToken) -> bool:
        return (
            token.user_id in self.users
            and token.client_id in self.clients
            and (token.connection_id is None or token.connection_id in self.connections)
        )

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
