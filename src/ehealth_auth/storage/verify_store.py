"""The gateway verify call's store: one read for every check of protocol/verify.py.

Verify is the service's hottest call: its statement runs on the bare driver (storage/driver.py),
like the refresh grant's.
"""

from __future__ import annotations

import sqlalchemy as sa

from ehealth_auth.protocol.model import VerifyContext
from ehealth_auth.storage.driver import Driver
from ehealth_auth.storage.rows import verify_context
from ehealth_auth.storage.tables import (
    approvals,
    client_types,
    clients,
    connections,
    tokens,
    users,
)

# One round trip: the token with this hash, its client, its user, the user's approval for that
# client and the connection it was issued through. Outer joins keep the token row when the
# approval or connection is missing; the approval's scope and the client type's ceiling bound
# the token's scope (the approval is a check; operator mints have no connection).
LOAD_TOKEN = (
    sa.select(
        tokens.c.id,
        tokens.c.name,
        tokens.c.expires_at,
        tokens.c.revoked_at,
        tokens.c.user_id,
        tokens.c.details,
        approvals.c.id.label("approval_id"),
        clients.c.is_blocked.label("client_blocked"),
        users.c.is_blocked.label("user_blocked"),
        connections.c.consumer_id,
        tokens.c.issued_at,
        tokens.c.scope,
        approvals.c.scope.label("approval_scope"),
        client_types.c.scope.label("type_scope"),
    )
    .select_from(
        tokens.outerjoin(clients, clients.c.id == tokens.c.client_id)
        .outerjoin(client_types, client_types.c.id == clients.c.client_type_id)
        .outerjoin(users, users.c.id == tokens.c.user_id)
        .outerjoin(
            approvals,
            sa.and_(
                approvals.c.user_id == tokens.c.user_id,
                approvals.c.client_id == tokens.c.client_id,
            ),
        )
        .outerjoin(connections, connections.c.id == tokens.c.connection_id)
    )
    .where(tokens.c.value_hash == sa.bindparam("value_hash"))
)


class SqlVerifyStore:
    def __init__(self, driver: Driver) -> None:
        self._driver = driver
        self._load = driver.compile(LOAD_TOKEN)

    async def load_token(self, value_hash: bytes) -> VerifyContext | None:
        row = await self._driver.fetchrow(self._load, {"value_hash": value_hash})
        return None if row is None else verify_context(row)
