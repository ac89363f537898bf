"""Token rows: the one writer of a `tokens` row from a NewToken, and one reader per value a store
returns. (The one-statement refresh, refresh_store.py, builds its access row in SQL from the
context it reads; tests/acceptance/test_refresh_contract.py compares it with this writer's.)

Rows are addressed by column name (or label); UUID and JSON values are converted by whoever
runs the statement (the engine's types, or storage/driver.py), so both sides here deal in
Python values.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
import sqlalchemy as sa

from ehealth_auth.protocol.model import (
    CodeContext,
    NewToken,
    RefreshContext,
    RevocableToken,
    StoredCode,
    StoredRefreshToken,
    VerifyContext,
)
from ehealth_auth.storage.tables import tokens

Row = Mapping[str, Any]

REUSE = "reuse"  # `revoked_reason` of a family revoked because one of its tokens was reused


def token_row(token: NewToken) -> dict[str, object]:
    """The `tokens` row of a new token: its fields, the kind as its string name."""
    return {**vars(token), "name": token.name.value}


# The columns each reader needs, selected under their own names.
REFRESH_TOKEN_COLUMNS: tuple[sa.ColumnElement[Any], ...] = (
    tokens.c.id,
    tokens.c.client_id,
    tokens.c.user_id,
    tokens.c.expires_at,
    tokens.c.revoked_at,
    tokens.c.family_id,
    tokens.c.retired_at_ms,
    tokens.c.successor_id,
    tokens.c.successor_value_enc,
    tokens.c.revoked_reason,
    tokens.c.connection_id,
)

CODE_COLUMNS: tuple[sa.ColumnElement[Any], ...] = (
    tokens.c.id,
    tokens.c.client_id,
    tokens.c.user_id,
    tokens.c.connection_id,
    tokens.c.scope,
    tokens.c.expires_at,
    tokens.c.revoked_at,
    tokens.c.retired_at_ms,
    tokens.c.family_id,
    tokens.c.redirect_uri,
    tokens.c.code_challenge,
)


def stored_refresh_token(row: Row) -> StoredRefreshToken:
    return StoredRefreshToken(
        id=row["id"],
        client_id=row["client_id"],
        user_id=row["user_id"],
        expires_at=row["expires_at"],
        revoked=row["revoked_at"] is not None,
        family_id=row["family_id"],
        retired_at_ms=row["retired_at_ms"],
        successor_id=row["successor_id"],
        successor_value_enc=row["successor_value_enc"],
        revoked_for_reuse=row["revoked_reason"] == REUSE,
        connection_id=row["connection_id"],
    )


def stored_code(row: Row) -> StoredCode:
    return StoredCode(
        id=row["id"],
        client_id=row["client_id"],
        user_id=row["user_id"],
        connection_id=row["connection_id"],
        scope=row["scope"],
        expires_at=row["expires_at"],
        revoked=row["revoked_at"] is not None,
        consumed=row["retired_at_ms"] is not None,
        family_id=row["family_id"],
        redirect_uri=row["redirect_uri"] or "",
        code_challenge=row["code_challenge"],
    )


# The grants' context read (refresh_store.grant_context_query) labels what it joins to the
# token so that the token's own columns keep their names.
def refresh_context(row: Row) -> RefreshContext:
    return RefreshContext(
        connection_id=row["matched_connection_id"],
        client_blocked=bool(row["client_blocked"]),
        token=None if row["id"] is None else stored_refresh_token(row),
        user_blocked=bool(row["user_blocked"]),
        approval_scope=row["approval_scope"],
    )


def code_context(row: Row) -> CodeContext:
    return CodeContext(
        connection_id=row["matched_connection_id"],
        client_blocked=bool(row["client_blocked"]),
        code=None if row["id"] is None else stored_code(row),
        user_blocked=bool(row["user_blocked"]),
        approval_scope=row["approval_scope"],
    )


def verify_context(row: Row) -> VerifyContext:
    return VerifyContext(
        id=row["id"],
        name=row["name"],
        expires_at=row["expires_at"],
        revoked=row["revoked_at"] is not None,
        user_id=row["user_id"],
        details=orjson.loads(row["details"]),  # both drivers hand json columns over as text
        approval_exists=row["approval_id"] is not None,
        client_blocked=bool(row["client_blocked"]),
        user_blocked=bool(row["user_blocked"]),
        mis_client_id=row["consumer_id"],
        issued_at=row["issued_at"],
        scope=row["scope"],
        approval_scope=row["approval_scope"],
        type_scope=row["type_scope"],
    )


def revocable_token(row: Row) -> RevocableToken:
    return RevocableToken(row["id"], row["name"], row["client_id"], row["family_id"])
