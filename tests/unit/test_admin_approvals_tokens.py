"""AdminService: approvals (CONTRACT §3 widening, §5 revocation) and operator-minted tokens."""

from __future__ import annotations

import dataclasses
from uuid import UUID

import pytest

from ehealth_auth.protocol.admin import AdminService
from ehealth_auth.protocol.errors import NotFoundError, TokenExpiredError, ValidationError
from ehealth_auth.protocol.grants.refresh_token import RefreshTokenGrant
from ehealth_auth.protocol.model import TokenName
from ehealth_auth.protocol.paging import PageRequest
from ehealth_auth.protocol.records import TokenInfo
from tests.fakes import FakeClock, FakeDatabase, sha256
from tests.unit.builders import CEILING, live_tokens, new_client, new_user, stored_token
from tests.unit.conftest import POLICY
from tests.unit.invalid import failures

UNKNOWN = UUID("00000000-0000-4000-8000-000000000000")


@pytest.fixture
async def pair(admin: AdminService) -> tuple[UUID, UUID]:
    """A user and a client, not yet approved."""
    user = await new_user(admin)
    return user.id, (await new_client(admin)).client.id


# --------------------------------------------------------------------------------- approvals


async def test_approve_creates_approval_with_normalised_scope(
    admin: AdminService, db: FakeDatabase, pair: tuple[UUID, UUID]
) -> None:
    user_id, client_id = pair

    approval = await admin.approve(
        user_id, client_id, " employee:read  app:authorize employee:read"
    )

    assert (approval.user_id, approval.client_id, approval.scope) == (
        user_id,
        client_id,
        "employee:read app:authorize",
    )
    assert db.approvals == {approval.id: approval}


async def test_approve_widens_existing_approval_new_scopes_first(
    admin: AdminService, db: FakeDatabase, pair: tuple[UUID, UUID]
) -> None:
    user_id, client_id = pair
    first = await admin.approve(user_id, client_id, "app:authorize legal_entity:read")

    widened = await admin.approve(user_id, client_id, "employee:read app:authorize")

    assert widened.id == first.id
    assert widened.scope == "employee:read app:authorize legal_entity:read"
    assert db.approvals == {first.id: widened}


async def test_approve_refuses_unknown_user_before_looking_at_client(
    admin: AdminService,
) -> None:
    with pytest.raises(NotFoundError) as raised:
        await admin.approve(UNKNOWN, UNKNOWN, "app:authorize")

    assert raised.value.message == "User not found."


async def test_approve_refuses_unknown_client(admin: AdminService) -> None:
    user = await new_user(admin)

    with pytest.raises(NotFoundError) as raised:
        await admin.approve(user.id, UNKNOWN, "app:authorize")

    assert raised.value.message == "Client not found."


async def test_approve_rejects_blank_scope(
    admin: AdminService, db: FakeDatabase, pair: tuple[UUID, UUID]
) -> None:
    with pytest.raises(ValidationError) as raised:
        await admin.approve(*pair, " \t ")

    assert failures(raised.value) == [("$.approval.scope", "required", "can't be blank", ())]
    assert db.approvals == {}


async def test_approve_rejects_scope_outside_client_type_ceiling(
    admin: AdminService, db: FakeDatabase, pair: tuple[UUID, UUID]
) -> None:
    with pytest.raises(ValidationError) as raised:
        await admin.approve(*pair, "app:authorize declaration:delete")

    error = raised.value
    assert (error.status, error.message) == (422, "Scope is not allowed by client type.")
    assert failures(error) == [
        (
            "$.approval.scope",
            "inclusion",
            "Scope is not allowed by client type.",
            tuple(CEILING.split()),
        )
    ]
    assert db.approvals == {}


async def test_approve_checks_only_requested_scope_against_ceiling(
    admin: AdminService, db: FakeDatabase, pair: tuple[UUID, UUID]
) -> None:
    user_id, client_id = pair
    first = await admin.approve(user_id, client_id, "app:authorize")
    # The client type was narrowed after the first approval.
    kind = db.client_types[db.clients[client_id].client_type_id]
    db.client_types[kind.id] = dataclasses.replace(kind, scope="employee:read")

    widened = await admin.approve(user_id, client_id, "employee:read")

    assert widened.id == first.id
    assert widened.scope == "employee:read app:authorize"


