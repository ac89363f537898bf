"""Verify cache invalidation: triggers that NOTIFY `ehealth_auth_verify` (PostgreSQL only).

Only contexts of tokens that verified are cached, so only changes that can turn a passing answer
into another one matter; whatever code path makes them, the database reports them:
- an access token that is not revoked updated (revoked, expiry moved, re-pointed, ...) or deleted
  (unless it expired over an hour ago, as the purge's are): its hex value hash;
- a user, client, connection or client-type row changed or deleted, an approval changed or
  deleted (verify bounds a token's scope by the approval's and the client type's), any of these
  tables truncated: `*` (flush).
Row triggers carry a `WHEN` condition evaluated without calling the function, so the refresh
path (inserts, and updates of refresh tokens and codes) pays nothing measurable. SQLite has no
NOTIFY: the cache is off there and this migration does nothing.

Revision ID: 0007
Revises: 0005
Create Date: 2026-12-01
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0005"
branch_labels = None
depends_on = None

_FUNCTIONS = (
    """
    CREATE FUNCTION ehealth_auth_verify_token_changed() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM pg_notify('ehealth_auth_verify', encode(OLD.value_hash, 'hex'));
        RETURN NULL;
    END
    $$
    """,
    """
    CREATE FUNCTION ehealth_auth_verify_flush() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM pg_notify('ehealth_auth_verify', '*');
        RETURN NULL;
    END
    $$
    """,
)

# (name, table, timing and events, level and condition, function)
_TRIGGERS = (
    (
        "ehealth_auth_verify_token_update",
        "tokens",
        "AFTER UPDATE",
        "FOR EACH ROW WHEN (OLD.name = 'access_token' AND OLD.revoked_at IS NULL)",
        "ehealth_auth_verify_token_changed",
    ),
    # Purges delete tokens long expired: those cannot be cached any more (an entry goes at its
    # token's expiry), so they notify nobody; the hour covers clocks that disagree.
    (
        "ehealth_auth_verify_token_delete",
        "tokens",
        "AFTER DELETE",
        "FOR EACH ROW WHEN (OLD.name = 'access_token' AND OLD.revoked_at IS NULL"
        " AND OLD.expires_at > extract(epoch FROM now()) - 3600)",
        "ehealth_auth_verify_token_changed",
    ),
    *(
        (
            f"ehealth_auth_verify_{table}_update",
            table,
            "AFTER UPDATE",
            "FOR EACH ROW WHEN (OLD.* IS DISTINCT FROM NEW.*)",
            "ehealth_auth_verify_flush",
        )
        for table in ("users", "clients", "connections", "client_types", "approvals")
    ),
    *(
        (
            f"ehealth_auth_verify_{table}_delete",
            table,
            "AFTER DELETE OR TRUNCATE",
            "FOR EACH STATEMENT",
            "ehealth_auth_verify_flush",
        )
        for table in ("users", "clients", "connections", "client_types", "approvals")
    ),
    (
        "ehealth_auth_verify_tokens_truncate",
        "tokens",
        "AFTER TRUNCATE",
        "FOR EACH STATEMENT",
        "ehealth_auth_verify_flush",
    ),
)


def _postgresql() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade() -> None:
    if not _postgresql():
        return
    for function in _FUNCTIONS:
        op.execute(function)
    for name, table, events, level, function in _TRIGGERS:
        op.execute(
            f"CREATE TRIGGER {name} {events} ON {table} {level} EXECUTE FUNCTION {function}()"
        )


def downgrade() -> None:
    if not _postgresql():
        return
    for name, table, *_ in _TRIGGERS:
        op.execute(f"DROP TRIGGER {name} ON {table}")
    op.execute("DROP FUNCTION ehealth_auth_verify_flush()")
    op.execute("DROP FUNCTION ehealth_auth_verify_token_changed()")
