"""PasswordGrant (`POST /auth/login`, docs/api.md "Check orders") against fakes: checks 4-10 in
their order, the attempt counter and its lockout, and equal work for unknown emails."""

from __future__ import annotations

import dataclasses
import itertools
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from uuid import UUID

import pytest

from ehealth_auth.protocol.errors import ServiceError, TooManyRequestsError, ValidationError
from ehealth_auth.protocol.grants.password import (
    LoginPolicy,
    PasswordGrant,
    account_key,
    normalize_email,
)
from ehealth_auth.protocol.model import TokenName
from tests.unit.builders import CEILING, add_client, add_client_type, add_user
from tests.unit.conftest import LOGIN_POLICY
from tests.unit.fakes import (
    FakeClock,
    FakeDatabase,
    FakeLoginStore,
    FakePasswordHasher,
    LoginAttempts,
    RecordingPasswordHasher,
    Sha256SecretHasher,
    sha256,
)
from tests.unit.invalid import failures

VALIDATION_TEXT = (
    "Validation failed. You can find validators description at our API Manifest: "
    "http://docs.apimanifest.apiary.io/#introduction/interacting-with-api/errors."
)
EMAIL = "Ann@Example.org"
PASSWORD = "correct horse battery"
LOCKED = "Too many failed login attempts. Try again later."
WRONG = "Identity, password combination is wrong."


@dataclass(frozen=True)
class Expected:
    status: int
    type: str
    message: str


# docs/api.md "Check orders", `POST /auth/login`, written out rather than taken from the code.
EXPECTED = {
    4: Expected(422, "validation_failed", VALIDATION_TEXT),
    5: Expected(401, "invalid_client", "Invalid client id."),
    6: Expected(401, "invalid_client", "Client is blocked."),
    7: Expected(422, "validation_failed", "Scope is not allowed by client type."),
    8: Expected(429, "too_many_requests", LOCKED),
    9: Expected(401, "access_denied", WRONG),
    10: Expected(401, "user_blocked", "User blocked."),
}


@dataclass(frozen=True)
class LoginWorld:
    client_id: UUID
    user_id: UUID

    def params(self, **changes: object) -> dict[str, object]:
        params: dict[str, object] = {
            "grant_type": "password",
            "email": EMAIL,
            "password": PASSWORD,
            "client_id": str(self.client_id),
            "scope": "app:authorize",
        }
        return params | changes


@pytest.fixture
def login_world(db: FakeDatabase) -> LoginWorld:
    client_id, _, _ = add_client(db, add_client_type(db), "Portal")
    return LoginWorld(client_id, add_user(db, EMAIL, PASSWORD))


@pytest.fixture
def recording() -> RecordingPasswordHasher:
    return RecordingPasswordHasher()


@pytest.fixture
def login(
    login_store: FakeLoginStore,
    hasher: Sha256SecretHasher,
    recording: RecordingPasswordHasher,
    clock: FakeClock,
) -> PasswordGrant:
    return PasswordGrant(
        login_store,
        login_store,
        login_store,
        login_store,
        hasher,
        recording,
        clock,
        LOGIN_POLICY,
    )


def key(email: str) -> bytes:
    return account_key(Sha256SecretHasher(), email)


async def login_fails(login: PasswordGrant, params: dict[str, object]) -> ServiceError:
    with pytest.raises(ServiceError) as raised:
        await login.handle(params)
    return raised.value


def assert_service_error(error: ServiceError, check: int) -> None:
    expected = EXPECTED[check]
    assert (error.status, error.type, error.message) == (
        expected.status,
        expected.type,
        expected.message,
    )


# ------------------------------------------------------------------------------ success


async def test_login_issues_an_access_token_for_the_user(
    login: PasswordGrant, login_world: LoginWorld, clock: FakeClock
) -> None:
    issued = await login.handle(login_world.params())

    assert issued.name is TokenName.ACCESS_TOKEN
    assert issued.user_id == login_world.user_id
    assert issued.expires_at == clock.now() + LOGIN_POLICY.token_ttl
    assert issued.details == {
        "client_id": str(login_world.client_id),
        "grant_type": "password",
        "scope": "app:authorize",
    }


