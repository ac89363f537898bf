"""Value objects shared by the grants, the stores and the renderers (CONTRACT §2, §5)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from uuid import UUID


class TokenName(StrEnum):
    AUTHORIZATION_CODE = "authorization_code"
    ACCESS_TOKEN = "access_token"  # noqa: S105  (a token kind, not a secret)
    REFRESH_TOKEN = "refresh_token"  # noqa: S105


@dataclass(frozen=True)
class TokenPolicy:
    """Lifetimes and the refresh policy (CONTRACT §5, §6), built from settings at the edge."""

    access_ttl: int = 28_800
    refresh_ttl: int = 2_592_000
    code_ttl: int = 300
    rotation: bool = False
    reuse_grace: int = 0
    race_window_ms: int = 500
    revokes_previous_access: bool = False


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
