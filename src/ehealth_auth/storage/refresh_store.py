"""The refresh grant's store: one read for checks 5-11 of CONTRACT §2, then one atomic write;
on PostgreSQL the read and the write in one statement, with rotation on or off, and with rotation
off one statement for every refresh that waited while the earlier ones were in flight
(storage/batches.py).

These are the hottest statements of the service; they run on the bare driver (storage/driver.py).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

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
from ehealth_auth.storage.batches import Batches
from ehealth_auth.storage.driver import Compiled, Driver, DriverConnection
from ehealth_auth.storage.retry import retrying
from ehealth_auth.storage.rows import (
    REFRESH_TOKEN_COLUMNS,
    REUSE,
    refresh_context,
    stored_refresh_token,
    token_row,
)
from ehealth_auth.storage.tables import approvals, clients, connections, tokens, users


def grant_context_query(
    name: TokenName,
    *token_columns: sa.ColumnElement[Any],
    presented: Mapping[str, sa.ColumnElement[Any]] | None = None,
) -> sa.Select[Any]:
    """One round trip for a grant's checks: the connection with the presented secret
    (`matched_connection_id`), its client's blocked flag (`client_blocked`), then
    `token_columns` of the token of kind `name` with the presented hash (bind `token_hash`),
    that token's user's blocked flag (`user_blocked`) and the user's approval scope for the
    calling client (`approval_scope`). Outer joins keep the row when the token, user or approval
    is missing, so the protocol can tell each check apart; no row means no connection has that
    secret. `presented` replaces the binds `client_id`, `secret_hash` and `token_hash` by other
    expressions (the columns of a batch's item)."""
    given = presented or {}
    client_id = given.get("client_id", sa.bindparam("client_id"))
    secret_hash = given.get("secret_hash", sa.bindparam("secret_hash"))
    token_hash = given.get("token_hash", sa.bindparam("token_hash"))
    return (
        sa.select(
            connections.c.id.label("matched_connection_id"),
            clients.c.is_blocked.label("client_blocked"),
            *token_columns,
            users.c.is_blocked.label("user_blocked"),
            approvals.c.scope.label("approval_scope"),
        )
        .select_from(
            connections.join(clients, clients.c.id == connections.c.client_id)
            .outerjoin(
                tokens,
                sa.and_(
                    tokens.c.value_hash == token_hash,
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
            connections.c.client_id == client_id,
            connections.c.secret_hash == secret_hash,
        )
        .limit(1)
    )


_LOAD_REFRESH_CONTEXT = grant_context_query(TokenName.REFRESH_TOKEN, *REFRESH_TOKEN_COLUMNS)


def _passes(
    ctx: sa.CTE, client_id: sa.ColumnElement[Any], now: sa.ColumnElement[Any]
) -> sa.ColumnElement[bool]:
    """What RefreshTokenGrant checks for a live, unretired token at `now`, over a row of
    `_LOAD_REFRESH_CONTEXT`: a connection matched, the client is not blocked, the token exists,
    is the client's and was issued through that connection (or none), is not revoked, expired or
    retired, its user is not blocked and approves the client. The grant checks the row again in
    Python and is the judge: these conditions may only be as strict as its own or stricter
    (then it writes the tokens itself)."""
    return sa.and_(
        sa.not_(ctx.c.client_blocked),
        ctx.c.id.is_not(None),
        ctx.c.client_id == client_id,
        sa.or_(
            ctx.c.connection_id.is_(None),
            ctx.c.connection_id == ctx.c.matched_connection_id,
        ),
        ctx.c.revoked_at.is_(None),
        ctx.c.expires_at > now,
        ctx.c.retired_at_ms.is_(None),
        sa.not_(sa.func.coalesce(ctx.c.user_blocked, sa.false())),
        ctx.c.approval_scope.is_not(None),
    )


def _drafted(
    ctx: sa.CTE,
    name: TokenName,
    draft: Mapping[str, sa.ColumnElement[Any]],
    client_id: sa.ColumnElement[Any],
    now: sa.ColumnElement[Any],
) -> dict[str, sa.ColumnElement[Any]]:
    """The columns of a token drafted before the read (`TokenDraft`'s `id`, `hash`,
    `expires_at` and `grant_type`, as `draft` gives them): what the grant mints, from the draft
    and the context. An access token's details name the grant, a refresh token's do not."""
    details: list[Any] = ["client_id", sa.cast(client_id, sa.Text)]
    if name is TokenName.ACCESS_TOKEN:
        details += ["grant_type", draft["grant_type"]]
    details += ["scope", ctx.c.approval_scope]
    return {
        "id": draft["id"],
        "name": sa.literal(name.value, sa.String),
        "value_hash": draft["hash"],
        "issued_at": now,
        "expires_at": draft["expires_at"],
        "user_id": ctx.c.user_id,
        "client_id": client_id,
        "scope": ctx.c.approval_scope,
        "details": sa.func.json_build_object(*details),
        "family_id": ctx.c.family_id,
        "parent_id": ctx.c.id,
        "connection_id": ctx.c.matched_connection_id,
    }


def _draft_bound(prefix: str) -> dict[str, sa.ColumnElement[Any]]:
    """A draft as binds `prefix` + `id`, `hash` and `expires_at` (and `grant_type`)."""
    return {
        "id": sa.bindparam(prefix + "id", type_=sa.Uuid),
        "hash": sa.bindparam(prefix + "hash", type_=sa.LargeBinary),
        "expires_at": sa.bindparam(prefix + "expires_at", type_=sa.BigInteger),
        "grant_type": sa.bindparam("grant_type", type_=sa.Text),
    }


def _draft_binds(prefix: str, draft: TokenDraft) -> dict[str, object]:
    return {
        prefix + "id": draft.id,
        prefix + "hash": draft.value_hash,
        prefix + "expires_at": draft.expires_at,
    }


_ACCESS_DRAFT = "access_"
_SUCCESSOR_DRAFT = "successor_"

# A batch of issuing reads: one array bind per column, the items in `ord` order.
_ISSUING_ITEM: tuple[tuple[str, Any], ...] = (
    ("ord", sa.Integer),
    ("presented_client_id", sa.Uuid),
    ("secret_hash", sa.LargeBinary),
    ("token_hash", sa.LargeBinary),
    ("issued_at", sa.BigInteger),
    ("grant_type", sa.Text),
    ("access_id", sa.Uuid),
    ("access_hash", sa.LargeBinary),
    ("access_expires_at", sa.BigInteger),
)


def _load_and_issue() -> sa.Select[Any]:
    """Issuing reads, a batch of them in one statement: for each item (the array binds of
    `_ISSUING_ITEM`) the context read of `_LOAD_REFRESH_CONTEXT` and, when the context `_passes`
    at the item's `issued_at`, the insert of its drafted access token. One row per item, in
    `ord` order: the context's columns (all NULL when no connection has the secret), `ord`, and
    `issued`, true when the item's access token was stored."""
    item = (
        sa.func.unnest(
            *(sa.bindparam(name, type_=postgresql.ARRAY(kind)) for name, kind in _ISSUING_ITEM)
        )
        .table_valued(*(sa.column(name, kind) for name, kind in _ISSUING_ITEM))
        .render_derived(name="item")
    )
    found = grant_context_query(
        TokenName.REFRESH_TOKEN,
        *REFRESH_TOKEN_COLUMNS,
        presented={
            "client_id": item.c.presented_client_id,
            "secret_hash": item.c.secret_hash,
            "token_hash": item.c.token_hash,
        },
    ).lateral("found")
    ctx = sa.select(item, found).select_from(item.outerjoin(found, sa.true())).cte("ctx")
    client_id, now = ctx.c.presented_client_id, ctx.c.issued_at
    draft = {
        "id": ctx.c.access_id,
        "hash": ctx.c.access_hash,
        "expires_at": ctx.c.access_expires_at,
        "grant_type": ctx.c.grant_type,
    }
    drafted = _drafted(ctx, TokenName.ACCESS_TOKEN, draft, client_id, now)
    issued = (
        tokens.insert()
        .from_select(
            list(drafted), sa.select(*drafted.values()).where(_passes(ctx, client_id, now))
        )
        .returning(tokens.c.id)
        .cte("issued")
    )
    return sa.select(
        ctx.c.ord,
        *(ctx.c[column.key] for column in found.c),
        ctx.c.access_id.in_(sa.select(issued.c.id)).label("issued"),
    ).order_by(ctx.c.ord)


def _load_and_rotate(revoke_earlier_access: bool) -> sa.Select[Any]:
    """The context read of `_LOAD_REFRESH_CONTEXT` and, in the same statement, the rotation of
    `_rotate_at_once` with the access token and the successor drafted (binds `access_*`,
    `successor_*`, `now`, `grant_type`, `at_ms`, `sealed`), done only when the context `_passes`
    at `now` and the retiring update still finds the token live. The row is the context's, with
    `rotated` 1 when this statement retired the token, else 0 and nothing was written."""
    ctx = _LOAD_REFRESH_CONTEXT.cte("ctx")
    client_id = sa.bindparam("client_id", type_=sa.Uuid)
    now = sa.bindparam("now", type_=sa.BigInteger)
    passing = sa.select(ctx.c.id).where(_passes(ctx, client_id, now)).scalar_subquery()
    retired = (
        _retiring(passing, sa.bindparam("successor_id", type_=sa.Uuid))
        .returning(tokens.c.id, tokens.c.family_id)
        .cte("retired")
    )
    won = sa.select(retired.c.id).exists()
    # Taken from what the update retired: NULL when it retired nothing, so the updates below
    # then match no row, as the inserts (guarded by `won`) write none.
    family_id = sa.select(retired.c.family_id).scalar_subquery()
    retired_id = sa.select(retired.c.id).scalar_subquery()
    writes: list[sa.CTE] = [_erase_older_successors(family_id, retired_id).cte("erased")]
    if revoke_earlier_access:
        writes.append(_revoke_earlier_access(family_id, now).cte("revoked"))
    for prefix, name in (
        (_SUCCESSOR_DRAFT, TokenName.REFRESH_TOKEN),
        (_ACCESS_DRAFT, TokenName.ACCESS_TOKEN),
    ):
        row = _drafted(ctx, name, _draft_bound(prefix), client_id, now)
        insert = tokens.insert().from_select(list(row), sa.select(*row.values()).where(won))
        writes.append(insert.cte(prefix + "stored"))
    return sa.select(
        *ctx.c,
        sa.select(sa.func.count()).select_from(retired).scalar_subquery().label("rotated"),
    ).add_cte(*writes)


# What a rotation that lost its race reads back, in its transaction.
_LOAD_REFRESH_TOKEN = sa.select(*REFRESH_TOKEN_COLUMNS).where(
    tokens.c.id == sa.bindparam("token_id")
)

# Its binds are the keys of `token_row`, the one writer of token rows.
_INSERT_TOKEN = tokens.insert().values(
    {field.name: sa.bindparam(field.name) for field in dataclasses.fields(NewToken)}
)


def _retiring(retired_id: sa.ColumnElement[Any], successor_id: sa.ColumnElement[Any]) -> sa.Update:
    """The conditional update that decides a race: only one request can retire a live token.
    A new statement each time: one that was compiled keeps the columns it exported then."""
    return (
        tokens.update()
        .where(
            tokens.c.id == retired_id,
            tokens.c.retired_at_ms.is_(None),
            tokens.c.revoked_at.is_(None),
        )
        .values(
            retired_at_ms=sa.bindparam("at_ms"),
            successor_id=successor_id,
            successor_value_enc=sa.bindparam("sealed"),
        )
    )


def _erase_older_successors(
    family_id: sa.ColumnElement[Any], retired_id: sa.ColumnElement[Any]
) -> sa.Update:
    """Only the newest retired token's successor may be echoed; older ones are erased."""
    return (
        tokens.update()
        .where(
            tokens.c.family_id == family_id,
            tokens.c.successor_value_enc.is_not(None),
            tokens.c.id != retired_id,
        )
        .values(successor_value_enc=None)
    )


def _revoke_earlier_access(
    family_id: sa.ColumnElement[Any], now: sa.ColumnElement[Any]
) -> sa.Update:
    return (
        tokens.update()
        .where(
            tokens.c.family_id == family_id,
            tokens.c.name == TokenName.ACCESS_TOKEN.value,
            tokens.c.revoked_at.is_(None),
        )
        .values(revoked_at=now)
    )


def _retiring_by_binds() -> sa.Update:
    return _retiring(sa.bindparam("retired_id"), sa.bindparam("successor_id"))


_RETIRE = _retiring_by_binds()

_ERASE_OLDER_SUCCESSORS = _erase_older_successors(
    sa.bindparam("family_id"), sa.bindparam("retired_id")
)

_REVOKE_EARLIER_ACCESS = _revoke_earlier_access(sa.bindparam("family_id"), sa.bindparam("now"))

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


def _drafted_row(prefix: str) -> dict[str, sa.ColumnElement[Any]]:
    """A `tokens` row as binds named `prefix` + column (the keys of `_prefixed`)."""
    return {
        field.name: sa.bindparam(prefix + field.name, type_=tokens.c[field.name].type)
        for field in dataclasses.fields(NewToken)
    }


def _prefixed(prefix: str, token: NewToken) -> dict[str, object]:
    return {prefix + name: value for name, value in token_row(token).items()}


_SUCCESSOR = "successor_row_"
_ACCESS = "access_row_"


def _rotate_at_once(revoke_earlier_access: bool) -> sa.Select[Any]:
    """The rotation's transaction as one statement (PostgreSQL: data-modifying WITH): the
    retiring update of `_retiring`, and only when it retired the token, the erasure of older
    successors, optionally the revocation of the family's earlier access tokens, and the
    inserts of the successor (binds `successor_row_*`) and of the access token
    (`access_row_*`). One statement is one transaction: all of it or none. The row's `retired`
    is 1 when this statement retired the token, else 0 and nothing was written. The updates
    touch other rows than the retired one and than each other, and none sees the rows
    inserted beside it."""
    retired = _retiring_by_binds().returning(tokens.c.id).cte("retired")
    won = sa.select(retired.c.id).exists()
    writes = [_ERASE_OLDER_SUCCESSORS.where(won).cte("erased")]
    if revoke_earlier_access:
        writes.append(_REVOKE_EARLIER_ACCESS.where(won).cte("revoked"))
    for prefix in (_SUCCESSOR, _ACCESS):
        row = _drafted_row(prefix)
        insert = tokens.insert().from_select(list(row), sa.select(*row.values()).where(won))
        writes.append(insert.cte(prefix + "stored"))
    return sa.select(
        sa.select(sa.func.count()).select_from(retired).scalar_subquery().label("retired")
    ).add_cte(*writes)


class TokenWrites:
    """Token writes shared by the grants' stores (refresh, code exchange), on the bare driver."""

    def __init__(self, driver: Driver) -> None:
        self.driver = driver
        self._insert = driver.compile(_INSERT_TOKEN)
        self._revoke_family = driver.compile(_REVOKE_FAMILY)

    async def insert(self, conn: DriverConnection, token: NewToken) -> None:
        await conn.execute(self._insert, token_row(token))

    async def revoke_family(self, family_id: UUID, now: int, reason: str | None) -> int:
        """Revoke every live token of a family, in one transaction, recording `reason`;
        returns how many."""
        params = {"family_id": family_id, "now": now, "reason": reason}

        async def _transaction() -> int:
            total = 0
            async with self.driver.transaction() as conn:
                # Each pass is a new snapshot under READ COMMITTED: a successor committed by a
                # rotation that held a row lock during the previous pass is caught by the next.
                while count := await conn.execute(self._revoke_family, params):
                    total += count
            return total

        return await retrying(_transaction)


@dataclasses.dataclass(frozen=True, slots=True)
class _Issuing:
    """One issuing read of a batch."""

    client_id: UUID
    secret_hash: bytes
    token_hash: bytes
    access: TokenDraft


# Issuing reads in one statement at most (`Batches`); the statements in flight at once are the
# store's `batch_slots` (the setting refresh_batch_slots).
ISSUING_MOST = 64


class SqlRefreshStore:
    """`batch_slots`: statements of the batched issuing read in flight at once; `on_batch` is
    told each one's item count."""

    def __init__(
        self,
        driver: Driver,
        *,
        batch_slots: int = 2,
        on_batch: Callable[[int], None] | None = None,
    ) -> None:
        self._driver = driver
        self._writes = TokenWrites(driver)
        self._load = driver.compile(_LOAD_REFRESH_CONTEXT)
        self._issuing = (
            Batches(
                functools.partial(
                    self._load_and_issue_batch,
                    driver.compile(_load_and_issue(), writes=True),
                ),
                slots=batch_slots,
                most=ISSUING_MOST,
                on_send=on_batch,
            )
            if driver.writes_in_with
            else None
        )
        self._load_token = driver.compile(_LOAD_REFRESH_TOKEN)
        self._retire = driver.compile(_RETIRE)
        self._erase_older = driver.compile(_ERASE_OLDER_SUCCESSORS)
        self._revoke_earlier = driver.compile(_REVOKE_EARLIER_ACCESS)
        # Indexed by revoke_earlier_access; SQLite runs the rotation as a transaction.
        self._rotate_at_once = (
            tuple(driver.compile(_rotate_at_once(flag), writes=True) for flag in (False, True))
            if driver.writes_in_with
            else None
        )
        self._load_and_rotate = (
            tuple(driver.compile(_load_and_rotate(flag), writes=True) for flag in (False, True))
            if driver.writes_in_with
            else None
        )

    async def load_refresh_context(
        self, client_id: UUID, secret_hash: bytes, token_hash: bytes
    ) -> RefreshContext | None:
        row = await self._driver.fetchrow(
            self._load,
            {"client_id": client_id, "secret_hash": secret_hash, "token_hash": token_hash},
        )
        return None if row is None else refresh_context(row)

    async def load_refresh_context_issuing(
        self, client_id: UUID, secret_hash: bytes, token_hash: bytes, access: TokenDraft
    ) -> tuple[RefreshContext | None, bool]:
        if self._issuing is None:  # SQLite: the read alone
            return await self.load_refresh_context(client_id, secret_hash, token_hash), False
        return await self._issuing.call(_Issuing(client_id, secret_hash, token_hash, access))

    async def _load_and_issue_batch(
        self, statement: Compiled, items: Sequence[_Issuing]
    ) -> list[tuple[RefreshContext | None, bool]]:
        params = {
            "ord": list(range(len(items))),
            "presented_client_id": [item.client_id for item in items],
            "secret_hash": [item.secret_hash for item in items],
            "token_hash": [item.token_hash for item in items],
            "issued_at": [item.access.issued_at for item in items],
            "grant_type": [item.access.grant_type for item in items],
            "access_id": [item.access.id for item in items],
            "access_hash": [item.access.value_hash for item in items],
            "access_expires_at": [item.access.expires_at for item in items],
        }
        rows = await self._driver.fetch(statement, params)
        return [
            (None, False)
            if row["matched_connection_id"] is None
            else (refresh_context(row), bool(row["issued"]))
            for row in rows
        ]

    async def load_refresh_context_rotating(
        self, client_id: UUID, secret_hash: bytes, token_hash: bytes, rotation: RotationDraft
    ) -> tuple[RefreshContext | None, bool]:
        if self._load_and_rotate is None:  # SQLite: the read alone
            return await self.load_refresh_context(client_id, secret_hash, token_hash), False
        access, successor = rotation.access, rotation.successor
        params = {
            "client_id": client_id,
            "secret_hash": secret_hash,
            "token_hash": token_hash,
            "now": access.issued_at,
            "grant_type": access.grant_type,
            "at_ms": rotation.retired_at_ms,
            "sealed": rotation.sealed,
            **_draft_binds(_ACCESS_DRAFT, access),
            **_draft_binds(_SUCCESSOR_DRAFT, successor),
        }
        statement = self._load_and_rotate[rotation.revoke_earlier_access]
        # An aborted statement (deadlock, serialization) wrote nothing: it runs again.
        row = await retrying(lambda: self._driver.fetchrow(statement, params))
        if row is None:
            return None, False
        return refresh_context(row), row["rotated"] == 1

    async def _revoke_earlier_access(self, conn: DriverConnection, access: NewToken) -> None:
        await conn.execute(
            self._revoke_earlier, {"family_id": access.family_id, "now": access.issued_at}
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
    ) -> Rotated | LostRace:
        if self._rotate_at_once is not None:
            params = {
                "retired_id": retired_id,
                "at_ms": retired_at_ms,
                "successor_id": successor.id,
                "sealed": successor_value_enc,
                "family_id": successor.family_id,
                "now": access.issued_at,
                **_prefixed(_SUCCESSOR, successor),
                **_prefixed(_ACCESS, access),
            }
            return await self._rotate_in_one_statement(
                self._rotate_at_once[revoke_earlier_access], params, retired_id, successor
            )

        async def _transaction() -> Rotated | LostRace:
            async with self._driver.transaction() as conn:
                # The retiring update comes first: it takes the row lock (PostgreSQL) or is
                # already under the write lock (SQLite), so concurrent rotations queue here.
                retired = await conn.execute(
                    self._retire,
                    {
                        "retired_id": retired_id,
                        "at_ms": retired_at_ms,
                        "successor_id": successor.id,
                        "sealed": successor_value_enc,
                    },
                )
                if retired != 1:
                    # Lost the race; nothing was written. Under READ COMMITTED this next
                    # statement sees what the winner committed (SQLite: the write lock is held).
                    row = await conn.fetchrow(self._load_token, {"token_id": retired_id})
                    return LostRace(_presented(row, retired_id, successor))
                await conn.execute(
                    self._erase_older,
                    {"family_id": successor.family_id, "retired_id": retired_id},
                )
                if revoke_earlier_access:
                    await self._revoke_earlier_access(conn, access)
                await self._writes.insert(conn, successor)
                await self._writes.insert(conn, access)
            return Rotated()

        return await retrying(_transaction)

    async def _rotate_in_one_statement(
        self, statement: Compiled, params: Mapping[str, Any], retired_id: UUID, successor: NewToken
    ) -> Rotated | LostRace:
        # An aborted statement (deadlock, serialization) wrote nothing: it runs again.
        row = await retrying(lambda: self._driver.fetchrow(statement, params))
        if row is not None and row["retired"] == 1:
            return Rotated()
        # Lost the race: a concurrent rotation or revocation held the row and changed it first.
        # Under READ COMMITTED this next statement sees what it committed.
        presented = await self._driver.fetchrow(self._load_token, {"token_id": retired_id})
        return LostRace(_presented(presented, retired_id, successor))

    async def revoke_family(self, family_id: UUID, now: int) -> int:
        return await self._writes.revoke_family(family_id, now, REUSE)


def _presented(
    row: Mapping[str, Any] | None, token_id: UUID, successor: NewToken
) -> StoredRefreshToken:
    """The presented token as read back after a lost race. A token deleted since it was
    presented (a purge removes only dead tokens) is answered as revoked: the successor it would
    have had names its client, user, family and connection."""
    if row is not None:
        return stored_refresh_token(row)
    return StoredRefreshToken(
        id=token_id,
        client_id=successor.client_id,
        user_id=successor.user_id,
        expires_at=0,
        revoked=True,
        family_id=successor.family_id,
        connection_id=successor.connection_id,
    )