async def test_login_token_is_stored_as_a_hash_in_a_family_of_its_own(
    login: PasswordGrant, login_world: LoginWorld, db: FakeDatabase, clock: FakeClock
) -> None:
    issued = await login.handle(login_world.params())

    assert set(db.tokens) == {issued.id}
    row = db.tokens[issued.id]
    assert row.revoked_at is None
    record = row.token
    assert record.name is TokenName.ACCESS_TOKEN
    assert record.value_hash == sha256(issued.value)
    assert issued.value not in repr(record)
    assert (record.family_id, record.parent_id, record.connection_id) == (issued.id, None, None)
    assert (record.user_id, record.client_id) == (login_world.user_id, login_world.client_id)
    assert (record.issued_at, record.expires_at) == (clock.now(), issued.expires_at)
    assert record.scope == "app:authorize"
    assert record.details == issued.details


async def test_login_needs_no_approval(
    login: PasswordGrant, login_world: LoginWorld, db: FakeDatabase
) -> None:
    assert db.approvals == {}

    assert (await login.handle(login_world.params())).user_id == login_world.user_id


async def test_login_scope_is_normalised(login: PasswordGrant, login_world: LoginWorld) -> None:
    scope = "  employee:read app:authorize   employee:read "

    issued = await login.handle(login_world.params(scope=scope))

    assert issued.details["scope"] == "employee:read app:authorize"


@pytest.mark.parametrize("email", ["ann@example.org", "  ANN@EXAMPLE.ORG\t"])
async def test_login_finds_the_user_whatever_the_case_and_surrounding_space(
    login: PasswordGrant, login_world: LoginWorld, email: str
) -> None:
    assert (await login.handle(login_world.params(email=email))).user_id == login_world.user_id


async def test_login_password_is_compared_exactly(
    login: PasswordGrant, login_world: LoginWorld
) -> None:
    for password in (PASSWORD.upper(), f" {PASSWORD}", PASSWORD[:-1]):
        error = await login_fails(login, login_world.params(password=password))
        assert error.message == WRONG


async def test_login_tokens_differ_each_time(login: PasswordGrant, login_world: LoginWorld) -> None:
    first = await login.handle(login_world.params())
    second = await login.handle(login_world.params())

    assert (first.id, first.value) != (second.id, second.value)


def test_login_policy_defaults_are_the_documented_ones() -> None:
    # docs/operations.md: LOGIN_MAX_FAILURES 5, _FAILURE_WINDOW 900, _LOGIN_TOKEN_TTL 1 h.
    assert LoginPolicy() == LoginPolicy(max_failures=5, failure_window=900, token_ttl=3_600)


# ----------------------------------------------------------------------------- the checks


async def test_login_lists_every_missing_field(login: PasswordGrant) -> None:
    with pytest.raises(ValidationError) as raised:
        await login.handle({"grant_type": "password", "email": "  ", "scope": 7})

    assert failures(raised.value) == [
        ("$.token.email", "required", "can't be blank", ()),
        ("$.token.password", "required", "can't be blank", ()),
        ("$.token.client_id", "required", "can't be blank", ()),
        ("$.token.scope", "cast", "is invalid", ("string",)),
    ]


@pytest.mark.parametrize(
    "client_id",
    ["not-a-uuid", str(uuid.uuid4()), "", "{" + str(uuid.UUID(int=1)) + "}"],
    ids=["not-a-uuid", "unknown", "blank", "braced"],
)
async def test_login_refuses_a_client_that_is_not_there(
    login: PasswordGrant, login_world: LoginWorld, db: FakeDatabase, client_id: str
) -> None:
    error = await login_fails(login, login_world.params(client_id=client_id))

    expected = 4 if not client_id else 5
    assert_service_error(error, expected)
    assert db.login_attempts == {}


async def test_login_refuses_a_client_whose_type_is_gone(
    login: PasswordGrant, login_world: LoginWorld, db: FakeDatabase
) -> None:
    db.client_types.clear()

    assert_service_error(await login_fails(login, login_world.params()), 5)


