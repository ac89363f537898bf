"""The storage interface behind operator actions. Each method is one atomic step."""

from __future__ import annotations

from typing import Protocol
from uuid import UUID

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


class AdminStore(Protocol):
    async def add_client_type(self, record: ClientTypeRecord, now: int) -> None:
        """Raises ConflictError when the name is taken."""
        ...

    async def client_type_by_name(self, name: str) -> ClientTypeRecord | None: ...

    async def client_type_of(self, client_id: UUID) -> ClientTypeRecord | None: ...

    async def add_client(
        self, client: ClientRecord, connection: ConnectionRecord, now: int
    ) -> None: ...

    async def client(self, client_id: UUID) -> ClientRecord | None: ...

    async def client_count(self) -> int: ...

    async def set_client_blocked(self, client_id: UUID, blocked: bool, now: int) -> bool:
        """False when there is no such client."""
        ...

    async def revoke_client_tokens(self, client_id: UUID, now: int) -> int:
        """Revoke every live token of the client; returns how many."""
        ...

    async def add_user(self, record: UserRecord, now: int) -> None:
        """Raises ConflictError when the email is taken (whatever its case)."""
        ...

    async def user(self, user_id: UUID) -> UserRecord | None: ...

    async def set_password_hash(self, user_id: UUID, password_hash: str, now: int) -> bool: ...

    async def clear_attempts(self, account: bytes) -> bool:
        """Forget an account's counted login attempts; False when there were none."""
        ...

    async def block_user(self, user_id: UUID, now: int) -> bool:
        """Block the user and revoke all their tokens in one transaction."""
        ...

    async def approval(self, user_id: UUID, client_id: UUID) -> ApprovalRecord | None: ...

    async def save_approval(self, record: ApprovalRecord, now: int) -> ApprovalRecord:
        """Insert, or update the scope of the existing (user, client) approval; returns it."""
        ...

    async def delete_approval(self, user_id: UUID, client_id: UUID, now: int) -> bool:
        """Delete the approval and revoke that user's tokens for that client, atomically."""
        ...

    async def add_token(self, token: NewToken) -> None: ...

    # Listings and lookups of the admin API. None of them returns a secret, a token value or a
    # hash of either.

    async def client_types_page(self, page: PageRequest) -> Page[ClientTypeRecord]: ...

    async def client_details(self, client_id: UUID) -> ClientDetails | None: ...

    async def clients_page(self, page: PageRequest) -> Page[ClientDetails]: ...

    async def replace_connection_secret(
        self, client_id: UUID, connection_id: UUID, secret_hash: bytes, now: int
    ) -> ConnectionInfo | None:
        """Store the new secret's hash; None when the client has no such connection."""
        ...

    async def set_connection_consumer(
        self, client_id: UUID, connection_id: UUID, consumer_id: UUID | None, now: int
    ) -> ConnectionInfo | None:
        """Set the connection's consumer client; None when the client has no such connection."""
        ...

    async def users_page(self, page: PageRequest) -> Page[UserRecord]: ...

    async def unblock_user(self, user_id: UUID, now: int) -> bool:
        """False when there is no such user."""
        ...

    async def approvals_page(
        self, page: PageRequest, user_id: UUID | None, client_id: UUID | None
    ) -> Page[ApprovalRecord]: ...

    async def delete_approval_by_id(self, approval_id: UUID, now: int) -> bool:
        """Like delete_approval, for the approval with this id."""
        ...

    async def tokens_page(
        self, page: PageRequest, user_id: UUID | None, client_id: UUID | None
    ) -> Page[TokenInfo]:
        """Newest first."""
        ...

    async def revoke_token(self, token_id: UUID, now: int) -> TokenInfo | None:
        """Revoke one token (an already revoked one keeps its time); None when there is none."""
        ...

    async def revoke_user_tokens(self, user_id: UUID, client_id: UUID | None, now: int) -> int:
        """Revoke the user's live tokens, of one client or of all; returns how many."""
        ...
