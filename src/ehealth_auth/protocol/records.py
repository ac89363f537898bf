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
