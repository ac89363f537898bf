"""The code exchange's store port."""

from __future__ import annotations

from uuid import UUID

from ehealth_auth.protocol.model import CodeContext, NewToken, StoredCode, TokenName
from tests.fakes.database import FakeDatabase, InterleavingStore


class FakeCodeStore(InterleavingStore):
    """The CodeStore port, mirroring `SqlCodeStore`: one outer-joined read, an atomic consume."""

    def __init__(self, db: FakeDatabase) -> None:
        super().__init__(db)
        self.context_loads: list[tuple[UUID, bytes, bytes]] = []
        self.revoked_families: list[UUID] = []

    async def load_code_context(
        self, client_id: UUID, secret_hash: bytes, code_hash: bytes
    ) -> CodeContext | None:
        await self._interleaved("load_code_context")
        self.context_loads.append((client_id, secret_hash, code_hash))
        connection = next(
            (
                row
                for row in self.db.connections.values()
                if row.client_id == client_id and row.secret_hash == secret_hash
            ),
            None,
        )
        if connection is None:
            return None
        client = self.db.clients[client_id]
        # Outer join on tokens: only rows named authorization_code, whichever client they have.
        row = next(
            (
                row
                for row in self.db.tokens.values()
                if row.token.value_hash == code_hash
                and row.token.name is TokenName.AUTHORIZATION_CODE
            ),
            None,
        )
        if row is None:
            return CodeContext(
                connection_id=connection.id,
                client_blocked=client.is_blocked,
                code=None,
                user_blocked=False,
                approval_scope=None,
            )
        token = row.token
        user = self.db.users.get(token.user_id)
        # The approval joined is the code user's approval for the *calling* client.
        approval = self.db.approval_for(token.user_id, client_id)
        return CodeContext(
            connection_id=connection.id,
            client_blocked=client.is_blocked,
            code=StoredCode(
                id=token.id,
                client_id=token.client_id,
                user_id=token.user_id,
                connection_id=token.connection_id,
                scope=token.scope,
                expires_at=token.expires_at,
                revoked=row.revoked_at is not None,
                consumed=row.retired_at_ms is not None,
                family_id=token.family_id,
                redirect_uri=token.redirect_uri or "",
                code_challenge=token.code_challenge,
            ),
            user_blocked=bool(user and user.is_blocked),
            approval_scope=approval.scope if approval else None,
        )

    async def consume_code(
        self, code_id: UUID, consumed_at_ms: int, refresh: NewToken, access: NewToken
    ) -> bool:
        await self._interleaved("consume_code")
        with self.db.transaction():
            code = self.db.tokens.get(code_id)
            # The conditional UPDATE: only a code neither used nor revoked can be consumed.
            if code is None or code.retired_at_ms is not None or code.revoked_at is not None:
                return False
            code.retired_at_ms = consumed_at_ms
            code.successor_id = refresh.id
            self.db.insert_token(refresh)
            self.db.insert_token(access)
        return True

    async def revoke_family(self, family_id: UUID, now: int) -> int:
        await self._interleaved("revoke_family")
        self.revoked_families.append(family_id)
        return self.db.revoke_family(family_id, now)
