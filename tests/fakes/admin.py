"""The operators' store port."""

from __future__ import annotations

import dataclasses
from uuid import UUID

from ehealth_auth.protocol.errors import UNKNOWN_TOKEN_OWNER, ConflictError, NotFoundError
from ehealth_auth.protocol.model import NewToken
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
from tests.fakes.database import (
    FakeDatabase,
    FakeIntegrityError,
    connection_info,
    page_of,
    token_info,
)


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
        if not self.db.has_parents(token):
            raise NotFoundError(UNKNOWN_TOKEN_OWNER)
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
        if any(
            other.secret_hash == secret_hash and other.id != connection_id
            for other in self.db.connections.values()
        ):
            raise FakeIntegrityError("duplicate connection secret_hash")
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
