"""Tokens as values (CONTRACT §2, §5): as stored, as issued, and as the stores read them back
for a check. Shared by the grants, the stores and the renderers.

Clients, users, approvals and the throttle's counters are in records.py.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from enum import StrEnum
from functools import lru_cache
from typing import Generic, TypeVar
from uuid import UUID

from ehealth_auth.protocol.scope import parse


class TokenName(StrEnum):
    AUTHORIZATION_CODE = "authorization_code"
    ACCESS_TOKEN = "access_token"  # noqa: S105  (a token kind, not a secret)
    REFRESH_TOKEN = "refresh_token"  # noqa: S105


@dataclass(frozen=True)
class NewToken:
    """A token as it is stored: the value itself never leaves the grant, only its hash."""

    id: UUID
    name: TokenName
    value_hash: bytes
    issued_at: int
    expires_at: int
    user_id: UUID
    client_id: UUID
    scope: str
    details: dict[str, str]
    family_id: UUID
    parent_id: UUID | None = None
    connection_id: UUID | None = None
    redirect_uri: str | None = None  # authorization codes only
    code_challenge: str | None = None  # authorization codes only (PKCE S256)


@dataclass(frozen=True)
class TokenDraft:
    """A token a refresh may store with its context read, in one statement (an access token,
    and with rotation the successor refresh token): what is known before the read (its id, its
    value's hash, its times, its grant). The rest comes from what the read finds: the presented
    refresh token's user, family and id, the connection that matched the secret, and the user's
    approval scope (also put in its details, with the client id, and for an access token the
    grant, as `RefreshTokenGrant` does)."""

    id: UUID
    value_hash: bytes
    issued_at: int
    expires_at: int
    grant_type: str


@dataclass(frozen=True)
class RotationDraft:
    """A rotation a refresh may do with its context read, in one statement: the access token and
    the successor drafted before the read, the retirement's time (Unix ms), the successor's
    value sealed for the grace window (or None), and whether the family's earlier access tokens
    are revoked with it."""

    access: TokenDraft
    successor: TokenDraft
    retired_at_ms: int
    sealed: bytes | None
    revoke_earlier_access: bool


@dataclass(frozen=True)
class IssuedToken:
    """A token as the client sees it once: the six fields of CONTRACT §2 `data`."""

    id: UUID
    name: TokenName
    value: str
    expires_at: int
    user_id: UUID
    details: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class MintedToken:
    """A new token in both of its forms: the row to store and the answer to give once."""

    record: NewToken
    issued: IssuedToken


@dataclass(frozen=True)
class VerifyContext:
    """A stored token and everything verify's checks 2-5 need about it, read in one step.

    `mis_client_id` is the consumer (MIS) client of the connection the token was issued
    through; None for tokens minted by an operator or through a connection without a consumer.
    """

    id: UUID
    name: str
    expires_at: int
    revoked: bool
    user_id: UUID
    details: dict[str, str]
    approval_exists: bool
    client_blocked: bool
    user_blocked: bool
    mis_client_id: UUID | None
    issued_at: int
    scope: str = ""
    approval_scope: str | None = None
    type_scope: str | None = None

    def scope_allowed(self) -> bool:
        """No scope beyond the user's approval for the client and the client type's ceiling."""
        return _scope_within(
            self.scope,
            self.approval_scope or "",
            self.type_scope or "",
            login=self.details.get("grant_type") == "password",
        )


# Verify asks this of every call with the few scope strings a deployment has: answered once
# each (bounded: the strings come from the database, not from callers).
@lru_cache(maxsize=1024)
def _scope_within(scope: str, approval_scope: str, type_scope: str, *, login: bool) -> bool:
    approved = set(parse(approval_scope)) & set(parse(type_scope))
    return all(item in approved or (login and item == "app:authorize") for item in parse(scope))


@dataclass(frozen=True)
class VerifiedToken:
    token: IssuedToken
    mis_client_id: UUID | None
    issued_at: int  # for introspection's `iat` (RFC 7662); verify's answer does not show it


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


@dataclass(frozen=True)
class RevocableToken:
    """What revocation (RFC 7009) needs to know of a token found by its value."""

    id: UUID
    name: str
    client_id: UUID
    family_id: UUID


# The grants' view of a presented refresh token or authorization code. Both grants read the
# same context (CONTRACT §2 checks 5-11, §3), so the twins share one shape.


@dataclass(frozen=True, kw_only=True)
class StoredGrant:
    """What every grant checks about the presented token or code, as stored."""

    id: UUID
    client_id: UUID
    user_id: UUID
    expires_at: int
    revoked: bool
    family_id: UUID
    connection_id: UUID | None = None  # None for an operator's mint


@dataclass(frozen=True, kw_only=True)
class StoredRefreshToken(StoredGrant):
    retired_at_ms: int | None = None
    successor_id: UUID | None = None
    successor_value_enc: bytes | None = None
    revoked_for_reuse: bool = False  # its family was revoked because a token of it was reused


@dataclass(frozen=True, kw_only=True)
class StoredCode(StoredGrant):
    scope: str
    consumed: bool
    redirect_uri: str
    code_challenge: str | None


StoredT = TypeVar("StoredT", bound=StoredGrant)


@dataclass(frozen=True, kw_only=True)
class GrantContext(ABC, Generic[StoredT]):
    """Everything a grant checks, read in one step: the connection whose secret matched, its
    client's blocked flag, the presented item (`stored`: None when nothing of the grant's kind
    has the presented hash), and that item's user's blocked flag and approval scope for the
    calling client."""

    connection_id: UUID
    client_blocked: bool
    user_blocked: bool
    approval_scope: str | None

    @property
    @abstractmethod
    def stored(self) -> StoredT | None:
        """The presented item, under the name its grant gives it."""


@dataclass(frozen=True, kw_only=True)
class RefreshContext(GrantContext[StoredRefreshToken]):
    """The context of a refresh (CONTRACT §2 checks 6-11)."""

    token: StoredRefreshToken | None

    @property
    def stored(self) -> StoredRefreshToken | None:
        return self.token


@dataclass(frozen=True, kw_only=True)
class CodeContext(GrantContext[StoredCode]):
    """The context of a code exchange (CONTRACT §3)."""

    code: StoredCode | None

    @property
    def stored(self) -> StoredCode | None:
        return self.code


@dataclass(frozen=True)
class Rotated:
    """A rotation that retired the presented token and stored its successor."""


@dataclass(frozen=True)
class LostRace:
    """A rotation that found the presented token already retired or revoked: nothing was
    written. `token` is the presented token as the winner left it, read in the same
    transaction after the retiring update touched no row."""

    token: StoredRefreshToken
