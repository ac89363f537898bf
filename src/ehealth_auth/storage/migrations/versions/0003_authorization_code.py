"""Authorization-code flow: what a code remembers (the redirect URI it was issued for and the
PKCE challenge), and the per-account counter of login attempts.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tokens") as batch:
        batch.add_column(sa.Column("redirect_uri", sa.Text, nullable=True))
        batch.add_column(sa.Column("code_challenge", sa.String(128), nullable=True))
    op.create_table(
        "login_attempts",
        sa.Column("account_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("window_started_at", sa.BigInteger, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("account_hash", name="pk_login_attempts"),
    )


def downgrade() -> None:
    op.drop_table("login_attempts")
    with op.batch_alter_table("tokens") as batch:
        batch.drop_column("code_challenge")
        batch.drop_column("redirect_uri")
