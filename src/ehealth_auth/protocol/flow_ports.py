"""The code exchange's store and the values it reads (CONTRACT §3). The other ports of the
authorization-code flow are in ports.py."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol
from uuid import UUID

from ehealth_auth.protocol.model import NewToken


@dataclass(frozen=True)
class StoredCode:
    id: UUID
    client_id: UUID
    user_id: UUID
    connection_id: UUID | None
    scope: str
    expires_at: int
    revoked: bool
    consumed: bool
    family_id: UUID
    redirect_uri: str
    code_challenge: str | None


@dataclass(frozen=True)
class CodeContext:
    """Everything the code exchange checks, read in one step (like RefreshContext).

    `code` is None when no authorization code has the presented hash; `user_blocked` and
    `approval_scope` describe the code's user and that user's approval for the calling client.
    """

    connection_id: UUID
    client_blocked: bool
    code: StoredCode | None
    user_blocked: bool
    approval_scope: str | None


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
