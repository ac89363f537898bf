"""Ports of the authorization-code flow: login, app authorization, code exchange (CONTRACT §3).

One small Protocol per capability; the SQL stores implement them, the unit tests fake them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol
from uuid import UUID

from ehealth_auth.protocol.model import CodeContext, NewToken


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


class ClientDirectory(Protocol):
    async def client_profile(self, client_id: UUID) -> ClientProfile | None: ...


class UserDirectory(Protocol):
    async def user_by_email(self, email: str) -> LoginUser | None:
        """The user with this email, whatever its case."""
        ...


class TokenWriter(Protocol):
    async def add_token(self, token: NewToken) -> None: ...

    async def revoke_access_token(self, token_hash: bytes, now: int) -> bool:
        """Revoke the live access token with this hash; False when there is none."""
        ...


class ApprovalLookup(Protocol):
    async def approved_scope(self, user_id: UUID, client_id: UUID) -> str | None:
        """The scope of the user's approval of the client, None without one."""
        ...


@dataclass(frozen=True)
class Bearer:
    """The token behind an `Authorization: Bearer` header, with what decides if it may act."""

    name: str
    user_id: UUID
    scope: str
    expires_at: int
    revoked: bool
    user_blocked: bool
    client_blocked: bool


class BearerLookup(Protocol):
    async def bearer(self, token_hash: bytes) -> Bearer | None: ...


class CodeStore(Protocol):
    async def load_code_context(
        self, client_id: UUID, secret_hash: bytes, code_hash: bytes
    ) -> CodeContext | None:
        """The context, or None when no connection of the client has that secret."""
        ...

    async def consume_code(
        self, code_id: UUID, consumed_at_ms: int, refresh: NewToken, access: NewToken
    ) -> bool:
        """Mark the code used and store the tokens issued for it, in one transaction. False,
        with nothing written, when the code was already used or revoked."""
        ...

    async def revoke_family(self, family_id: UUID, now: int) -> int:
        """Revoke every live token descended from one authorization; returns how many."""
        ...
