"""The gateway verify call's store port."""

from __future__ import annotations

from ehealth_auth.protocol.model import VerifyContext
from tests.fakes.database import FakeDatabase


class FakeVerifyStore:
    """The VerifyStore port, mirroring `SqlVerifyStore`'s outer-joined read."""

    def __init__(self, db: FakeDatabase) -> None:
        self.db = db

    async def load_token(self, value_hash: bytes) -> VerifyContext | None:
        row = self.db.token_by_hash(value_hash)
        if row is None:
            return None
        token = row.token
        client = self.db.clients.get(token.client_id)
        user = self.db.users.get(token.user_id)
        connection = self.db.connections.get(token.connection_id) if token.connection_id else None
        approval = self.db.approval_for(token.user_id, token.client_id)
        kind = self.db.client_types.get(client.client_type_id) if client else None
        return VerifyContext(
            id=token.id,
            name=token.name.value,
            expires_at=token.expires_at,
            revoked=row.revoked_at is not None,
            user_id=token.user_id,
            details=dict(token.details),
            approval_exists=self.db.approval_for(token.user_id, token.client_id) is not None,
            client_blocked=bool(client and client.is_blocked),
            user_blocked=bool(user and user.is_blocked),
            mis_client_id=connection.consumer_id if connection else None,
            issued_at=token.issued_at,
            scope=token.scope,
            approval_scope=approval.scope if approval else None,
            type_scope=kind.scope if kind else None,
        )
