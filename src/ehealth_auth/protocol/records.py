"""Records of operator-managed entities: client types, clients, connections, users, approvals."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID


@dataclass(frozen=True)
class ClientTypeRecord:
    id: UUID
    name: str
    scope: str


@dataclass(frozen=True)
class ClientRecord:
    id: UUID
    name: str
    client_type_id: UUID
    is_blocked: bool


@dataclass(frozen=True)
class ConnectionRecord:
    id: UUID
    client_id: UUID
    secret_hash: bytes
    redirect_uri: str
    consumer_id: UUID | None = None


@dataclass(frozen=True)
class UserRecord:
    id: UUID
    email: str
    password_hash: str
    is_blocked: bool


@dataclass(frozen=True)
class ApprovalRecord:
    id: UUID
    user_id: UUID
    client_id: UUID
    scope: str


@dataclass(frozen=True)
class ConnectionInfo:
    """A connection as operators see it: never its secret or the secret's hash."""

    id: UUID
    client_id: UUID
    redirect_uri: str
    consumer_id: UUID | None = None


@dataclass(frozen=True)
class ClientDetails:
    client: ClientRecord
    client_type: ClientTypeRecord
    connections: tuple[ConnectionInfo, ...]


@dataclass(frozen=True)
class TokenInfo:
    """A stored token as operators see it: never its value or the value's hash."""

    id: UUID
    name: str
    user_id: UUID
    client_id: UUID
    scope: str
    issued_at: int
    expires_at: int
    revoked_at: int | None
