"""Minting token values (CONTRACT §5): random, URL-safe, >= 128 bits, stored only as hashes."""

from __future__ import annotations

import secrets
import uuid
from uuid import UUID

from ehealth_auth.protocol.model import IssuedToken, MintedToken, NewToken, TokenName
from ehealth_auth.protocol.ports import SecretHasher

TOKEN_BYTES = 32  # 256 bits of entropy, well above the contract's 128-bit floor


def new_token_value() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def mint(
    hasher: SecretHasher,
    *,
    name: TokenName,
    now: int,
    ttl: int,
    user_id: UUID,
    client_id: UUID,
    scope: str,
    details: dict[str, str],
    family_id: UUID | None = None,
    parent_id: UUID | None = None,
    connection_id: UUID | None = None,
    redirect_uri: str | None = None,
    code_challenge: str | None = None,
    value: str | None = None,
    token_id: UUID | None = None,
) -> MintedToken:
    """Create a token; a token without a family starts a new one (a new authorization).
    `value` and `token_id` are new ones unless given (a token drafted before its context was
    read: refresh_token.py)."""
    value = value or new_token_value()
    token_id = token_id or uuid.uuid4()
    expires_at = now + ttl
    record = NewToken(
        id=token_id,
        name=name,
        value_hash=hasher.digest(value),
        issued_at=now,
        expires_at=expires_at,
        user_id=user_id,
        client_id=client_id,
        scope=scope,
        details=details,
        family_id=family_id or token_id,
        parent_id=parent_id,
        connection_id=connection_id,
        redirect_uri=redirect_uri,
        code_challenge=code_challenge,
    )
    issued = IssuedToken(
        id=token_id,
        name=name,
        value=value,
        expires_at=expires_at,
        user_id=user_id,
        details=details,
    )
    return MintedToken(record, issued)
