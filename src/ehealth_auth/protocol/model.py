"""Tokens as values (CONTRACT §2, §5): as stored, as issued, and as the stores read them back
for a check. Shared by the grants, the stores and the renderers.

Clients, users, approvals and the throttle's counters are in records.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
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
        login = self.details.get("grant_type") == "password"
        approved = set(parse(self.approval_scope or "")) & set(parse(self.type_scope or ""))
        return all(
            item in approved or (login and item == "app:authorize") for item in parse(self.scope)
        )


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
