"""Interfaces the protocol needs from the outside world, one small Protocol per capability."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Protocol, TypeVar
from uuid import UUID

from ehealth_auth.protocol.model import NewToken


class Clock(Protocol):
    def now(self) -> int:
        """Current time as integer Unix seconds."""
        ...

    def now_ms(self) -> int:
        """Current time as integer Unix milliseconds (for ordering requests against rotations)."""
        ...


class SecretHasher(Protocol):
    """Keyed digest of service-generated secrets (tokens, connection secrets)."""

    def digest(self, value: str) -> bytes: ...


class PasswordHasher(Protocol):
    """Slow, salted hash for secrets people choose (user passwords)."""

    def hash(self, password: str) -> str: ...

    def verify(self, password_hash: str, password: str) -> bool: ...


T = TypeVar("T")


class ReservedPasswordWork(Protocol):
    """A place in the password work, taken for one request."""

    async def run(self, work: Callable[[], T]) -> T:
        """The result of `work`, run in the place taken; ServiceUnavailableError when no
        thread took it up within the longest wait allowed (it never runs then)."""
        ...


class PasswordWork(Protocol):
    """Where password hashing runs: off the event loop, a bounded number at once."""

    def has_room(self) -> bool:
        """Whether `reserve` would take more work now."""
        ...

    def reserve(self) -> AbstractContextManager[ReservedPasswordWork]:
        """A place for one request's hashing, taken at once, before the request's other work
        (its lookups and writes), and given back when the block ends; ServiceUnavailableError at
        once when there is none."""
        ...

    async def run(self, work: Callable[[], T]) -> T:
        """The result of `work` in a place of its own; ServiceUnavailableError at once when
        there is none."""
        ...


class SuccessorCipher(Protocol):
    """Authenticated encryption of a successor refresh token for the grace window (CONTRACT §6).

    `context` binds the ciphertext to the retired token, so it cannot be replayed for another.
    """

    def encrypt(self, value: str, context: bytes) -> bytes: ...

    def decrypt(self, blob: bytes, context: bytes) -> str | None:
        """The value, or None when the blob is not a valid encryption for this context."""
        ...


@dataclass(frozen=True)
class StoredRefreshToken:
    id: UUID
    client_id: UUID
    user_id: UUID
    expires_at: int
    revoked: bool
    family_id: UUID
    retired_at_ms: int | None = None
    successor_id: UUID | None = None
    successor_value_enc: bytes | None = None
    revoked_for_reuse: bool = False  # its family was revoked because a token of it was reused
    connection_id: UUID | None = None  # None for an operator's mint


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

    async def add_access_token(self, access: NewToken, *, revoke_earlier_access: bool) -> None:
        """Store an access token; optionally revoke its family's earlier access tokens with it."""
        ...

    async def rotate(
        self,
        retired_id: UUID,
        retired_at_ms: int,
        successor: NewToken,
        successor_value_enc: bytes | None,
        access: NewToken,
        *,
        revoke_earlier_access: bool,
    ) -> bool:
        """Retire the presented refresh token and store its successor and the access token, in
        one transaction. False, with nothing written, when the token was already retired or
        revoked: the request lost a race."""
        ...

    async def revoke_family(self, family_id: UUID, now: int) -> int:
        """Revoke every live token descended from one authorization; returns how many."""
        ...
