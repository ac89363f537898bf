"""Refresh-token rotation and token provenance: the connection a token was issued through, the
rotation marker, the successor and its short-lived encrypted value, and an index for purges.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tokens") as batch:
        batch.add_column(sa.Column("connection_id", sa.Uuid, nullable=True))
        batch.add_column(sa.Column("retired_at_ms", sa.BigInteger, nullable=True))
        batch.add_column(sa.Column("successor_id", sa.Uuid, nullable=True))
        batch.add_column(sa.Column("successor_value_enc", sa.LargeBinary, nullable=True))
        batch.create_foreign_key(
            "fk_tokens_connection_id_connections", "connections", ["connection_id"], ["id"]
        )
        batch.create_index("ix_tokens_revoked_at", ["revoked_at"])


def downgrade() -> None:
    with op.batch_alter_table("tokens") as batch:
        batch.drop_index("ix_tokens_revoked_at")
        batch.drop_constraint("fk_tokens_connection_id_connections", type_="foreignkey")
        batch.drop_column("successor_value_enc")
        batch.drop_column("successor_id")
        batch.drop_column("retired_at_ms")
        batch.drop_column("connection_id")
