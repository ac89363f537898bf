"""Interfaces the protocol needs from the outside world, one small Protocol per capability."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, TypeVar
from uuid import UUID

from ehealth_auth.protocol.model import LostRace, NewToken, RefreshContext, Rotated


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


class PasswordWork(Protocol):
    """Where password hashing runs: off the event loop, a bounded number at once."""

    def has_room(self) -> bool:
        """Whether `run` would take more work now (so a request can be refused before any
        other work is done for it)."""
        ...

    async def run(self, work: Callable[[], T]) -> T:
        """The result of `work`; ServiceUnavailableError at once when too many are waiting."""
        ...


class SuccessorCipher(Protocol):
    """Authenticated encryption of a successor refresh token for the grace window (CONTRACT §6).

    `context` binds the ciphertext to the retired token, so it cannot be replayed for another.
    """

    def encrypt(self, value: str, context: bytes) -> bytes: ...

    def decrypt(self, blob: bytes, context: bytes) -> str | None:
        """The value, or None when the blob is not a valid encryption for this context."""
        ...


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
    ) -> Rotated | LostRace:
        """Retire the presented refresh token and store its successor and the access token, in
        one transaction. `LostRace`, with nothing written, when the token was already retired
        or revoked: it carries the token as the request that won left it."""
        ...

    async def revoke_family(self, family_id: UUID, now: int) -> int:
        """Revoke every live token descended from one authorization; returns how many."""
        ...
