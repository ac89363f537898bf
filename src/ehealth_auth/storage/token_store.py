"""The refresh grant's store: one read for checks 5-11 of CONTRACT §2, then one atomic write.

These are the hottest statements of the service; they run on the bare driver (storage/driver.py).
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import orjson
import sqlalchemy as sa

from ehealth_auth.protocol.model import NewToken, TokenName
from ehealth_auth.protocol.ports import RefreshContext, StoredRefreshToken
from ehealth_auth.storage.driver import Driver, DriverConnection
from ehealth_auth.storage.retry import retrying
from ehealth_auth.storage.tables import approvals, clients, connections, tokens, users

REUSE = "reuse"


def grant_context_query(name: TokenName, *token_columns: sa.ColumnElement[Any]) -> sa.Select[Any]:
    """One round trip for a grant's checks: the connection with the presented secret, its
    client's blocked flag, then `token_columns` of the token of kind `name` with the presented
    hash (bind `token_hash`), that token's user's blocked flag and the user's approval scope for
    the calling client. Outer joins keep the row when the token, user or approval is missing,
    so the protocol can tell each check apart; no row means no connection has that secret."""
    return (
        sa.select(
            connections.c.id.label("connection_id"),
            clients.c.is_blocked,
            *token_columns,
            users.c.is_blocked.label("user_blocked"),
            approvals.c.scope.label("approval_scope"),
        )
        .select_from(
            connections.join(clients, clients.c.id == connections.c.client_id)
            .outerjoin(
                tokens,
                sa.and_(
                    tokens.c.value_hash == sa.bindparam("token_hash"),
                    tokens.c.name == name.value,
                ),
            )
            .outerjoin(users, users.c.id == tokens.c.user_id)
            .outerjoin(
                approvals,
                sa.and_(
                    approvals.c.user_id == tokens.c.user_id,
                    approvals.c.client_id == connections.c.client_id,
                ),
            )
        )
        .where(
            connections.c.client_id == sa.bindparam("client_id"),
            connections.c.secret_hash == sa.bindparam("secret_hash"),
        )
        .limit(1)
    )


_LOAD_REFRESH_CONTEXT = grant_context_query(
    TokenName.REFRESH_TOKEN,
    tokens.c.id,
    tokens.c.client_id,
    tokens.c.user_id,
    tokens.c.expires_at,
    tokens.c.revoked_at,
    tokens.c.family_id,
    tokens.c.retired_at_ms,
    tokens.c.successor_id,
    tokens.c.successor_value_enc,
    tokens.c.revoked_reason,
    tokens.c.connection_id,
)

_TOKEN_COLUMNS = (
    "id",
    "name",
    "value_hash",
    "issued_at",
    "expires_at",
    "user_id",
    "client_id",
    "scope",
    "details",
    "family_id",
    "parent_id",
    "connection_id",
    "redirect_uri",
    "code_challenge",
)
_INSERT_TOKEN = tokens.insert().values({name: sa.bindparam(name) for name in _TOKEN_COLUMNS})

# The conditional update that decides a race: only one request can retire a live token.
_RETIRE = (
    tokens.update()
    .where(
        tokens.c.id == sa.bindparam("retired_id"),
        tokens.c.retired_at_ms.is_(None),
        tokens.c.revoked_at.is_(None),
    )
    .values(
        retired_at_ms=sa.bindparam("at_ms"),
        successor_id=sa.bindparam("successor_id"),
        successor_value_enc=sa.bindparam("sealed"),
    )
)

# Only the newest retired token's successor may be echoed; older ones are erased.
_ERASE_OLDER_SUCCESSORS = (
    tokens.update()
    .where(
        tokens.c.family_id == sa.bindparam("family_id"),
        tokens.c.successor_value_enc.is_not(None),
        tokens.c.id != sa.bindparam("retired_id"),
    )
    .values(successor_value_enc=None)
)

_REVOKE_EARLIER_ACCESS = (
    tokens.update()
    .where(
        tokens.c.family_id == sa.bindparam("family_id"),
        tokens.c.name == TokenName.ACCESS_TOKEN.value,
        tokens.c.revoked_at.is_(None),
    )
    .values(revoked_at=sa.bindparam("now"))
)

# The reason (REUSE, or none for a client's own revocation) is kept so the family's tokens
# can say why they were revoked.
_REVOKE_FAMILY = (
    tokens.update()
    .where(tokens.c.family_id == sa.bindparam("family_id"), tokens.c.revoked_at.is_(None))
    .values(
        revoked_at=sa.bindparam("now"),
        successor_value_enc=None,
        revoked_reason=sa.bindparam("reason"),
    )
)


class TokenWrites:
    """Token writes shared by the grants' stores (refresh, code exchange), on the bare driver."""

    def __init__(self, driver: Driver) -> None:
        self.driver = driver
        self._insert = driver.compile(_INSERT_TOKEN)
        self._revoke_family = driver.compile(_REVOKE_FAMILY)

    def params(self, token: NewToken) -> dict[str, Any]:
        uuid = self.driver.uuid
        return {
            "id": uuid(token.id),
            "name": token.name.value,
            "value_hash": token.value_hash,
            "issued_at": token.issued_at,
            "expires_at": token.expires_at,
            "user_id": uuid(token.user_id),
            "client_id": uuid(token.client_id),
            "scope": token.scope,
            "details": orjson.dumps(token.details).decode(),
            "family_id": uuid(token.family_id),
            "parent_id": uuid(token.parent_id),
            "connection_id": uuid(token.connection_id),
            "redirect_uri": token.redirect_uri,
            "code_challenge": token.code_challenge,
        }

    async def insert(self, conn: DriverConnection, token: NewToken) -> None:
        await conn.execute(self._insert, self.params(token))

    async def revoke_family(self, family_id: UUID, now: int, reason: str | None) -> int:
        """Revoke every live token of a family, in one transaction, recording `reason`;
        returns how many."""
        params = {"family_id": self.driver.uuid(family_id), "now": now, "reason": reason}

        async def _transaction() -> int:
            total = 0
            async with self.driver.transaction() as conn:
                # Each pass is a new snapshot under READ COMMITTED: a successor committed by a
                # rotation that held a row lock during the previous pass is caught by the next.
                while count := await conn.execute(self._revoke_family, params):
                    total += count
            return total

        return await retrying(_transaction)


