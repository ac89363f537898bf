"""Creating or widening a user's approval of a client (CONTRACT §3), for every front end:
the operator's `approvals create` and the user's own consent (`/oauth/apps/authorize`)."""

from __future__ import annotations

import uuid
from uuid import UUID

from ehealth_auth.protocol import scope as scopes
from ehealth_auth.protocol.errors import InvalidEntry, NotFoundError, Rule, ValidationError
from ehealth_auth.protocol.ports import ApprovalQueries, ApprovalSaver, Clock
from ehealth_auth.protocol.records import ApprovalRecord

SCOPE_NOT_ALLOWED = "Scope is not allowed by client type."


def check_ceiling(scope: str, ceiling: str, path: str) -> str:
    """The normalized scope, or a 422 naming the field at `path` (and what the client type
    allows) when it asks for more than the ceiling."""
    requested = " ".join(scopes.parse(scope))
    if scopes.outside_ceiling(requested, ceiling):
        rule = Rule("inclusion", SCOPE_NOT_ALLOWED, tuple(scopes.parse(ceiling)))
        raise ValidationError((InvalidEntry(path, (rule,)),), message=SCOPE_NOT_ALLOWED)
    return requested


class Approver:
    def __init__(self, queries: ApprovalQueries, approvals: ApprovalSaver, clock: Clock) -> None:
        self._queries = queries
        self._approvals = approvals
        self._clock = clock

    async def approve(
        self, user_id: UUID, client_id: UUID, scope: str, path: str
    ) -> ApprovalRecord:
        """Create or widen: the new scopes first, then the old, no duplicates. `path` names the
        scope field of the request, for the 422."""
        if await self._queries.user(user_id) is None:
            raise NotFoundError("User not found.")
        kind = await self._queries.client_type_of(client_id)
        if kind is None:
            raise NotFoundError("Client not found.")
        requested = check_ceiling(scope, kind.scope, path)
        current = await self._queries.approval(user_id, client_id)
        record = ApprovalRecord(
            id=current.id if current else uuid.uuid4(),
            user_id=user_id,
            client_id=client_id,
            scope=scopes.widen(current.scope if current else "", requested),
        )
        return await self._approvals.save_approval(record, self._clock.now())
