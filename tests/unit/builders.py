"""Rows written straight into a FakeDatabase, so grant tests do not depend on AdminService."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from uuid import UUID

from ehealth_auth.protocol.admin import AdminService
from ehealth_auth.protocol.model import NewToken, TokenName
from ehealth_auth.protocol.records import (
    ApprovalRecord,
    ClientRecord,
    ClientTypeRecord,
    ConnectionRecord,
    NewClient,
    UserRecord,
)
from tests.fakes import FakeDatabase, FakePasswordHasher, sha256

CEILING = "app:authorize legal_entity:read employee:read declaration:write"
APPROVAL_SCOPE = "employee:read legal_entity:read"
# Narrower than the approval: a refresh must answer with the approval's scope, not this one.
OLD_TOKEN_SCOPE = "legal_entity:read"
# The redirect URI every builder-made connection registers unless told otherwise.
MIS_REDIRECT = "https://mis.test/cb"


def add_client_type(db: FakeDatabase, name: str = "MIS", scope: str = CEILING) -> UUID:
    record = ClientTypeRecord(uuid.uuid4(), name, scope)
    db.client_types[record.id] = record
    return record.id


def add_client(
    db: FakeDatabase, client_type_id: UUID, name: str = "Clinic", redirect_uri: str = MIS_REDIRECT
) -> tuple[UUID, str, UUID]:
    """A client with one connection; returns its id, the plain secret and the connection id."""
    client = ClientRecord(uuid.uuid4(), name, client_type_id, is_blocked=False)
    db.clients[client.id] = client
    return (client.id, *add_connection(db, client.id, redirect_uri))


def add_connection(
    db: FakeDatabase, client_id: UUID, redirect_uri: str = MIS_REDIRECT
) -> tuple[str, UUID]:
    """A further connection of the client; returns its plain secret and its id."""
    secret = secrets.token_urlsafe(32)
    connection = ConnectionRecord(uuid.uuid4(), client_id, sha256(secret), redirect_uri)
    db.connections[connection.id] = connection
    return secret, connection.id


def add_user(db: FakeDatabase, email: str, password: str | None = None) -> UUID:
    """A user; with a password, one the FakePasswordHasher verifies (otherwise none does)."""
    password_hash = FakePasswordHasher().hash(password) if password else FakePasswordHasher.PREFIX
    user = UserRecord(uuid.uuid4(), email, password_hash, is_blocked=False)
    db.users[user.id] = user
    return user.id


def add_approval(db: FakeDatabase, user_id: UUID, client_id: UUID, scope: str) -> UUID:
    record = ApprovalRecord(uuid.uuid4(), user_id, client_id, scope)
    db.approvals[record.id] = record
    return record.id


def add_token(
    db: FakeDatabase,
    *,
    name: TokenName,
    user_id: UUID,
    client_id: UUID,
    issued_at: int,
    expires_at: int,
    scope: str = OLD_TOKEN_SCOPE,
    family_id: UUID | None = None,
) -> tuple[str, UUID]:
    """Store a token; returns its plain value and id."""
    value = secrets.token_urlsafe(32)
    token_id = uuid.uuid4()
    db.insert_token(
        NewToken(
            id=token_id,
            name=name,
            value_hash=sha256(value),
            issued_at=issued_at,
            expires_at=expires_at,
            user_id=user_id,
            client_id=client_id,
            scope=scope,
            details={"client_id": str(client_id), "scope": scope},
            family_id=family_id or uuid.uuid4(),
        )
    )
    return value, token_id


@dataclass(frozen=True)
class World:
    """Client A (the caller) and client B; user U approved for A; U's refresh token for A.

    The refresh token belongs to a family that started before it (as if it came from an
    authorization code), so family and parent of the new access token are distinguishable.
    """

    client_id: UUID
    client_secret: str
    connection_id: UUID
    other_client_id: UUID
    other_client_secret: str
    user_id: UUID
    approval_id: UUID
    refresh_token: str
    refresh_token_id: UUID
    family_id: UUID
    refresh_expires_at: int

    def params(self) -> dict[str, object]:
        return {
            "grant_type": "refresh_token",
            "client_id": str(self.client_id),
            "client_secret": self.client_secret,
            "refresh_token": self.refresh_token,
        }


def seed_world(db: FakeDatabase, now: int) -> World:
    kind = add_client_type(db)
    client_id, client_secret, connection_id = add_client(db, kind, "Clinic A")
    other_client_id, other_client_secret, _ = add_client(db, kind, "Clinic B")
    user_id = add_user(db, "user@example.org")
    approval_id = add_approval(db, user_id, client_id, APPROVAL_SCOPE)
    family_id = uuid.uuid4()
    expires_at = now + 3_600
    refresh_token, refresh_token_id = add_token(
        db,
        name=TokenName.REFRESH_TOKEN,
        user_id=user_id,
        client_id=client_id,
        issued_at=now - 60,
        expires_at=expires_at,
        family_id=family_id,
    )
    return World(
        client_id=client_id,
        client_secret=client_secret,
        connection_id=connection_id,
        other_client_id=other_client_id,
        other_client_secret=other_client_secret,
        user_id=user_id,
        approval_id=approval_id,
        refresh_token=refresh_token,
        refresh_token_id=refresh_token_id,
        family_id=family_id,
        refresh_expires_at=expires_at,
    )


def add_code(
    db: FakeDatabase,
    *,
    user_id: UUID,
    client_id: UUID,
    connection_id: UUID | None,
    issued_at: int,
    expires_at: int,
    scope: str = APPROVAL_SCOPE,
    redirect_uri: str = MIS_REDIRECT,
    code_challenge: str | None = None,
) -> tuple[str, UUID]:
    """Store an authorization code as AppAuthorizer.grant does (the root of its own family);
    returns its plain value and id."""
    value = secrets.token_urlsafe(32)
    code_id = uuid.uuid4()
    db.insert_token(
        NewToken(
            id=code_id,
            name=TokenName.AUTHORIZATION_CODE,
            value_hash=sha256(value),
            issued_at=issued_at,
            expires_at=expires_at,
            user_id=user_id,
            client_id=client_id,
            scope=scope,
            details={
                "client_id": str(client_id),
                "redirect_uri": redirect_uri,
                "scope_request": scope,
            },
            family_id=code_id,
            connection_id=connection_id,
            redirect_uri=redirect_uri,
            code_challenge=code_challenge,
        )
    )
    return value, code_id


def live_tokens(db: FakeDatabase) -> set[UUID]:
    return {token_id for token_id, row in db.tokens.items() if row.revoked_at is None}


# ------------------------------------------------------------------ through the AdminService

REDIRECT = "https://mis.example.org/cb"


async def new_client(admin: AdminService, name: str = "Clinic") -> NewClient:
    """A client of its own new client type (named after it), ceiling CEILING."""
    kind = await admin.create_client_type(f"MIS for {name}", CEILING)
    return await admin.create_client(name, kind.name, REDIRECT)


async def new_user(admin: AdminService, email: str = "user@example.org") -> UserRecord:
    return await admin.create_user(email, "password-123")


def stored_token(
    db: FakeDatabase,
    user_id: UUID,
    client_id: UUID,
    issued_at: int,
    name: TokenName = TokenName.REFRESH_TOKEN,
) -> UUID:
    _, token_id = add_token(
        db,
        name=name,
        user_id=user_id,
        client_id=client_id,
        issued_at=issued_at,
        expires_at=issued_at + 600,
    )
    return token_id