class SqlRefreshGrantStore:
    def __init__(self, driver: Driver) -> None:
        self._driver = driver
        self._writes = TokenWrites(driver)
        self._load = driver.compile(_LOAD_REFRESH_CONTEXT)
        self._retire = driver.compile(_RETIRE)
        self._erase_older = driver.compile(_ERASE_OLDER_SUCCESSORS)
        self._revoke_earlier = driver.compile(_REVOKE_EARLIER_ACCESS)

    async def load_refresh_context(
        self, client_id: UUID, secret_hash: bytes, token_hash: bytes
    ) -> RefreshContext | None:
        uuid = self._driver.uuid
        row = await self._driver.fetchrow(
            self._load,
            {
                "client_id": uuid(client_id),
                "secret_hash": secret_hash,
                "token_hash": token_hash,
            },
        )
        if row is None:
            return None
        read_uuid = self._driver.read_uuid
        (connection_id, client_blocked, token_id, token_client, token_user, expires_at) = row[:6]
        (revoked_at, family_id, retired_at_ms, successor_id, sealed, reason) = row[6:12]
        token_connection = row[12]
        user_blocked, scope = row[13:]
        token = None
        if token_id is not None:
            token = StoredRefreshToken(
                id=read_uuid(token_id),
                client_id=read_uuid(token_client),
                user_id=read_uuid(token_user),
                expires_at=expires_at,
                revoked=revoked_at is not None,
                family_id=read_uuid(family_id),
                retired_at_ms=retired_at_ms,
                successor_id=None if successor_id is None else read_uuid(successor_id),
                successor_value_enc=None if sealed is None else bytes(sealed),
                revoked_for_reuse=reason == REUSE,
                connection_id=None if token_connection is None else read_uuid(token_connection),
            )
        return RefreshContext(
            connection_id=read_uuid(connection_id),
            client_blocked=bool(client_blocked),
            token=token,
            user_blocked=bool(user_blocked),
            approval_scope=scope,
        )

    async def _revoke_earlier_access(self, conn: DriverConnection, access: NewToken) -> None:
        await conn.execute(
            self._revoke_earlier,
            {"family_id": self._driver.uuid(access.family_id), "now": access.issued_at},
        )

    async def add_access_token(self, access: NewToken, *, revoke_earlier_access: bool) -> None:
        if not revoke_earlier_access:
            await self._writes.insert(self._driver, access)
            return

        async def _transaction() -> None:
            async with self._driver.transaction() as conn:
                await self._revoke_earlier_access(conn, access)
                await self._writes.insert(conn, access)

        await retrying(_transaction)

    async def rotate(
        self,
        retired_id: UUID,
        retired_at_ms: int,
        successor: NewToken,
        successor_value_enc: bytes | None,
        access: NewToken,
        *,
        revoke_earlier_access: bool,
    ) -> bool:
        uuid = self._driver.uuid

        async def _transaction() -> bool:
            async with self._driver.transaction() as conn:
                # The retiring update comes first: it takes the row lock (PostgreSQL) or is
                # already under the write lock (SQLite), so concurrent rotations queue here.
                retired = await conn.execute(
                    self._retire,
                    {
                        "retired_id": uuid(retired_id),
                        "at_ms": retired_at_ms,
                        "successor_id": uuid(successor.id),
                        "sealed": successor_value_enc,
                    },
                )
                if retired != 1:
                    return False  # lost the race; nothing was written
                await conn.execute(
                    self._erase_older,
                    {"family_id": uuid(successor.family_id), "retired_id": uuid(retired_id)},
                )
                if revoke_earlier_access:
                    await self._revoke_earlier_access(conn, access)
                await self._writes.insert(conn, successor)
                await self._writes.insert(conn, access)
            return True

        return await retrying(_transaction)

    async def revoke_family(self, family_id: UUID, now: int) -> int:
        return await self._writes.revoke_family(family_id, now, REUSE)
