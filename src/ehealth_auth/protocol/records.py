"""Records of operator-managed entities (client types, clients, connections, users, approvals),
the views of them that the login, the consent page and operators get, and the throttle's
counters. Tokens as values are in model.py."""

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


@dataclass(frozen=True)
class NewClient:
    client: ClientRecord
    client_type: ClientTypeRecord
    connection: ConnectionRecord
    secret: str  # shown to the operator once, never stored


@dataclass(frozen=True)
class NewSecret:
    connection: ConnectionInfo
    secret: str  # shown to the operator once, never stored


@dataclass(frozen=True)
class ClientProfile:
    """A client as the login and the consent page see it: its ceiling and its connections."""

    id: UUID
    name: str
    is_blocked: bool
    type_scope: str
    redirect_uris: tuple[tuple[UUID, str], ...] = ()  # (connection id, registered URI)


@dataclass(frozen=True)
class LoginUser:
    id: UUID
    password_hash: str
    is_blocked: bool


@dataclass(frozen=True)
class CounterKey:
    """One failure counter of the throttle: `key` is a keyed digest, `target` the digest of the
    target it concerns (None for a source address), so that an operator can clear an account's
    counters."""

    key: bytes
    target: bytes | None
    limit: int


@dataclass(frozen=True)
class LiveCount:
    key: bytes
    expires_at: int
    failures: int
