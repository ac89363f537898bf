"""Token rows made in bulk for the scenarios that need many: single-use refresh or dead tokens.

They are written straight into the tokens table (Backend.insert_tokens), with the columns and
values the service writes for an operator-minted token: a family of its own, no parent, the
value stored as its HMAC-SHA-256 under the server key, UUIDs as the backend stores them. Every
seeded row has no parent, and every token a run issues has one, which is how a reset tells
them apart (see bench/backends.py).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from collections.abc import Sequence
from typing import NamedTuple
from uuid import UUID

import orjson

from bench.seed import Seed

DAY = 86_400
REFRESH_TOKEN = "refresh_token"
ACCESS_TOKEN = "access_token"
REFRESH_TOKEN_TTL = 30 * DAY  # the service's default EHEALTH_AUTH_REFRESH_TOKEN_TTL
ACCESS_TOKEN_TTL = 28_800  # the service's default EHEALTH_AUTH_ACCESS_TOKEN_TTL
TOKEN_BYTES = 32  # as the service mints them

TOKEN_COLUMNS = (
    "id",
    "name",
    "value_hash",
    "issued_at",
    "expires_at",
    "user_id",
    "client_id",
    "scope",
    "details",
    "family_id",
    "parent_id",
    "connection_id",
)


class TokenRow(NamedTuple):
    """One row of the tokens table, in TOKEN_COLUMNS order; `details` is JSON text."""

    id: UUID
    name: str
    value_hash: bytes
    issued_at: int
    expires_at: int
    user_id: UUID
    client_id: UUID
    scope: str
    details: str
    family_id: UUID
    parent_id: UUID | None
    connection_id: UUID | None


def digest(key: bytes, value: str) -> bytes:
    """The service's value hash: HMAC-SHA-256 under the server key."""
    return hmac.new(key, value.encode("utf-8", "surrogatepass"), hashlib.sha256).digest()


def _row(
    seed: Seed, key: bytes, name: str, issued_at: int, expires_at: int
) -> tuple[TokenRow, str]:
    value = secrets.token_urlsafe(TOKEN_BYTES)
    token_id = uuid.uuid4()
    details = orjson.dumps({"client_id": seed.client_id, "scope": seed.scope}).decode()
    row = TokenRow(
        id=token_id,
        name=name,
        value_hash=digest(key, value),
        issued_at=issued_at,
        expires_at=expires_at,
        user_id=UUID(seed.user_id),
        client_id=UUID(seed.client_id),
        scope=seed.scope,
        details=details,
        family_id=token_id,
        parent_id=None,
        connection_id=UUID(seed.connection_id),
    )
    return row, value


def refresh_tokens(
    seed: Seed, key: bytes, count: int, now: int
) -> tuple[list[TokenRow], list[str]]:
    """`count` live refresh tokens of the seeded user and client, and their values."""
    rows: list[TokenRow] = []
    values: list[str] = []
    for _ in range(count):
        row, value = _row(seed, key, REFRESH_TOKEN, now, now + REFRESH_TOKEN_TTL)
        rows.append(row)
        values.append(value)
    return rows, values


def expired_tokens(
    seed: Seed, key: bytes, count: int, now: int, min_age_days: int
) -> Sequence[TokenRow]:
    """`count` tokens that expired between `min_age_days` + 1 and `min_age_days` + 31 days ago.

    One in five is a refresh token, the others access tokens, as the service leaves them behind;
    the expiry times are spread over the month so that the expiry index is not one value.
    """
    rows: list[TokenRow] = []
    oldest = now - (min_age_days + 31) * DAY
    span = 30 * DAY
    for index in range(count):
        expires_at = oldest + (index * span) // count
        if index % 5 == 0:
            row, _ = _row(seed, key, REFRESH_TOKEN, expires_at - REFRESH_TOKEN_TTL, expires_at)
        else:
            row, _ = _row(seed, key, ACCESS_TOKEN, expires_at - ACCESS_TOKEN_TTL, expires_at)
        rows.append(row)
    return rows
