"""Cheaper token writes: no foreign keys on `tokens`, and the `revoked_at` index holds revoked
tokens only.

Every refresh, login and code exchange inserts a token. With the foreign keys, each insert also
looked up and share-locked its user, client and connection rows (`FOR KEY SHARE`); concurrent
refreshes of one client all lock that client's row, which PostgreSQL records in a MultiXact per
overlap. A token's user, client and connection are always taken from rows the same statement or
an earlier check read, and none of those rows is ever deleted (they are blocked instead), so the
keys guarded nothing the code does not. Live tokens (`revoked_at` null) are most of the table and
none of the purge's `revoked_at < cutoff`: the index leaves them out, and inserts skip it.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

# (constraint, column, referred table)
_KEYS = (
    ("fk_tokens_user_id_users", "user_id", "users"),
    ("fk_tokens_client_id_clients", "client_id", "clients"),
    ("fk_tokens_connection_id_connections", "connection_id", "connections"),
)
_REVOKED = sa.text("revoked_at IS NOT NULL")


def upgrade() -> None:
    with op.batch_alter_table("tokens") as batch:
        for name, _column, _table in _KEYS:
            batch.drop_constraint(name, type_="foreignkey")
        batch.drop_index("ix_tokens_revoked_at")
        batch.create_index(
            "ix_tokens_revoked_at",
            ["revoked_at"],
            postgresql_where=_REVOKED,
            sqlite_where=_REVOKED,
        )


def downgrade() -> None:
    with op.batch_alter_table("tokens") as batch:
        batch.drop_index("ix_tokens_revoked_at")
        batch.create_index("ix_tokens_revoked_at", ["revoked_at"])
        for name, column, table in _KEYS:
            batch.create_foreign_key(name, table, [column], ["id"])
