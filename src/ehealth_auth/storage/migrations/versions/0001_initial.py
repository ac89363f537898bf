"""Initial schema: client types, clients, connections, users, approvals, tokens.

Revision ID: 0001
Revises:
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _timestamps() -> list[sa.Column[int]]:
    return [
        sa.Column("inserted_at", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "client_types",
        sa.Column("id", sa.Uuid, nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("scope", sa.Text, nullable=False),
        *_timestamps(),
        sa.PrimaryKeyConstraint("id", name="pk_client_types"),
        sa.UniqueConstraint("name", name="uq_client_types_name"),
    )
    op.create_table(
        "clients",
        sa.Column("id", sa.Uuid, nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("client_type_id", sa.Uuid, nullable=False),
        sa.Column("is_blocked", sa.Boolean, nullable=False),
        *_timestamps(),
        sa.PrimaryKeyConstraint("id", name="pk_clients"),
        sa.ForeignKeyConstraint(
            ["client_type_id"], ["client_types.id"], name="fk_clients_client_type_id_client_types"
        ),
    )
    op.create_table(
        "connections",
        sa.Column("id", sa.Uuid, nullable=False),
        sa.Column("client_id", sa.Uuid, nullable=False),
        sa.Column("consumer_id", sa.Uuid, nullable=True),
        sa.Column("secret_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("redirect_uri", sa.Text, nullable=False),
        *_timestamps(),
        sa.PrimaryKeyConstraint("id", name="pk_connections"),
        sa.ForeignKeyConstraint(
            ["client_id"], ["clients.id"], name="fk_connections_client_id_clients"
        ),
        sa.ForeignKeyConstraint(
            ["consumer_id"], ["clients.id"], name="fk_connections_consumer_id_clients"
        ),
        sa.UniqueConstraint("secret_hash", name="uq_connections_secret_hash"),
    )
    op.create_index("ix_connections_client_id", "connections", ["client_id"])
    op.create_table(
        "users",
        sa.Column("id", sa.Uuid, nullable=False),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("password_hash", sa.Text, nullable=False),
        sa.Column("is_blocked", sa.Boolean, nullable=False),
        *_timestamps(),
        sa.PrimaryKeyConstraint("id", name="pk_users"),
    )
    op.create_index("uq_users_email_lower", "users", [sa.text("lower(email)")], unique=True)
    op.create_table(
        "approvals",
        sa.Column("id", sa.Uuid, nullable=False),
        sa.Column("user_id", sa.Uuid, nullable=False),
        sa.Column("client_id", sa.Uuid, nullable=False),
        sa.Column("scope", sa.Text, nullable=False),
        *_timestamps(),
        sa.PrimaryKeyConstraint("id", name="pk_approvals"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name="fk_approvals_user_id_users"),
        sa.ForeignKeyConstraint(
            ["client_id"], ["clients.id"], name="fk_approvals_client_id_clients"
        ),
        sa.UniqueConstraint("user_id", "client_id", name="uq_approvals_user_id_client_id"),
    )
    op.create_index("ix_approvals_client_id", "approvals", ["client_id"])
    op.create_table(
        "tokens",
        sa.Column("id", sa.Uuid, nullable=False),
        sa.Column("name", sa.String(32), nullable=False),
        sa.Column("value_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("issued_at", sa.BigInteger, nullable=False),
        sa.Column("expires_at", sa.BigInteger, nullable=False),
        sa.Column("revoked_at", sa.BigInteger, nullable=True),
        sa.Column("user_id", sa.Uuid, nullable=False),
        sa.Column("client_id", sa.Uuid, nullable=False),
        sa.Column("scope", sa.Text, nullable=False),
        sa.Column("details", sa.JSON, nullable=False),
        sa.Column("family_id", sa.Uuid, nullable=False),
        sa.Column("parent_id", sa.Uuid, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_tokens"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name="fk_tokens_user_id_users"),
        sa.ForeignKeyConstraint(["client_id"], ["clients.id"], name="fk_tokens_client_id_clients"),
        sa.UniqueConstraint("value_hash", name="uq_tokens_value_hash"),
    )
    op.create_index("ix_tokens_family_id", "tokens", ["family_id"])
    op.create_index("ix_tokens_user_id_client_id", "tokens", ["user_id", "client_id"])
    op.create_index("ix_tokens_client_id", "tokens", ["client_id"])
    op.create_index("ix_tokens_expires_at", "tokens", ["expires_at"])


def downgrade() -> None:
    op.drop_table("tokens")
    op.drop_table("approvals")
    op.drop_index("uq_users_email_lower", table_name="users")
    op.drop_table("users")
    op.drop_table("connections")
    op.drop_table("clients")
    op.drop_table("client_types")