async def test_list_approvals_filters_by_user_and_client(
    admin: AdminService, clock: FakeClock
) -> None:
    client_a = (await new_client(admin, "A")).client.id
    client_b = (await new_client(admin, "B")).client.id
    user_1 = (await new_user(admin, "one@example.org")).id
    user_2 = (await new_user(admin, "two@example.org")).id
    made = {}
    for user_id, client_id in ((user_1, client_a), (user_1, client_b), (user_2, client_a)):
        clock.advance(1)
        made[user_id, client_id] = (await admin.approve(user_id, client_id, "app:authorize")).id

    everything = await admin.list_approvals(PageRequest())
    of_user_1 = await admin.list_approvals(PageRequest(), user_id=user_1)
    of_client_a = await admin.list_approvals(PageRequest(), client_id=client_a)
    of_both = await admin.list_approvals(PageRequest(), user_id=user_2, client_id=client_a)

    assert [a.id for a in everything.entries] == list(made.values())
    assert [a.id for a in of_user_1.entries] == [made[user_1, client_a], made[user_1, client_b]]
    assert [a.id for a in of_client_a.entries] == [made[user_1, client_a], made[user_2, client_a]]
    assert [a.id for a in of_both.entries] == [made[user_2, client_a]]
    assert of_user_1.total_entries == 2


async def test_delete_approval_revokes_that_users_tokens_for_that_client_only(
    admin: AdminService, db: FakeDatabase, clock: FakeClock
) -> None:
    client_a = (await new_client(admin, "A")).client.id
    client_b = (await new_client(admin, "B")).client.id
    user_id = (await new_user(admin, "one@example.org")).id
    other_user = (await new_user(admin, "two@example.org")).id
    await admin.approve(user_id, client_a, "app:authorize")
    kept = await admin.approve(user_id, client_b, "app:authorize")
    stored_token(db, user_id, client_a, clock.now())
    survivors = {
        stored_token(db, user_id, client_b, clock.now()),
        stored_token(db, other_user, client_a, clock.now()),
    }

    await admin.delete_approval(user_id, client_a)

    assert list(db.approvals.values()) == [kept]
    assert live_tokens(db) == survivors


async def test_delete_approval_by_id_revokes_like_delete_approval(
    admin: AdminService, db: FakeDatabase, clock: FakeClock, pair: tuple[UUID, UUID]
) -> None:
    user_id, client_id = pair
    approval = await admin.approve(user_id, client_id, "app:authorize")
    stored_token(db, user_id, client_id, clock.now())

    await admin.delete_approval_by_id(approval.id)

    assert db.approvals == {}
    assert live_tokens(db) == set()


async def test_delete_approval_refuses_missing_approval(
    admin: AdminService, pair: tuple[UUID, UUID]
) -> None:
    with pytest.raises(NotFoundError) as raised:
        await admin.delete_approval(*pair)

    assert raised.value.message == "Approval not found."


async def test_delete_approval_by_id_refuses_unknown_id(admin: AdminService) -> None:
    with pytest.raises(NotFoundError) as raised:
        await admin.delete_approval_by_id(UNKNOWN)

    assert raised.value.message == "Approval not found."


# ------------------------------------------------------------------------------------ tokens


@pytest.mark.parametrize(
    ("name", "ttl"),
    [(TokenName.REFRESH_TOKEN, POLICY.refresh_ttl), (TokenName.ACCESS_TOKEN, POLICY.access_ttl)],
)
async def test_create_token_mints_with_policy_lifetime_and_approval_scope(
    admin: AdminService,
    db: FakeDatabase,
    clock: FakeClock,
    pair: tuple[UUID, UUID],
    name: TokenName,
    ttl: int,
) -> None:
    user_id, client_id = pair
    await admin.approve(user_id, client_id, "employee:read app:authorize")

    issued = await admin.create_token(name, user_id, client_id)

    assert (issued.name, issued.user_id, issued.expires_at) == (name, user_id, clock.now() + ttl)
    assert issued.details == {"client_id": str(client_id), "scope": "employee:read app:authorize"}
    record = db.tokens[issued.id].token
    assert record.name is name
    assert record.value_hash == sha256(issued.value)
    assert issued.value not in repr(record)
    assert (record.scope, record.client_id, record.issued_at) == (
        "employee:read app:authorize",
        client_id,
        clock.now(),
    )
    assert (record.family_id, record.parent_id, record.connection_id) == (issued.id, None, None)


async def test_create_token_honours_explicit_expiry(
    admin: AdminService, db: FakeDatabase, clock: FakeClock, pair: tuple[UUID, UUID]
) -> None:
    user_id, client_id = pair
    await admin.approve(user_id, client_id, "app:authorize")

    issued = await admin.create_token(
        TokenName.ACCESS_TOKEN, user_id, client_id, expires_at=clock.now() - 1
    )

    assert issued.expires_at == db.tokens[issued.id].token.expires_at == clock.now() - 1