async def test_login_scope_beyond_ceiling_names_the_token_scope_field(
    login: PasswordGrant, login_world: LoginWorld
) -> None:
    with pytest.raises(ValidationError) as raised:
        await login.handle(login_world.params(scope="app:authorize admin:all"))

    assert failures(raised.value) == [
        (
            "$.token.scope",
            "inclusion",
            "Scope is not allowed by client type.",
            tuple(CEILING.split()),
        )
    ]


async def test_login_refuses_unknown_email_like_a_wrong_password(
    login: PasswordGrant, login_world: LoginWorld
) -> None:
    unknown = await login_fails(login, login_world.params(email="nobody@example.org"))
    wrong = await login_fails(login, login_world.params(password="wrong password"))

    assert_service_error(unknown, 9)
    assert_service_error(wrong, 9)


async def test_blocked_user_is_told_only_after_the_right_password(
    login: PasswordGrant, login_world: LoginWorld, db: FakeDatabase
) -> None:
    user = db.users[login_world.user_id]
    db.users[user.id] = dataclasses.replace(user, is_blocked=True)

    assert_service_error(await login_fails(login, login_world.params(password="guess")), 9)
    assert_service_error(await login_fails(login, login_world.params()), 10)
    assert db.tokens == {}


@dataclass
class Scene:
    db: FakeDatabase
    world: LoginWorld
    clock: FakeClock
    params: dict[str, object]


def _break_fields(scene: Scene) -> None:
    scene.params["email"] = " "


def _unknown_client(scene: Scene) -> None:
    scene.params["client_id"] = str(uuid.uuid4())


def _block_client(scene: Scene) -> None:
    client = scene.db.clients[scene.world.client_id]
    scene.db.clients[client.id] = dataclasses.replace(client, is_blocked=True)


def _scope_beyond_ceiling(scene: Scene) -> None:
    scene.params["scope"] = "app:authorize admin:all"


def _use_up_attempts(scene: Scene) -> None:
    now = scene.clock.now()
    scene.db.login_attempts[key(EMAIL)] = LoginAttempts(now - 10, LOGIN_POLICY.max_failures, now)


def _wrong_password(scene: Scene) -> None:
    scene.params["password"] = "not the password"


def _block_user(scene: Scene) -> None:
    user = scene.db.users[scene.world.user_id]
    scene.db.users[user.id] = dataclasses.replace(user, is_blocked=True)


BREAKAGES: dict[int, Callable[[Scene], None]] = {
    4: _break_fields,
    5: _unknown_client,
    6: _block_client,
    7: _scope_beyond_ceiling,
    8: _use_up_attempts,
    9: _wrong_password,
    10: _block_user,
}


@pytest.fixture
def scene(db: FakeDatabase, login_world: LoginWorld, clock: FakeClock) -> Scene:
    return Scene(db, login_world, clock, login_world.params())


@pytest.mark.parametrize("check", sorted(BREAKAGES), ids=lambda n: f"check{n}")
async def test_login_check_fails_alone_with_its_error_and_issues_nothing(
    login: PasswordGrant, scene: Scene, db: FakeDatabase, check: int
) -> None:
    BREAKAGES[check](scene)

    assert_service_error(await login_fails(login, scene.params), check)
    assert db.tokens == {}


@pytest.mark.parametrize(
    ("first", "later"),
    list(itertools.combinations(sorted(BREAKAGES), 2)),
    ids=lambda n: f"check{n}",
)
async def test_login_reports_earlier_check_when_two_fail(
    login: PasswordGrant, scene: Scene, first: int, later: int
) -> None:
    BREAKAGES[later](scene)
    BREAKAGES[first](scene)

    assert_service_error(await login_fails(login, scene.params), first)


