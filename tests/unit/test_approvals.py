"""Approver and check_ceiling (CONTRACT §3): creating or widening an approval within the client
type's ceiling, with the 422 naming the request's own scope field."""

from __future__ import annotations

from uuid import UUID

import pytest

from ehealth_auth.protocol.approvals import Approver, check_ceiling
from ehealth_auth.protocol.errors import NotFoundError, ValidationError
from tests.fakes import FakeAdminStore, FakeClock, FakeDatabase
from tests.unit.builders import add_approval, add_client, add_client_type, add_user
from tests.unit.invalid import failures

SCOPE_NOT_ALLOWED = "Scope is not allowed by client type."
UNKNOWN = UUID("00000000-0000-4000-8000-000000000000")


# ---------------------------------------------------------------------------- check_ceiling


def test_scope_within_ceiling_comes_back_normalised() -> None:
    assert check_ceiling("  b   a b\ta ", "a b c", "$.x.scope") == "b a"


def test_scope_equal_to_ceiling_is_allowed() -> None:
    assert check_ceiling("a b c", "c b a", "$.x.scope") == "a b c"


@pytest.mark.parametrize("path", ["$.token.scope", "$.query.scope"])
def test_scope_beyond_ceiling_is_a_422_at_the_given_path_listing_the_ceiling(path: str) -> None:
    with pytest.raises(ValidationError) as raised:
        check_ceiling("a evil", " c  a c ", path)

    error = raised.value
    assert (error.status, error.type, error.message) == (
        422,
        "validation_failed",
        SCOPE_NOT_ALLOWED,
    )
    assert failures(error) == [(path, "inclusion", SCOPE_NOT_ALLOWED, ("c", "a"))]


def test_ceiling_compares_whole_scope_items_not_substrings() -> None:
    with pytest.raises(ValidationError):
        check_ceiling("employee:read", "employee:read_all employee", "$.x.scope")


# ----------------------------------------------------------------------------------- Approver


@pytest.fixture
def approver(admin_store: FakeAdminStore, clock: FakeClock) -> Approver:
    return Approver(admin_store, admin_store, clock)


@pytest.fixture
def pair(db: FakeDatabase) -> tuple[UUID, UUID]:
    """A user and a client whose type allows `a b c`."""
    client_id, _, _ = add_client(db, add_client_type(db, scope="a b c"))
    return add_user(db, "user@example.org"), client_id


async def test_approve_creates_approval_with_normalised_scope(
    approver: Approver, db: FakeDatabase, clock: FakeClock, pair: tuple[UUID, UUID]
) -> None:
    user_id, client_id = pair

    record = await approver.approve(user_id, client_id, " b a b ", "$.app.scope")

    assert (record.user_id, record.client_id, record.scope) == (user_id, client_id, "b a")
    assert db.approvals == {record.id: record}
    assert db.inserted_at[record.id] == clock.now()


async def test_approve_widens_existing_approval_new_scopes_first_keeping_its_id(
    approver: Approver, db: FakeDatabase, pair: tuple[UUID, UUID]
) -> None:
    user_id, client_id = pair
    existing = add_approval(db, user_id, client_id, "a b")

    record = await approver.approve(user_id, client_id, "c a", "$.app.scope")

    assert (record.id, record.scope) == (existing, "c a b")
    assert db.approvals[existing].scope == "c a b"
    assert len(db.approvals) == 1


async def test_approve_with_scope_already_approved_changes_nothing_but_order(
    approver: Approver, db: FakeDatabase, pair: tuple[UUID, UUID]
) -> None:
    user_id, client_id = pair
    existing = add_approval(db, user_id, client_id, "a b c")

    record = await approver.approve(user_id, client_id, "b", "$.app.scope")

    assert (record.id, record.scope) == (existing, "b a c")


async def test_approve_keeps_old_scope_beyond_a_since_narrowed_ceiling(
    approver: Approver, db: FakeDatabase, pair: tuple[UUID, UUID]
) -> None:
    """Only the requested scope is checked against the ceiling; widening never narrows."""
    user_id, client_id = pair
    add_approval(db, user_id, client_id, "a legacy")

    record = await approver.approve(user_id, client_id, "b", "$.app.scope")

    assert record.scope == "b a legacy"


async def test_approve_refuses_scope_beyond_ceiling_at_the_given_path_and_saves_nothing(
    approver: Approver, db: FakeDatabase, pair: tuple[UUID, UUID]
) -> None:
    user_id, client_id = pair
    existing = add_approval(db, user_id, client_id, "a")
    before = dict(db.approvals)

    with pytest.raises(ValidationError) as raised:
        await approver.approve(user_id, client_id, "b evil", "$.somewhere.scope")

    assert failures(raised.value) == [
        ("$.somewhere.scope", "inclusion", SCOPE_NOT_ALLOWED, ("a", "b", "c"))
    ]
    assert db.approvals == before
    assert db.approvals[existing].scope == "a"


async def test_approve_refuses_unknown_user_before_looking_at_client(
    approver: Approver, db: FakeDatabase
) -> None:
    with pytest.raises(NotFoundError) as raised:
        await approver.approve(UNKNOWN, UNKNOWN, "a", "$.app.scope")

    assert raised.value.message == "User not found."
    assert db.approvals == {}


async def test_approve_refuses_unknown_client(
    approver: Approver, db: FakeDatabase, pair: tuple[UUID, UUID]
) -> None:
    user_id, _ = pair

    with pytest.raises(NotFoundError) as raised:
        await approver.approve(user_id, UNKNOWN, "a", "$.app.scope")

    assert raised.value.message == "Client not found."
    assert db.approvals == {}


async def test_approve_checks_the_ceiling_of_the_clients_own_type(
    approver: Approver, db: FakeDatabase, pair: tuple[UUID, UUID]
) -> None:
    user_id, client_id = pair
    wide_client, _, _ = add_client(db, add_client_type(db, "Wide", "a b c wide"), "Wide")

    assert (await approver.approve(user_id, wide_client, "wide", "$.app.scope")).scope == "wide"
    with pytest.raises(ValidationError):
        await approver.approve(user_id, client_id, "wide", "$.app.scope")
