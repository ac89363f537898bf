"""PasswordGrant (`POST /auth/login`, docs/api.md "Check orders") against fakes: checks 4-11 in
their order, the attempt budget per address and account, and equal work for unknown emails."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from uuid import UUID

import pytest

from ehealth_auth.protocol.errors import ServiceError, TooManyRequestsError, ValidationError
from ehealth_auth.protocol.grants.password import PasswordGrant, account_key, normalize_email
from ehealth_auth.protocol.model import TokenName
from ehealth_auth.protocol.policy import LoginPolicy, ThrottleLimits
from ehealth_auth.protocol.throttle import FailureThrottle
from tests.fakes import (
    FailureRow,
    FakeClock,
    FakeDatabase,
    FakeLoginStore,
    FakePasswordHasher,
    InlinePasswordWork,
    RecordingPasswordHasher,
    Sha256SecretHasher,
    sha256,
)
from tests.unit.builders import CEILING, add_approval, add_client, add_client_type, add_user
from tests.unit.conftest import LOGIN_LIMITS, LOGIN_POLICY
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
    11: Expected(
        422,
        "validation_failed",
        "Scope is not approved by the user for this client: employee:read.",
    ),
}
ATTACKER = "192.0.2.66"
HONEST = "198.51.100.7"


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
    work: InlinePasswordWork,
    login_throttle: FailureThrottle,
    clock: FakeClock,
) -> PasswordGrant:
    return PasswordGrant(
        login_store,
        login_store,
        login_store,
        login_store,
        login_throttle,
        hasher,
        recording,
        work,
        clock,
        LOGIN_POLICY,
    )


def key(email: str) -> bytes:
    return account_key(Sha256SecretHasher(), email)


def counted(db: FakeDatabase) -> dict[bytes, int]:
    """The non-zero failure counts, by key."""
    return {key: row.failures for (key, _), row in db.auth_failures.items() if row.failures}


def window_end(now: int) -> int:
    return now - now % LOGIN_LIMITS.window + LOGIN_LIMITS.window


async def login_fails(
    login: PasswordGrant, params: dict[str, object], source: str = ATTACKER
) -> ServiceError:
    with pytest.raises(ServiceError) as raised:
        await login.handle(params, source=source)
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


async def test_login_scope_is_normalised(
    login: PasswordGrant, login_world: LoginWorld, db: FakeDatabase
) -> None:
    add_approval(db, login_world.user_id, login_world.client_id, "employee:read")
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
    # docs/security.md: LOGIN_MAX_FAILURES 5 per address and account, THROTTLE_WINDOW 900,
    # LOGIN_ACCOUNT_MAX_FAILURES 100, THROTTLE_SOURCE_MAX_FAILURES 50; LOGIN_TOKEN_TTL 1 h.
    assert LoginPolicy() == LoginPolicy(token_ttl=3_600)
    assert ThrottleLimits() == ThrottleLimits(window=900, source=50, pair=5, target=100)


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
    assert db.auth_failures == {}


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
    start = now - now % LOGIN_LIMITS.window
    scene.db.auth_failures[(key(EMAIL), start)] = FailureRow(
        key(EMAIL), LOGIN_LIMITS.target, window_end(now)
    )


def _wrong_password(scene: Scene) -> None:
    scene.params["password"] = "not the password"


def _block_user(scene: Scene) -> None:
    user = scene.db.users[scene.world.user_id]
    scene.db.users[user.id] = dataclasses.replace(user, is_blocked=True)


def _scope_not_approved(scene: Scene) -> None:
    add_approval(scene.db, scene.world.user_id, scene.world.client_id, "legal_entity:read")
    scene.params["scope"] = f"{scene.params['scope']} employee:read"


BREAKAGES: dict[int, Callable[[Scene], None]] = {
    4: _break_fields,
    5: _unknown_client,
    6: _block_client,
    7: _scope_beyond_ceiling,
    8: _use_up_attempts,
    9: _wrong_password,
    10: _block_user,
    11: _scope_not_approved,
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
    before = counted(db)

    assert_service_error(await login_fails(login, scene.params), first)

    # Refused before the attempt budget, or locked: nothing counted. A wrong password is
    # counted (for the address, the address and account, the account); the right one is not.
    if first == 9:
        assert sorted(counted(db).values()) == [1, 1, 1]
        assert counted(db)[key(EMAIL)] == 1
    elif first in (10, 11):
        assert counted(db) == {}
    else:
        assert counted(db) == before


# ------------------------------------------------------------------- attempts and lockout


async def test_attempt_is_counted_before_the_password_is_checked(
    login: PasswordGrant,
    login_world: LoginWorld,
    recording: RecordingPasswordHasher,
    db: FakeDatabase,
    clock: FakeClock,
) -> None:
    await login_fails(login, login_world.params(password="wrong"))

    rows = list(db.auth_failures.values())
    assert sorted(row.failures for row in rows) == [1, 1, 1]
    assert {row.expires_at for row in rows} == {window_end(clock.now())}
    # The address's own counter concerns no account; the other two belong to the account.
    assert sorted(row.target is None for row in rows) == [False, False, True]
    assert {row.target for row in rows if row.target} == {key(EMAIL)}
    assert len(recording.verified) == 1


async def test_right_password_clears_the_count(
    login: PasswordGrant, login_world: LoginWorld, db: FakeDatabase
) -> None:
    for _ in range(LOGIN_LIMITS.pair - 1):
        await login_fails(login, login_world.params(password="wrong"))

    await login.handle(login_world.params(), source=ATTACKER)

    # The address and account keep their failures; the pair's count is gone.
    assert sorted(counted(db).values()) == [LOGIN_LIMITS.pair - 1] * 2
    # A full budget again for this address and account.
    for _ in range(LOGIN_LIMITS.pair - 1):
        await login_fails(login, login_world.params(password="wrong"))
    await login.handle(login_world.params(), source=ATTACKER)


async def test_right_password_of_blocked_user_is_not_counted_either(
    login: PasswordGrant, login_world: LoginWorld, db: FakeDatabase
) -> None:
    await login_fails(login, login_world.params(password="wrong"))
    user = db.users[login_world.user_id]
    db.users[user.id] = dataclasses.replace(user, is_blocked=True)

    assert_service_error(await login_fails(login, login_world.params()), 10)
    assert sorted(counted(db).values()) == [1, 1]


async def test_address_locks_out_of_an_account_after_max_failures_even_with_the_password(
    login: PasswordGrant,
    login_world: LoginWorld,
    recording: RecordingPasswordHasher,
    db: FakeDatabase,
    clock: FakeClock,
) -> None:
    for _ in range(LOGIN_LIMITS.pair):
        assert_service_error(await login_fails(login, login_world.params(password="wrong")), 9)
        clock.advance(10)
    verified = len(recording.verified)

    error = await login_fails(login, login_world.params())

    assert_service_error(error, 8)
    assert isinstance(error, TooManyRequestsError)
    # Until the window ends; no password was checked.
    left = window_end(clock.now()) - clock.now()
    assert error.retry_after == left
    assert error.headers == {"Retry-After": str(left)}
    assert len(recording.verified) == verified
    assert db.tokens == {}


async def test_the_honest_user_at_another_address_is_served_while_the_attacker_is_refused(
    login: PasswordGrant, login_world: LoginWorld, db: FakeDatabase
) -> None:
    answers = [
        (await login_fails(login, login_world.params(password="guess"))).type for _ in range(20)
    ]

    assert answers == ["access_denied"] * LOGIN_LIMITS.pair + ["too_many_requests"] * (
        20 - LOGIN_LIMITS.pair
    )
    # The refused guesses were not counted: the account is far from its own limit.
    assert counted(db)[key(EMAIL)] == LOGIN_LIMITS.pair
    issued = await login.handle(login_world.params(), source=HONEST)
    assert issued.user_id == login_world.user_id


async def test_account_limit_over_every_address_slows_a_distributed_guess(
    login: PasswordGrant, login_world: LoginWorld
) -> None:
    sources = [f"203.0.113.{n}" for n in range(LOGIN_LIMITS.target)]
    for source in sources:
        await login_fails(login, login_world.params(password="guess"), source)

    error = await login_fails(login, login_world.params(), "203.0.113.200")
    assert_service_error(error, 8)


async def test_address_limit_covers_guesses_at_many_accounts(
    login: PasswordGrant, login_world: LoginWorld
) -> None:
    emails = [f"user{n}@example.org" for n in range(LOGIN_LIMITS.source)]
    for email in emails:
        await login_fails(login, login_world.params(email=email, password="guess"))

    assert_service_error(await login_fails(login, login_world.params()), 8)
    issued = await login.handle(login_world.params(), source=HONEST)
    assert issued.user_id == login_world.user_id


async def test_lock_ends_with_the_window(
    login: PasswordGrant, login_world: LoginWorld, clock: FakeClock
) -> None:
    for _ in range(LOGIN_LIMITS.pair):
        await login_fails(login, login_world.params(password="wrong"))
    end = window_end(clock.now())

    clock.set(end - 1)
    error = await login_fails(login, login_world.params())
    assert isinstance(error, TooManyRequestsError)
    assert error.retry_after == 1

    clock.set(end)
    issued = await login.handle(login_world.params(), source=ATTACKER)
    assert issued.user_id == login_world.user_id


async def test_attempts_are_counted_per_account_whatever_its_case(
    login: PasswordGrant, login_world: LoginWorld, db: FakeDatabase
) -> None:
    for email in ("ann@example.org", " ANN@example.org", "Ann@Example.ORG "):
        await login_fails(login, login_world.params(email=email, password="wrong"))

    assert_service_error(await login_fails(login, login_world.params()), 8)
    assert {row.target for row in db.auth_failures.values() if row.target} == {key(EMAIL)}


async def test_lock_of_one_account_leaves_others_alone(
    login: PasswordGrant, login_world: LoginWorld
) -> None:
    for _ in range(LOGIN_LIMITS.pair):
        await login_fails(login, login_world.params(email="mallory@example.org"))

    issued = await login.handle(login_world.params(), source=ATTACKER)
    assert issued.user_id == login_world.user_id


async def test_unknown_email_locks_like_a_known_one(
    login: PasswordGrant, login_world: LoginWorld
) -> None:
    """So a 429 does not tell which emails have an account."""
    for email in ("nobody@example.org", EMAIL):
        answers = [
            (await login_fails(login, login_world.params(email=email, password="wrong"))).type
            for _ in range(LOGIN_LIMITS.pair + 1)
        ]
        assert answers == ["access_denied"] * LOGIN_LIMITS.pair + ["too_many_requests"]


# ------------------------------------------------------------------ approval and hashing


async def test_login_token_scope_beyond_app_authorize_needs_the_users_approval(
    login: PasswordGrant, login_world: LoginWorld, db: FakeDatabase
) -> None:
    add_approval(db, login_world.user_id, login_world.client_id, "legal_entity:read")

    error = await login_fails(
        login, login_world.params(scope="app:authorize legal_entity:read employee:read")
    )
    assert_service_error(error, 11)
    assert isinstance(error, ValidationError)
    assert [(entry.entry, entry.rules[0].params) for entry in error.invalid] == [
        ("$.token.scope", ("employee:read",))
    ]
    issued = await login.handle(login_world.params(scope="app:authorize legal_entity:read"))
    assert issued.details["scope"] == "app:authorize legal_entity:read"


async def test_login_token_beyond_app_authorize_without_any_approval_is_refused(
    login: PasswordGrant, login_world: LoginWorld
) -> None:
    error = await login_fails(login, login_world.params(scope="legal_entity:read"))
    assert error.message == "Scope is not approved by the user for this client: legal_entity:read."


async def test_login_without_room_to_hash_is_refused_with_503_before_anything_is_counted(
    login: PasswordGrant,
    login_world: LoginWorld,
    work: InlinePasswordWork,
    db: FakeDatabase,
    recording: RecordingPasswordHasher,
) -> None:
    work.full = True

    error = await login_fails(login, login_world.params())

    assert (error.status, error.type) == (503, "service_unavailable")
    assert error.headers == {"Retry-After": "1"}
    assert (db.tokens, db.auth_failures, recording.verified) == ({}, {}, [])


async def test_login_whose_hash_is_refused_meanwhile_is_not_counted_as_an_attempt(
    login: PasswordGrant, login_world: LoginWorld, work: InlinePasswordWork, db: FakeDatabase
) -> None:
    work.refuse = True

    error = await login_fails(login, login_world.params(password="wrong"))

    assert (error.status, error.type) == (503, "service_unavailable")
    assert counted(db) == {}
    assert db.tokens == {}


async def test_login_holds_its_place_in_the_password_work_until_its_verification_is_done(
    login: PasswordGrant,
    login_world: LoginWorld,
    work: InlinePasswordWork,
    recording: RecordingPasswordHasher,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    held: list[int] = []
    verify = recording.verify

    def verify_and_note(password_hash: str, password: str) -> bool:
        held.append(work.reserved)
        return verify(password_hash, password)

    monkeypatch.setattr(recording, "verify", verify_and_note)

    await login.handle(login_world.params())
    await login_fails(login, login_world.params(password="wrong"))
    await login_fails(login, login_world.params(email="nobody@example.org"))

    assert held == [1, 1, 1]  # one place per login, taken before its lookups
    assert work.reserved == 0  # and given back, whatever the answer


async def test_password_work_runs_every_hash_and_verification(
    login: PasswordGrant, login_world: LoginWorld, work: InlinePasswordWork
) -> None:
    await login.handle(login_world.params())
    await login_fails(login, login_world.params(password="wrong"))

    assert work.runs == 3  # the dummy hash once, then two verifications


async def test_sign_out_revokes_the_login_token(
    login: PasswordGrant, login_world: LoginWorld, db: FakeDatabase
) -> None:
    issued = await login.handle(login_world.params())

    assert await login.sign_out(issued.value) is True
    assert [row.revoked_at is not None for row in db.tokens.values()] == [True]
    assert await login.sign_out(issued.value) is False
    assert await login.sign_out("not-a-token") is False


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


async def test_credentials_are_not_checked_without_room_to_hash(
    login: PasswordGrant, work: InlinePasswordWork, db: FakeDatabase
) -> None:
    work.full = True

    with pytest.raises(ServiceError) as raised:
        await login.verify_credentials(EMAIL, PASSWORD, ATTACKER)

    assert raised.value.status == 503
    assert db.auth_failures == {}


async def test_simultaneous_first_logins_make_one_dummy_hash(
    login: PasswordGrant, login_world: LoginWorld, recording: RecordingPasswordHasher
) -> None:
    await asyncio.gather(
        *(login_fails(login, login_world.params(email=f"n{n}@example.org")) for n in range(3))
    )

    assert len(recording.hashed) == 1
