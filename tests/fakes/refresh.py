"""The refresh grant's store port."""

from __future__ import annotations

from uuid import UUID

from ehealth_auth.protocol.model import (
    LostRace,
    NewToken,
    RefreshContext,
    Rotated,
    RotationDraft,
    StoredRefreshToken,
    TokenDraft,
    TokenName,
)
from tests.fakes.database import FakeDatabase, InterleavingStore


class FakeRefreshGrantStore(InterleavingStore):
    """The RefreshGrantStore port, mirroring `SqlRefreshStore`."""

    def __init__(self, db: FakeDatabase) -> None:
        super().__init__(db)
        self.context_loads: list[tuple[UUID, bytes, bytes]] = []

    async def load_refresh_context_issuing(
        self, client_id: UUID, secret_hash: bytes, token_hash: bytes, access: TokenDraft
    ) -> tuple[RefreshContext | None, bool]:
        """As SQLite does: the read alone, the grant stores the token itself."""
        del access
        return await self.load_refresh_context(client_id, secret_hash, token_hash), False

    async def load_refresh_context_rotating(
        self, client_id: UUID, secret_hash: bytes, token_hash: bytes, rotation: RotationDraft
    ) -> tuple[RefreshContext | None, bool]:
        """As SQLite does: the read alone, the grant rotates in a transaction of its own."""
        del rotation
        return await self.load_refresh_context(client_id, secret_hash, token_hash), False

    async def load_refresh_context(
        self, client_id: UUID, secret_hash: bytes, token_hash: bytes
    ) -> RefreshContext | None:
        await self._interleaved("load_refresh_context")
        self.context_loads.append((client_id, secret_hash, token_hash))
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
        # Outer join on tokens: only rows named refresh_token, whichever client they belong to.
        row = next(
            (
                row
                for row in self.db.tokens.values()
                if row.token.value_hash == token_hash and row.token.name is TokenName.REFRESH_TOKEN
            ),
            None,
        )
        if row is None:
            return RefreshContext(
                connection_id=connection.id,
                client_blocked=client.is_blocked,
                token=None,
                user_blocked=False,
                approval_scope=None,
            )
        token = row.token
        user = self.db.users.get(token.user_id)
        # The approval joined is the token user's approval for the *calling* client.
        approval = self.db.approval_for(token.user_id, client_id)
        return RefreshContext(
            connection_id=connection.id,
            client_blocked=client.is_blocked,
            token=StoredRefreshToken(
                id=token.id,
                client_id=token.client_id,
                user_id=token.user_id,
                expires_at=token.expires_at,
                revoked=row.revoked_at is not None,
                family_id=token.family_id,
                retired_at_ms=row.retired_at_ms,
                successor_id=row.successor_id,
                successor_value_enc=row.successor_value_enc,
                revoked_for_reuse=row.revoked_for_reuse,
                connection_id=token.connection_id,
            ),
            user_blocked=bool(user and user.is_blocked),
            approval_scope=approval.scope if approval else None,
        )

    async def add_access_token(self, access: NewToken, *, revoke_earlier_access: bool) -> None:
        await self._interleaved("add_access_token")
        with self.db.transaction():
            if revoke_earlier_access:
                self.db.revoke_earlier_access(access)
            self.db.insert_token(access)

    async def rotate(
        self,
        retired_id: UUID,
        retired_at_ms: int,
        successor: NewToken,
        successor_value_enc: bytes | None,
        access: NewToken,
        *,
        revoke_earlier_access: bool,
    ) -> Rotated | LostRace:
        await self._interleaved("rotate")
        with self.db.transaction():
            retired = self.db.tokens.get(retired_id)
            # The conditional UPDATE: only a live, not yet retired token can be retired. The
            # loser reads the token back as the winner left it; a deleted one is revoked.
            if retired is None:
                return LostRace(
                    StoredRefreshToken(
                        id=retired_id,
                        client_id=successor.client_id,
                        user_id=successor.user_id,
                        expires_at=0,
                        revoked=True,
                        family_id=successor.family_id,
                        connection_id=successor.connection_id,
                    )
                )
            if retired.retired_at_ms is not None or retired.revoked_at is not None:
                token = retired.token
                return LostRace(
                    StoredRefreshToken(
                        id=token.id,
                        client_id=token.client_id,
                        user_id=token.user_id,
                        expires_at=token.expires_at,
                        revoked=retired.revoked_at is not None,
                        family_id=token.family_id,
                        retired_at_ms=retired.retired_at_ms,
                        successor_id=retired.successor_id,
                        successor_value_enc=retired.successor_value_enc,
                        revoked_for_reuse=retired.revoked_for_reuse,
                        connection_id=token.connection_id,
                    )
                )
            retired.retired_at_ms = retired_at_ms
            retired.successor_id = successor.id
            retired.successor_value_enc = successor_value_enc
            # Only the newest retired token's successor may be echoed.
            for row in self.db.tokens.values():
                if row.token.family_id == successor.family_id and row.token.id != retired_id:
                    row.successor_value_enc = None
            if revoke_earlier_access:
                self.db.revoke_earlier_access(access)
            self.db.insert_token(successor)
            self.db.insert_token(access)
        return Rotated()

    async def revoke_family(self, family_id: UUID, now: int) -> int:
        await self._interleaved("revoke_family")
        return self.db.revoke_family(family_id, now)