async def test_create_token_refuses_authorization_code(
    admin: AdminService, db: FakeDatabase, pair: tuple[UUID, UUID]
) -> None:
    user_id, client_id = pair
    await admin.approve(user_id, client_id, "app:authorize")

    with pytest.raises(ValidationError) as raised:
        await admin.create_token(TokenName.AUTHORIZATION_CODE, user_id, client_id)

    assert failures(raised.value) == [
        (
            "$.token.name",
            "inclusion",
            "must be access_token or refresh_token",
            ("access_token", "refresh_token"),
        )
    ]
    assert db.tokens == {}


async def test_create_token_refuses_without_approval(
    admin: AdminService, db: FakeDatabase, pair: tuple[UUID, UUID]
) -> None:
    with pytest.raises(NotFoundError) as raised:
        await admin.create_token(TokenName.REFRESH_TOKEN, *pair)

    assert raised.value.message == "Approval not found: approve the client for the user first."
    assert db.tokens == {}


async def test_operator_made_refresh_token_is_accepted_by_refresh_grant(
    admin: AdminService, grant: RefreshTokenGrant
) -> None:
    new = await new_client(admin)
    user_id = (await new_user(admin)).id
    await admin.approve(user_id, new.client.id, "employee:read")
    refresh = await admin.create_token(TokenName.REFRESH_TOKEN, user_id, new.client.id)

    issued = await grant.handle(
        {
            "client_id": str(new.client.id),
            "client_secret": new.secret,
            "refresh_token": refresh.value,
        }
    )

    assert issued.user_id == user_id
    assert issued.details["scope"] == "employee:read"


async def test_refresh_after_operator_blocks_user_finds_token_revoked(
    admin: AdminService, grant: RefreshTokenGrant
) -> None:
    new = await new_client(admin)
    user_id = (await new_user(admin)).id
    await admin.approve(user_id, new.client.id, "employee:read")
    refresh = await admin.create_token(TokenName.REFRESH_TOKEN, user_id, new.client.id)

    await admin.block_user(user_id)

    # Blocking revoked the token, so check 9 (expired) answers before check 10 (user blocked).
    with pytest.raises(TokenExpiredError):
        await grant.handle(
            {
                "client_id": str(new.client.id),
                "client_secret": new.secret,
                "refresh_token": refresh.value,
            }
        )


async def test_list_tokens_shows_newest_first_and_filters(
    admin: AdminService, db: FakeDatabase, clock: FakeClock
) -> None:
    client_a = (await new_client(admin, "A")).client.id
    client_b = (await new_client(admin, "B")).client.id
    user_1 = (await new_user(admin, "one@example.org")).id
    user_2 = (await new_user(admin, "two@example.org")).id
    oldest = stored_token(db, user_1, client_a, clock.now() - 30)
    middle = stored_token(db, user_2, client_a, clock.now() - 20)
    newest = stored_token(db, user_1, client_b, clock.now() - 10)

    everything = await admin.list_tokens(PageRequest())
    of_user_1 = await admin.list_tokens(PageRequest(), user_id=user_1)
    of_client_a = await admin.list_tokens(PageRequest(), client_id=client_a)
    second_page = await admin.list_tokens(PageRequest(number=2, size=2))

    assert [t.id for t in everything.entries] == [newest, middle, oldest]
    assert [t.id for t in of_user_1.entries] == [newest, oldest]
    assert [t.id for t in of_client_a.entries] == [middle, oldest]
    assert [t.id for t in second_page.entries] == [oldest]
    assert second_page.total_entries == 3


async def test_revoke_token_revokes_one_token_and_describes_it(
    admin: AdminService, db: FakeDatabase, clock: FakeClock, pair: tuple[UUID, UUID]
) -> None:
    user_id, client_id = pair
    target = stored_token(db, user_id, client_id, clock.now() - 5)
    other = stored_token(db, user_id, client_id, clock.now() - 5)

    info = await admin.revoke_token(target)

    record = db.tokens[target].token
    assert info == TokenInfo(
        id=target,
        name="refresh_token",
        user_id=user_id,
        client_id=client_id,
        scope=record.scope,
        issued_at=record.issued_at,
        expires_at=record.expires_at,
        revoked_at=clock.now(),
    )
    assert live_tokens(db) == {other}


async def test_revoke_token_keeps_time_of_earlier_revocation(
    admin: AdminService, db: FakeDatabase, clock: FakeClock, pair: tuple[UUID, UUID]
) -> None:
    target = stored_token(db, *pair, clock.now() - 5)
    db.tokens[target].revoked_at = clock.now() - 3

    info = await admin.revoke_token(target)

    assert info.revoked_at == db.tokens[target].revoked_at == clock.now() - 3


async def test_revoke_token_refuses_unknown_token(admin: AdminService) -> None:
    with pytest.raises(NotFoundError) as raised:
        await admin.revoke_token(UNKNOWN)

    assert raised.value.message == "Token not found."