@pytest.mark.parametrize("first", sorted(BREAKAGES), ids=lambda n: f"check{n}")
async def test_login_counts_an_attempt_only_for_a_password_it_checks(
    login: PasswordGrant, scene: Scene, db: FakeDatabase, first: int
) -> None:
    for check in sorted(BREAKAGES):
        if check >= first:
            BREAKAGES[check](scene)
    before = {account: dataclasses.replace(row) for account, row in db.login_attempts.items()}

    assert_service_error(await login_fails(login, scene.params), first)

    # Refused before the attempt budget, or locked: nothing counted. A wrong password is
    # counted; the right one (for a blocked user) clears the count.
    counted = {9: {key(EMAIL): 1}, 10: {}}
    if first in counted:
        assert {account: row.attempts for account, row in db.login_attempts.items()} == (
            counted[first]
        )
    else:
        assert db.login_attempts == before


# ------------------------------------------------------------------- attempts and lockout


async def test_attempt_is_counted_with_the_policy_before_the_password_is_checked(
    login: PasswordGrant,
    login_world: LoginWorld,
    login_store: FakeLoginStore,
    recording: RecordingPasswordHasher,
    db: FakeDatabase,
    clock: FakeClock,
) -> None:
    await login_fails(login, login_world.params(password="wrong"))

    assert login_store.attempt_calls == [(key(EMAIL), clock.now(), 600, 3)]
    assert db.login_attempts[key(EMAIL)] == LoginAttempts(clock.now(), 1, clock.now())
    assert len(recording.verified) == 1


async def test_right_password_clears_the_count(
    login: PasswordGrant, login_world: LoginWorld, db: FakeDatabase
) -> None:
    for _ in range(LOGIN_POLICY.max_failures - 1):
        await login_fails(login, login_world.params(password="wrong"))

    await login.handle(login_world.params())

    assert db.login_attempts == {}
    # A full budget again: max_failures wrong passwords, then the right one still works.
    for _ in range(LOGIN_POLICY.max_failures - 1):
        await login_fails(login, login_world.params(password="wrong"))
    await login.handle(login_world.params())


async def test_right_password_of_blocked_user_also_clears_the_count(
    login: PasswordGrant, login_world: LoginWorld, db: FakeDatabase
) -> None:
    await login_fails(login, login_world.params(password="wrong"))
    user = db.users[login_world.user_id]
    db.users[user.id] = dataclasses.replace(user, is_blocked=True)

    assert_service_error(await login_fails(login, login_world.params()), 10)
    assert db.login_attempts == {}


async def test_account_locks_after_max_failures_even_for_the_right_password(
    login: PasswordGrant,
    login_world: LoginWorld,
    recording: RecordingPasswordHasher,
    db: FakeDatabase,
    clock: FakeClock,
) -> None:
    for _ in range(LOGIN_POLICY.max_failures):
        assert_service_error(await login_fails(login, login_world.params(password="wrong")), 9)
        clock.advance(10)
    verified = len(recording.verified)

    error = await login_fails(login, login_world.params())

    assert_service_error(error, 8)
    assert isinstance(error, TooManyRequestsError)
    # The window began with the first attempt, 30 s ago; no password was checked.
    assert error.retry_after == LOGIN_POLICY.failure_window - 30
    assert error.headers == {"Retry-After": str(LOGIN_POLICY.failure_window - 30)}
    assert len(recording.verified) == verified
    assert db.tokens == {}


async def test_lock_ends_with_the_window_that_began_at_the_first_attempt(
    login: PasswordGrant, login_world: LoginWorld, clock: FakeClock
) -> None:
    start = clock.now()
    for _ in range(LOGIN_POLICY.max_failures):
        await login_fails(login, login_world.params(password="wrong"))
        clock.advance(100)

    clock.set(start + LOGIN_POLICY.failure_window - 1)
    error = await login_fails(login, login_world.params())
    assert isinstance(error, TooManyRequestsError)
    assert error.retry_after == 1

    clock.set(start + LOGIN_POLICY.failure_window)
    assert (await login.handle(login_world.params())).user_id == login_world.user_id


async def test_attempts_are_counted_per_account_whatever_its_case(
    login: PasswordGrant, login_world: LoginWorld, db: FakeDatabase
) -> None:
    for email in ("ann@example.org", " ANN@example.org", "Ann@Example.ORG "):
        await login_fails(login, login_world.params(email=email, password="wrong"))

    assert_service_error(await login_fails(login, login_world.params()), 8)
    assert list(db.login_attempts) == [key(EMAIL)]


