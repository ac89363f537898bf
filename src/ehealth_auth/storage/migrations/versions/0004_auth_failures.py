"""Throttling of online guessing: failed authentications per key and window, shared by every
server process. They replace the per-account login counter of 0003.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "auth_failures",
        sa.Column("key_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("window_start", sa.BigInteger, nullable=False),
        sa.Column("target_hash", sa.LargeBinary(32), nullable=True),
        sa.Column("failures", sa.Integer, nullable=False),
        sa.Column("expires_at", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("key_hash", "window_start", name="pk_auth_failures"),
    )
    op.create_index("ix_auth_failures_expires_at", "auth_failures", ["expires_at"])
    op.create_index("ix_auth_failures_target_hash", "auth_failures", ["target_hash"])
    # Attempt counts are short-lived: nothing to carry over.
    op.drop_table("login_attempts")


def downgrade() -> None:
    op.create_table(
        "login_attempts",
        sa.Column("account_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("window_started_at", sa.BigInteger, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("account_hash", name="pk_login_attempts"),
    )
    op.drop_index("ix_auth_failures_target_hash", "auth_failures")
    op.drop_index("ix_auth_failures_expires_at", "auth_failures")
    op.drop_table("auth_failures")
