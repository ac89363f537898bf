"""The login's ports: client and user directories, approvals, token writer, bearer lookup."""

from __future__ import annotations

from uuid import UUID

from ehealth_auth.protocol.model import Bearer, NewToken, TokenName
from ehealth_auth.protocol.records import ClientProfile, LoginUser
from tests.fakes.database import FakeDatabase


class FakeLoginStore:
    """ClientDirectory, UserDirectory, ApprovalLookup, TokenWriter and BearerLookup in one,
    mirroring `SqlLoginStore`."""

    def __init__(self, db: FakeDatabase) -> None:
        self.db = db

    async def client_profile(self, client_id: UUID) -> ClientProfile | None:
        client = self.db.clients.get(client_id)
        # Inner join on the client type; outer join on connections, oldest first.
        kind = self.db.client_types.get(client.client_type_id) if client else None
        if client is None or kind is None:
            return None
        connections = [row.id for row in self.db.connections.values() if row.client_id == client_id]
        return ClientProfile(
            id=client.id,
            name=client.name,
            is_blocked=client.is_blocked,
            type_scope=kind.scope,
            redirect_uris=tuple(
                (connection_id, self.db.connections[connection_id].redirect_uri)
                for connection_id in self.db.by_insertion(connections)
            ),
        )

    async def user_by_email(self, email: str) -> LoginUser | None:
        # WHERE lower(users.email) = lower(:email)
        for user in self.db.users.values():
            if user.email.lower() == email.lower():
                return LoginUser(user.id, user.password_hash, user.is_blocked)
        return None

    async def add_token(self, token: NewToken) -> None:
        self.db.insert_token(token)

    async def bearer(self, token_hash: bytes) -> Bearer | None:
        row = self.db.token_by_hash(token_hash)
        if row is None:
            return None
        token = row.token
        user = self.db.users[token.user_id]
        client = self.db.clients[token.client_id]
        return Bearer(
            name=token.name.value,  # the column is a plain string
            user_id=token.user_id,
            scope=token.scope,
            expires_at=token.expires_at,
            revoked=row.revoked_at is not None,
            user_blocked=user.is_blocked,
            client_blocked=client.is_blocked,
        )

    async def approved_scope(self, user_id: UUID, client_id: UUID) -> str | None:
        approval = self.db.approval_for(user_id, client_id)
        return approval.scope if approval else None

    async def revoke_access_token(self, token_hash: bytes, now: int) -> bool:
        row = self.db.token_by_hash(token_hash)
        if row is None or row.token.name != TokenName.ACCESS_TOKEN or row.revoked_at is not None:
            return False
        row.revoked_at = now
        return True
