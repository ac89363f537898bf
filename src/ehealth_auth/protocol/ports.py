"""Interfaces the protocol needs from the outside world, one small Protocol per capability."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol
from uuid import UUID

from ehealth_auth.protocol.model import NewToken


class Clock(Protocol):
    def now(self) -> int:
        """Current time as integer Unix seconds."""
        ...


class SecretHasher(Protocol):
    """Keyed digest of service-generated secrets (tokens, connection secrets)."""

    def digest(self, value: str) -> bytes: ...


class PasswordHasher(Protocol):
    """Slow, salted hash for secrets people choose (user passwords)."""

    def hash(self, password: str) -> str: ...

    def verify(self, password_hash: str, password: str) -> bool: ...


@dataclass(frozen=True)
class StoredRefreshToken:
    id: UUID
    client_id: UUID
    user_id: UUID
    expires_at: int
    revoked: bool
    family_id: UUID


@dataclass(frozen=True)
class RefreshContext:
    """Everything checks 6-11 of CONTRACT §2 need, read in one step.

    `token` is None when no refresh token has the presented hash; `user_blocked` and
    `approval_scope` describe the token's user and that user's approval for the calling client.
    """

    connection_id: UUID
    client_blocked: bool
    token: StoredRefreshToken | None
    user_blocked: bool
    approval_scope: str | None


class RefreshGrantStore(Protocol):
    async def load_refresh_context(
        self, client_id: UUID, secret_hash: bytes, token_hash: bytes
    ) -> RefreshContext | None:
        """The context for a refresh, or None when no connection of the client has that secret."""
        ...

    async def add_token(self, token: NewToken) -> None: ...
