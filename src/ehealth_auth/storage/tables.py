"""The schema, identical on SQLite and PostgreSQL. No column holds a usable secret.

Times are integer Unix seconds. Token values and connection secrets are stored as keyed
HMAC-SHA-256 digests; user passwords as argon2id hashes.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
    }
)

client_types = sa.Table(
    "client_types",
    metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("name", sa.String(255), nullable=False, unique=True),
    sa.Column("scope", sa.Text, nullable=False),
    sa.Column("inserted_at", sa.BigInteger, nullable=False),
    sa.Column("updated_at", sa.BigInteger, nullable=False),
)

clients = sa.Table(
    "clients",
    metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("client_type_id", sa.Uuid, sa.ForeignKey("client_types.id"), nullable=False),
    sa.Column("is_blocked", sa.Boolean, nullable=False, default=False),
    sa.Column("inserted_at", sa.BigInteger, nullable=False),
    sa.Column("updated_at", sa.BigInteger, nullable=False),
)

connections = sa.Table(
    "connections",
    metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("client_id", sa.Uuid, sa.ForeignKey("clients.id"), nullable=False, index=True),
    sa.Column("consumer_id", sa.Uuid, sa.ForeignKey("clients.id"), nullable=True),
    sa.Column("secret_hash", sa.LargeBinary(32), nullable=False, unique=True),
    sa.Column("redirect_uri", sa.Text, nullable=False),
    sa.Column("inserted_at", sa.BigInteger, nullable=False),
    sa.Column("updated_at", sa.BigInteger, nullable=False),
)

users = sa.Table(
    "users",
    metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("email", sa.String(320), nullable=False),
    sa.Column("password_hash", sa.Text, nullable=False),
    sa.Column("is_blocked", sa.Boolean, nullable=False, default=False),
    sa.Column("inserted_at", sa.BigInteger, nullable=False),
    sa.Column("updated_at", sa.BigInteger, nullable=False),
    # Emails are unique whatever their case.
    sa.Index("uq_users_email_lower", sa.func.lower(sa.column("email")), unique=True),
)

approvals = sa.Table(
    "approvals",
    metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("user_id", sa.Uuid, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("client_id", sa.Uuid, sa.ForeignKey("clients.id"), nullable=False, index=True),
    sa.Column("scope", sa.Text, nullable=False),
    sa.Column("inserted_at", sa.BigInteger, nullable=False),
    sa.Column("updated_at", sa.BigInteger, nullable=False),
    sa.UniqueConstraint("user_id", "client_id"),
)

tokens = sa.Table(
    "tokens",
    metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("name", sa.String(32), nullable=False),
    sa.Column("value_hash", sa.LargeBinary(32), nullable=False, unique=True),
    sa.Column("issued_at", sa.BigInteger, nullable=False),
    sa.Column("expires_at", sa.BigInteger, nullable=False),
    sa.Column("revoked_at", sa.BigInteger, nullable=True),
    # No foreign keys on this table (migration 0008): every token row is written from user,
    # client and connection rows just read, and those rows are never deleted (blocked instead);
    # the keys' checks share-locked the client's row on every refresh.
    sa.Column("user_id", sa.Uuid, nullable=False),
    sa.Column("client_id", sa.Uuid, nullable=False),
    sa.Column("scope", sa.Text, nullable=False),
    sa.Column("details", sa.JSON, nullable=False),
    # The authorization a token descends from; a whole family is revoked on reuse (CONTRACT §6).
    sa.Column("family_id", sa.Uuid, nullable=False, index=True),
    sa.Column("parent_id", sa.Uuid, nullable=True),
    # The connection (client secret) the token was issued through; null for operator mints.
    sa.Column("connection_id", sa.Uuid, nullable=True),
    # Rotation (CONTRACT §6): when a refresh token was retired (Unix milliseconds: the race rule
    # compares it with request arrival times), the refresh token that replaced it, and that
    # successor's value encrypted with the server key, kept for the grace window only.
    sa.Column("retired_at_ms", sa.BigInteger, nullable=True),
    sa.Column("successor_id", sa.Uuid, nullable=True),
    sa.Column("successor_value_enc", sa.LargeBinary, nullable=True),
    # Authorization codes only: the redirect URI the code was issued for, and the PKCE S256
    # challenge (RFC 7636 §4.2: a hash of the client's verifier, public by design).
    sa.Column("redirect_uri", sa.Text, nullable=True),
    sa.Column("code_challenge", sa.String(128), nullable=True),
    # Why the token was revoked, where the answer names it: "reuse" (its family was revoked
    # because a refresh token or code of it was presented again); null otherwise.
    sa.Column("revoked_reason", sa.String(16), nullable=True),
    sa.Index("ix_tokens_user_id_client_id", "user_id", "client_id"),
    sa.Index("ix_tokens_client_id", "client_id"),
    sa.Index("ix_tokens_expires_at", "expires_at"),
    # Revoked tokens only (the purge's `revoked_at < cutoff`): live ones, most rows, skip it.
    sa.Index(
        "ix_tokens_revoked_at",
        "revoked_at",
        postgresql_where=sa.text("revoked_at IS NOT NULL"),
        sqlite_where=sa.text("revoked_at IS NOT NULL"),
    ),
)

# Failed authentications per key and fixed window (protocol/throttle.py): a source address, a
# (source, target) pair or a target (client, account), each as a keyed digest, so the table names
# nobody. `target_hash` lets an operator clear an account's counters; ended windows are purged.
auth_failures = sa.Table(
    "auth_failures",
    metadata,
    sa.Column("key_hash", sa.LargeBinary(32), primary_key=True),
    sa.Column("window_start", sa.BigInteger, primary_key=True),
    sa.Column("target_hash", sa.LargeBinary(32), nullable=True),
    sa.Column("failures", sa.Integer, nullable=False),
    sa.Column("expires_at", sa.BigInteger, nullable=False),
    sa.Index("ix_auth_failures_expires_at", "expires_at"),
    sa.Index("ix_auth_failures_target_hash", "target_hash"),
)