async def test_lock_of_one_account_leaves_others_alone(
    login: PasswordGrant, login_world: LoginWorld, db: FakeDatabase
) -> None:
    for _ in range(LOGIN_POLICY.max_failures):
        await login_fails(login, login_world.params(email="mallory@example.org"))

    assert (await login.handle(login_world.params())).user_id == login_world.user_id


async def test_unknown_email_locks_like_a_known_one(
    login: PasswordGrant, login_world: LoginWorld
) -> None:
    """So a 429 does not tell which emails have an account."""
    for email in ("nobody@example.org", EMAIL):
        answers = [
            (await login_fails(login, login_world.params(email=email, password="wrong"))).type
            for _ in range(LOGIN_POLICY.max_failures + 1)
        ]
        assert answers == ["access_denied"] * LOGIN_POLICY.max_failures + ["too_many_requests"]


def test_account_key_is_a_keyed_digest_of_the_normalised_email() -> None:
    hasher = Sha256SecretHasher()

    assert account_key(hasher, " Ann@Example.ORG ") == account_key(hasher, "ann@example.org")
    assert account_key(hasher, "ann@example.org") != account_key(hasher, "bob@example.org")
    # Not the digest of the bare email: the counter's keys are of their own kind.
    assert account_key(hasher, "ann@example.org") != hasher.digest("ann@example.org")
    assert b"ann" not in account_key(hasher, "ann@example.org")


def test_normalize_email_trims_and_lower_cases() -> None:
    assert normalize_email("\t Ann@Example.ORG \n") == "ann@example.org"


# ------------------------------------------------------------------------------ equal work


async def test_unknown_email_costs_one_verification_against_the_dummy_hash(
    login: PasswordGrant, login_world: LoginWorld, recording: RecordingPasswordHasher
) -> None:
    await login_fails(login, login_world.params(email="nobody@example.org"))

    assert len(recording.hashed) == 1  # the dummy hash, made for this first login
    dummy = FakePasswordHasher().hash(recording.hashed[0])
    assert recording.verified == [dummy]
    assert recording.hashed[0] != PASSWORD


async def test_known_email_costs_one_verification_against_the_users_hash(
    login: PasswordGrant,
    login_world: LoginWorld,
    recording: RecordingPasswordHasher,
    db: FakeDatabase,
) -> None:
    await login_fails(login, login_world.params(password="wrong"))
    await login.handle(login_world.params())

    user_hash = db.users[login_world.user_id].password_hash
    assert recording.verified == [user_hash, user_hash]


async def test_dummy_hash_is_made_once_on_the_first_login_whoever_it_is_for(
    login: PasswordGrant, login_world: LoginWorld, recording: RecordingPasswordHasher
) -> None:
    await login.handle(login_world.params())  # a known user: the dummy is made all the same
    assert len(recording.hashed) == 1

    await login_fails(login, login_world.params(email="nobody@example.org"))
    await login_fails(login, login_world.params(email="nobody-else@example.org"))

    assert len(recording.hashed) == 1
    dummy = FakePasswordHasher().hash(recording.hashed[0])
    assert recording.verified[1:] == [dummy, dummy]


async def test_dummy_hash_matches_no_password_tried_against_it(
    login: PasswordGrant, login_world: LoginWorld, recording: RecordingPasswordHasher
) -> None:
    await login_fails(login, login_world.params(email="nobody@example.org"))
    secret = recording.hashed[0]

    # Even the dummy's own random input, were it guessed, finds no user behind it.
    error = await login_fails(
        login, login_world.params(email="nobody@example.org", password=secret)
    )
    assert_service_error(error, 9)


async def test_verify_credentials_returns_the_user_id(
    login: PasswordGrant, login_world: LoginWorld, db: FakeDatabase
) -> None:
    assert await login.verify_credentials(" ANN@example.org", PASSWORD) == login_world.user_id
    assert db.tokens == {}
