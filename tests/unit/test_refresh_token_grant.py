"""RefreshTokenGrant against fakes: CONTRACT §2 checks 4-11 in their order, and the issue phase."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from ehealth_auth.protocol.errors import InvalidGrantError, ServiceError, ValidationError
from ehealth_auth.protocol.grants.refresh_token import RefreshTokenGrant, ValidRefresh
from ehealth_auth.protocol.model import StoredRefreshToken, TokenName
from tests.fakes import FakeClock, FakeDatabase, FakeRefreshGrantStore, sha256
from tests.unit.builders import APPROVAL_SCOPE, World, add_approval, add_connection, add_token
from tests.unit.conftest import POLICY

VALIDATION_TEXT = (
    "Validation failed. You can find validators description at our API Manifest: "
    "http://docs.apimanifest.apiary.io/#introduction/interacting-with-api/errors."
)


@dataclass(frozen=True)
class Expected:
    status: int
    type: str
    message: str


# CONTRACT §2, the table, written out here rather than taken from the code under test.
EXPECTED = {
    4: Expected(422, "validation_failed", VALIDATION_TEXT),
    5: Expected(401, "invalid_client", "Invalid client id or secret."),
    6: Expected(401, "invalid_client", "Client is blocked."),
    7: Expected(401, "token_not_found", "Token not found."),
    8: Expected(401, "invalid_grant", "Token not found or expired."),
    9: Expected(401, "token_expired", "Token expired."),
    10: Expected(401, "user_blocked", "User blocked."),
    11: Expected(401, "access_denied", "Resource owner revoked access for the client."),
}


@dataclass
class Scene:
    db: FakeDatabase
    world: World
    clock: FakeClock
    params: dict[str, object]


def _break_fields(scene: Scene) -> None:
    scene.params["client_id"] = ""


def _break_secret(scene: Scene) -> None:
    scene.params["client_secret"] = "not-the-secret"


def _block_client(scene: Scene) -> None:
    client = scene.db.clients[scene.world.client_id]
    scene.db.clients[client.id] = dataclasses.replace(client, is_blocked=True)


def _present_unknown_token(scene: Scene) -> None:
    scene.params["refresh_token"] = "no-such-token"


def _move_token_to_other_client(scene: Scene) -> None:
    row = scene.db.tokens[scene.world.refresh_token_id]
    row.token = dataclasses.replace(row.token, client_id=scene.world.other_client_id)


def _expire_token(scene: Scene) -> None:
    row = scene.db.tokens[scene.world.refresh_token_id]
    row.token = dataclasses.replace(row.token, expires_at=scene.clock.now())


def _block_user_without_revoking(scene: Scene) -> None:
    user = scene.db.users[scene.world.user_id]
    scene.db.users[user.id] = dataclasses.replace(user, is_blocked=True)


def _drop_approval_without_revoking(scene: Scene) -> None:
    del scene.db.approvals[scene.world.approval_id]


# One way to fail each check; they touch different things so any of them can be combined.
BREAKAGES: dict[int, Callable[[Scene], None]] = {
    4: _break_fields,
    5: _break_secret,
    6: _block_client,
    7: _present_unknown_token,
    8: _move_token_to_other_client,
    9: _expire_token,
    10: _block_user_without_revoking,
    11: _drop_approval_without_revoking,
}


def assert_service_error(error: ServiceError, check: int) -> None:
    expected = EXPECTED[check]
    assert (error.status, error.type, error.message) == (
        expected.status,
        expected.type,
        expected.message,
    )


async def refresh_fails(grant: RefreshTokenGrant, params: dict[str, object]) -> ServiceError:
    with pytest.raises(ServiceError) as raised:
        await grant.handle(params)
    return raised.value


@pytest.fixture
def scene(db: FakeDatabase, world: World, clock: FakeClock) -> Scene:
    return Scene(db, world, clock, world.params())


# ---------------------------------------------------------------- success and the issue phase


async def test_refresh_issues_access_token_for_token_user(
    grant: RefreshTokenGrant, world: World, clock: FakeClock
) -> None:
    issued = await grant.handle(world.params())

    assert issued.name is TokenName.ACCESS_TOKEN
    assert issued.user_id == world.user_id
    assert issued.expires_at == clock.now() + POLICY.access_ttl
    assert issued.value != world.refresh_token
    assert len(issued.value) >= 22


async def test_refresh_details_carry_current_approval_scope_not_old_token_scope(
    grant: RefreshTokenGrant, world: World, db: FakeDatabase
) -> None:
    assert db.tokens[world.refresh_token_id].token.scope != APPROVAL_SCOPE

    issued = await grant.handle(world.params())

    assert issued.details == {
        "client_id": str(world.client_id),
        "grant_type": "refresh_token",
        "scope": APPROVAL_SCOPE,
    }


async def test_refresh_follows_approval_scope_changed_after_token_was_issued(
    grant: RefreshTokenGrant, world: World, db: FakeDatabase
) -> None:
    approval = db.approvals[world.approval_id]
    db.approvals[approval.id] = dataclasses.replace(approval, scope="declaration:write")

    issued = await grant.handle(world.params())

    assert issued.details["scope"] == "declaration:write"
    assert db.tokens[issued.id].token.scope == "declaration:write"


async def test_refresh_stores_access_token_in_family_with_refresh_token_as_parent(
    grant: RefreshTokenGrant, world: World, db: FakeDatabase, clock: FakeClock
) -> None:
    issued = await grant.handle(world.params())

    stored = db.tokens[issued.id]
    assert stored.revoked_at is None
    record = stored.token
    assert record.name is TokenName.ACCESS_TOKEN
    assert record.family_id == world.family_id
    assert record.family_id != world.refresh_token_id
    assert record.parent_id == world.refresh_token_id
    assert record.connection_id == world.connection_id
    assert record.user_id == world.user_id
    assert record.client_id == world.client_id
    assert record.issued_at == clock.now()
    assert record.expires_at == issued.expires_at
    assert record.scope == APPROVAL_SCOPE
    assert record.details == issued.details


async def test_refresh_stores_only_the_hash_of_the_new_token(
    grant: RefreshTokenGrant, world: World, db: FakeDatabase
) -> None:
    issued = await grant.handle(world.params())

    record = db.tokens[issued.id].token
    assert record.value_hash == sha256(issued.value)
    assert issued.value not in repr(record)
    assert issued.value not in record.details.values()
    assert world.refresh_token not in repr(record)


async def test_refresh_adds_exactly_one_token(
    grant: RefreshTokenGrant, world: World, db: FakeDatabase
) -> None:
    before = set(db.tokens)

    issued = await grant.handle(world.params())

    assert set(db.tokens) - before == {issued.id}


async def test_refresh_with_rotation_off_leaves_refresh_token_usable(
    grant: RefreshTokenGrant, world: World, db: FakeDatabase
) -> None:
    first = await grant.handle(world.params())
    second = await grant.handle(world.params())

    assert first.id != second.id
    assert first.value != second.value
    assert db.tokens[world.refresh_token_id].revoked_at is None


async def test_refresh_passes_hashes_not_values_to_the_store(
    grant: RefreshTokenGrant, world: World, refresh_store: FakeRefreshGrantStore
) -> None:
    await grant.handle(world.params())

    assert refresh_store.context_loads == [
        (world.client_id, sha256(world.client_secret), sha256(world.refresh_token))
    ]


async def test_refresh_ignores_unknown_extra_keys(grant: RefreshTokenGrant, world: World) -> None:
    params = world.params() | {"scope": 42, "redirect_uri": None, "extra": {"nested": True}}

    issued = await grant.handle(params)

    assert issued.details["scope"] == APPROVAL_SCOPE


async def test_refresh_of_an_operator_minted_token_accepts_any_connection_of_the_client(
    grant: RefreshTokenGrant, world: World, db: FakeDatabase
) -> None:
    second_secret, second_connection_id = add_connection(db, world.client_id)

    issued = await grant.handle(world.params() | {"client_secret": second_secret})

    assert issued.user_id == world.user_id
    assert db.tokens[issued.id].token.connection_id == second_connection_id


async def test_refresh_token_issued_through_a_connection_needs_that_connections_secret(
    grant: RefreshTokenGrant, world: World, db: FakeDatabase
) -> None:
    row = db.tokens[world.refresh_token_id]
    row.token = dataclasses.replace(row.token, connection_id=world.connection_id)
    second_secret, _ = add_connection(db, world.client_id)
    before = set(db.tokens)

    with pytest.raises(InvalidGrantError) as raised:
        await grant.handle(world.params() | {"client_secret": second_secret})

    assert raised.value.message == "Token not found or expired."
    assert set(db.tokens) == before
    assert (await grant.handle(world.params())).user_id == world.user_id


async def test_refresh_accepts_uppercase_client_id(grant: RefreshTokenGrant, world: World) -> None:
    issued = await grant.handle(world.params() | {"client_id": str(world.client_id).upper()})

    assert issued.details["client_id"] == str(world.client_id)


async def test_validate_returns_checked_request_and_issues_nothing(
    grant: RefreshTokenGrant, world: World, db: FakeDatabase, clock: FakeClock
) -> None:
    before = set(db.tokens)

    valid = await grant.validate(world.params())

    assert valid == ValidRefresh(
        client_id=world.client_id,
        connection_id=world.connection_id,
        token=StoredRefreshToken(
            id=world.refresh_token_id,
            client_id=world.client_id,
            user_id=world.user_id,
            expires_at=world.refresh_expires_at,
            revoked=False,
            family_id=world.family_id,
        ),
        scope=APPROVAL_SCOPE,
        now=clock.now(),
        access_scope=APPROVAL_SCOPE,
        token_hash=sha256(world.refresh_token),
    )
    assert set(db.tokens) == before


def test_refresh_grant_answers_to_refresh_token_grant_type() -> None:
    assert RefreshTokenGrant.grant_type == "refresh_token"


# ------------------------------------------------------------------------ check 4: fields


@pytest.mark.parametrize("field", ["client_id", "client_secret", "refresh_token"])
@pytest.mark.parametrize("blank", [..., None, "", "   ", "\t\n"], ids=repr)
async def test_refresh_rejects_missing_or_blank_field_as_required(
    grant: RefreshTokenGrant,
    world: World,
    refresh_store: FakeRefreshGrantStore,
    field: str,
    blank: object,
) -> None:
    params = world.params()
    if blank is ...:
        del params[field]
    else:
        params[field] = blank

    error = await refresh_fails(grant, params)

    assert isinstance(error, ValidationError)
    assert_service_error(error, 4)
    assert [(entry.entry, entry.entry_type) for entry in error.invalid] == [
        (f"$.token.{field}", "json_data_property")
    ]
    assert [(r.rule, r.description, r.params) for r in error.invalid[0].rules] == [
        ("required", "can't be blank", ())
    ]
    assert refresh_store.context_loads == []


@pytest.mark.parametrize("field", ["client_id", "client_secret", "refresh_token"])
@pytest.mark.parametrize("wrong", [1, 0, 1.5, True, False, ["x"], {"x": "y"}], ids=repr)
async def test_refresh_rejects_non_string_field_as_cast(
    grant: RefreshTokenGrant, world: World, field: str, wrong: object
) -> None:
    error = await refresh_fails(grant, world.params() | {field: wrong})

    assert isinstance(error, ValidationError)
    assert_service_error(error, 4)
    assert [entry.entry for entry in error.invalid] == [f"$.token.{field}"]
    assert [(r.rule, r.description, r.params) for r in error.invalid[0].rules] == [
        ("cast", "is invalid", ("string",))
    ]


async def test_refresh_lists_every_bad_field_in_one_error(grant: RefreshTokenGrant) -> None:
    error = await refresh_fails(grant, {"grant_type": "refresh_token", "client_secret": 7})

    assert isinstance(error, ValidationError)
    assert [(entry.entry, entry.rules[0].rule) for entry in error.invalid] == [
        ("$.token.client_id", "required"),
        ("$.token.client_secret", "cast"),
        ("$.token.refresh_token", "required"),
    ]


async def test_refresh_field_check_comes_before_client_id_format(
    grant: RefreshTokenGrant, world: World
) -> None:
    params = world.params() | {"client_id": "not-a-uuid", "refresh_token": None}

    error = await refresh_fails(grant, params)

    assert isinstance(error, ValidationError)
    assert [entry.entry for entry in error.invalid] == ["$.token.refresh_token"]


# ---------------------------------------------------------------------- check 5: the client


@pytest.mark.parametrize(
    "client_id",
    ["not-a-uuid", "1234", "00000000-0000-0000-0000-00000000000g", "' OR 1=1 --"],
)
async def test_refresh_rejects_malformed_client_id_as_invalid_client_without_lookup(
    grant: RefreshTokenGrant,
    world: World,
    refresh_store: FakeRefreshGrantStore,
    client_id: str,
) -> None:
    error = await refresh_fails(grant, world.params() | {"client_id": client_id})

    assert_service_error(error, 5)
    assert refresh_store.context_loads == []


async def test_refresh_rejects_unknown_client_id(grant: RefreshTokenGrant, world: World) -> None:
    params = world.params() | {"client_id": "00000000-0000-4000-8000-000000000000"}

    assert_service_error(await refresh_fails(grant, params), 5)


async def test_refresh_rejects_wrong_secret(grant: RefreshTokenGrant, world: World) -> None:
    error = await refresh_fails(grant, world.params() | {"client_secret": "guess"})

    assert_service_error(error, 5)


@pytest.mark.parametrize("padding", [" ", "\n", "\t"], ids=repr)
async def test_refresh_compares_secret_exactly_without_trimming(
    grant: RefreshTokenGrant, world: World, padding: str
) -> None:
    params = world.params() | {"client_secret": f"{padding}{world.client_secret}{padding}"}

    assert_service_error(await refresh_fails(grant, params), 5)


async def test_refresh_rejects_secret_of_another_client(
    grant: RefreshTokenGrant, world: World
) -> None:
    error = await refresh_fails(
        grant, world.params() | {"client_secret": world.other_client_secret}
    )

    assert_service_error(error, 5)


# ------------------------------------------------------------------ checks 6-11, one at a time


async def test_refresh_rejects_blocked_client_after_secret_check(
    grant: RefreshTokenGrant, scene: Scene
) -> None:
    _block_client(scene)

    assert_service_error(await refresh_fails(grant, scene.params), 6)


async def test_refresh_rejects_unknown_refresh_token(
    grant: RefreshTokenGrant, scene: Scene
) -> None:
    _present_unknown_token(scene)

    assert_service_error(await refresh_fails(grant, scene.params), 7)


@pytest.mark.parametrize("name", [TokenName.ACCESS_TOKEN, TokenName.AUTHORIZATION_CODE])
async def test_refresh_does_not_accept_other_token_kinds_as_refresh_token(
    grant: RefreshTokenGrant, world: World, db: FakeDatabase, clock: FakeClock, name: TokenName
) -> None:
    value, _ = add_token(
        db,
        name=name,
        user_id=world.user_id,
        client_id=world.client_id,
        issued_at=clock.now(),
        expires_at=clock.now() + 600,
    )

    error = await refresh_fails(grant, world.params() | {"refresh_token": value})

    assert_service_error(error, 7)


async def test_refresh_rejects_token_issued_to_another_client(
    grant: RefreshTokenGrant, world: World, db: FakeDatabase, clock: FakeClock
) -> None:
    # The user approved B as well, so only the token's owner is wrong.
    add_approval(db, world.user_id, world.other_client_id, APPROVAL_SCOPE)
    value, _ = add_token(
        db,
        name=TokenName.REFRESH_TOKEN,
        user_id=world.user_id,
        client_id=world.other_client_id,
        issued_at=clock.now(),
        expires_at=clock.now() + 600,
    )

    error = await refresh_fails(grant, world.params() | {"refresh_token": value})

    assert_service_error(error, 8)


async def test_refresh_treats_token_expiring_now_as_expired(
    grant: RefreshTokenGrant, world: World, clock: FakeClock
) -> None:
    clock.set(world.refresh_expires_at)

    assert_service_error(await refresh_fails(grant, world.params()), 9)


async def test_refresh_accepts_token_in_its_last_second(
    grant: RefreshTokenGrant, world: World, clock: FakeClock
) -> None:
    clock.set(world.refresh_expires_at - 1)

    issued = await grant.handle(world.params())

    assert issued.expires_at == world.refresh_expires_at - 1 + POLICY.access_ttl


async def test_refresh_rejects_token_past_expiry(
    grant: RefreshTokenGrant, world: World, clock: FakeClock
) -> None:
    clock.set(world.refresh_expires_at + 86_400)

    assert_service_error(await refresh_fails(grant, world.params()), 9)


async def test_refresh_rejects_revoked_token_before_its_expiry(
    grant: RefreshTokenGrant, world: World, db: FakeDatabase, clock: FakeClock
) -> None:
    db.tokens[world.refresh_token_id].revoked_at = clock.now() - 1

    assert_service_error(await refresh_fails(grant, world.params()), 9)


async def test_refresh_rejects_blocked_user_after_token_checks(
    grant: RefreshTokenGrant, scene: Scene
) -> None:
    _block_user_without_revoking(scene)

    assert_service_error(await refresh_fails(grant, scene.params), 10)


async def test_refresh_rejects_when_approval_was_deleted(
    grant: RefreshTokenGrant, scene: Scene
) -> None:
    _drop_approval_without_revoking(scene)

    assert_service_error(await refresh_fails(grant, scene.params), 11)


async def test_refresh_does_not_accept_approval_for_another_client(
    grant: RefreshTokenGrant, scene: Scene
) -> None:
    _drop_approval_without_revoking(scene)
    add_approval(scene.db, scene.world.user_id, scene.world.other_client_id, APPROVAL_SCOPE)

    assert_service_error(await refresh_fails(grant, scene.params), 11)


# ----------------------------------------------------------------- order: earliest check wins


@pytest.mark.parametrize(
    ("first", "later"),
    list(itertools.combinations(sorted(BREAKAGES), 2)),
    ids=lambda n: f"check{n}",
)
async def test_refresh_reports_earlier_check_when_two_fail(
    grant: RefreshTokenGrant, scene: Scene, first: int, later: int
) -> None:
    BREAKAGES[later](scene)
    BREAKAGES[first](scene)

    assert_service_error(await refresh_fails(grant, scene.params), first)


@pytest.mark.parametrize("first", sorted(BREAKAGES), ids=lambda n: f"check{n}")
async def test_refresh_reports_earliest_check_when_it_and_all_later_fail(
    grant: RefreshTokenGrant, scene: Scene, db: FakeDatabase, first: int
) -> None:
    before = set(db.tokens)
    for check in sorted(BREAKAGES):
        if check >= first:
            BREAKAGES[check](scene)

    assert_service_error(await refresh_fails(grant, scene.params), first)
    assert set(db.tokens) == before
