"""Minting token values (CONTRACT §5): random, URL-safe, >= 128 bits, stored only as hashes."""

from __future__ import annotations

import secrets
from uuid import UUID

from uuid_utils.compat import uuid7

from ehealth_auth.protocol.model import IssuedToken, MintedToken, NewToken, TokenDraft, TokenName
from ehealth_auth.protocol.ports import SecretHasher

TOKEN_BYTES = 32  # 256 bits of entropy, well above the contract's 128-bit floor


def new_token_id() -> UUID:
    """A token's id (and a new family's): a UUIDv7 (RFC 9562 §5.7), ordered by issue time, so the
    tokens table's primary key and family index take new rows at their right edge rather than on
    a random page of indexes that outgrow memory. The id is no secret: the value is."""
    return uuid7()


def new_token_value() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def draft_token(
    hasher: SecretHasher, now: int, ttl: int, grant_type: str
) -> tuple[str, TokenDraft]:
    """A new token's value and its draft (what a store may write before `mint`)."""
    value = new_token_value()
    return value, TokenDraft(new_token_id(), hasher.digest(value), now, now + ttl, grant_type)


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
    drafted: tuple[str, TokenDraft] | None = None,
) -> MintedToken:
    """Create a token; a token without a family starts a new one (a new authorization).
    `drafted` (from `draft_token`) gives the value, id and value hash of a token drafted
    before its context was read; otherwise they are new."""
    if drafted is None:
        value = new_token_value()
        token_id = new_token_id()
        value_hash = hasher.digest(value)
    else:
        value, draft = drafted
        token_id, value_hash = draft.id, draft.value_hash
    expires_at = now + ttl
    record = NewToken(
        id=token_id,
        name=name,
        value_hash=value_hash,
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
