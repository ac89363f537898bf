"""AuthorizationCodeGrant against fakes (docs/api.md "Check orders", authorization_code):
checks 4-15 in their order, single use with family revocation, redirect URI and PKCE."""

from __future__ import annotations

import dataclasses
import itertools
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from uuid import UUID

import pytest

from ehealth_auth.protocol import pkce
from ehealth_auth.protocol.errors import InvalidGrantError, ServiceError, ValidationError
from ehealth_auth.protocol.grants.authorization_code import AuthorizationCodeGrant
from ehealth_auth.protocol.model import IssuedToken, TokenName
from tests.fakes import FakeClock, FakeCodeStore, FakeDatabase, Sha256SecretHasher, sha256
from tests.unit.builders import (
    APPROVAL_SCOPE,
    MIS_REDIRECT,
    add_approval,
    add_client,
    add_client_type,
    add_code,
    add_connection,
    add_token,
    add_user,
    live_tokens,
)
from tests.unit.conftest import POLICY
from tests.unit.invalid import failures

VALIDATION_TEXT = (
    "Validation failed. You can find validators description at our API Manifest: "
    "http://docs.apimanifest.apiary.io/#introduction/interacting-with-api/errors."
)
ALREADY_USED = "Token has already been used."
REDIRECT_MISMATCH = "The redirection URI provided does not match a pre-registered value."
VERIFIER_MISSING = "Code verifier is required: the code was issued with a code challenge."
VERIFIER_WRONG = "Code verifier does not match the code challenge."
VERIFIER_UNEXPECTED = "Code verifier given, but the code was issued without a code challenge."
CODE_SCOPE = "legal_entity:read"  # narrower than the approval: the exchange carries this one
VERIFIER = "v" * 20 + "-._~" + "0123456789" + "V" * 20


@dataclass(frozen=True)
class Expected:
    status: int
    type: str
    message: str


# docs/api.md "Check orders", `POST /oauth/tokens` with `grant_type=authorization_code`.
EXPECTED = {
    4: Expected(422, "validation_failed", VALIDATION_TEXT),
    5: Expected(401, "invalid_client", "Invalid client id or secret."),
    6: Expected(401, "invalid_client", "Client is blocked."),
    7: Expected(401, "token_not_found", "Token not found."),
    8: Expected(401, "invalid_grant", "Token not found or expired."),
    9: Expected(401, "access_denied", ALREADY_USED),
    10: Expected(401, "token_expired", "Token expired."),
    11: Expected(401, "invalid_grant", REDIRECT_MISMATCH),
    12: Expected(401, "user_blocked", "User blocked."),
    13: Expected(401, "access_denied", "Resource owner revoked access for the client."),
    14: Expected(401, "invalid_grant", VERIFIER_WRONG),
}


@dataclass(frozen=True)
class CodeWorld:
    """Client A (two connections) and client B; user U approved for A; U's code for A, issued
    through A's first connection for MIS_REDIRECT with an S256 challenge of VERIFIER."""

    client_id: UUID
    client_secret: str
    connection_id: UUID
    second_secret: str
    second_connection_id: UUID
    other_client_id: UUID
    other_client_secret: str
    user_id: UUID
    approval_id: UUID
    code: str
    code_id: UUID

    def params(self, **changes: object) -> dict[str, object]:
        params: dict[str, object] = {
            "grant_type": "authorization_code",
            "client_id": str(self.client_id),
            "client_secret": self.client_secret,
            "code": self.code,
            "redirect_uri": MIS_REDIRECT,
            "code_verifier": VERIFIER,
        }
        return params | changes


@pytest.fixture
def code_world(db: FakeDatabase, clock: FakeClock) -> CodeWorld:
    kind = add_client_type(db)
    client_id, client_secret, connection_id = add_client(db, kind, "Clinic A")
    second_secret, second_connection_id = add_connection(db, client_id, "https://mis.test/two")
    other_client_id, other_client_secret, _ = add_client(db, kind, "Clinic B")
    user_id = add_user(db, "user@example.org")
    approval_id = add_approval(db, user_id, client_id, APPROVAL_SCOPE)
    code, code_id = add_code(
        db,
        user_id=user_id,
        client_id=client_id,
        connection_id=connection_id,
        issued_at=clock.now() - 10,
        expires_at=clock.now() + POLICY.code_ttl - 10,
        scope=CODE_SCOPE,
        code_challenge=pkce.s256(VERIFIER),
    )
    return CodeWorld(
        client_id=client_id,
        client_secret=client_secret,
        connection_id=connection_id,
        second_secret=second_secret,
        second_connection_id=second_connection_id,
        other_client_id=other_client_id,
        other_client_secret=other_client_secret,
        user_id=user_id,
        approval_id=approval_id,
        code=code,
        code_id=code_id,
    )


@pytest.fixture
def exchange(
    code_store: FakeCodeStore, hasher: Sha256SecretHasher, clock: FakeClock
) -> AuthorizationCodeGrant:
    return AuthorizationCodeGrant(code_store, hasher, clock, POLICY)


async def exchange_fails(grant: AuthorizationCodeGrant, params: dict[str, object]) -> ServiceError:
    with pytest.raises(ServiceError) as raised:
        await grant.handle(params)
    return raised.value


def assert_service_error(error: ServiceError, check: int, message: str | None = None) -> None:
    expected = EXPECTED[check]
    assert (error.status, error.type, error.message) == (
        expected.status,
        expected.type,
        message or expected.message,
    )


def family(db: FakeDatabase, family_id: UUID) -> set[UUID]:
    return {token_id for token_id, row in db.tokens.items() if row.token.family_id == family_id}


def set_code(db: FakeDatabase, code_id: UUID, **changes: object) -> None:
    row = db.tokens[code_id]
    row.token = dataclasses.replace(row.token, **changes)  # type: ignore[arg-type]


# ------------------------------------------------------------------ success and the issue phase


async def test_exchange_answers_an_access_token_showing_the_new_refresh_token(
    exchange: AuthorizationCodeGrant, code_world: CodeWorld, db: FakeDatabase, clock: FakeClock
) -> None:
    issued = await exchange.handle(code_world.params())

    assert issued.name is TokenName.ACCESS_TOKEN
    assert issued.user_id == code_world.user_id
    assert issued.expires_at == clock.now() + POLICY.access_ttl
    refresh_value = issued.details["refresh_token"]
    assert issued.details == {
        "client_id": str(code_world.client_id),
        "grant_type": "authorization_code",
        "scope": CODE_SCOPE,
        "redirect_uri": MIS_REDIRECT,
        "refresh_token": refresh_value,
    }
    assert refresh_value != issued.value
    refresh = db.token_by_hash(sha256(refresh_value))
    assert refresh is not None
    assert refresh.token.name is TokenName.REFRESH_TOKEN


async def test_exchange_stores_refresh_and_access_tokens_in_the_codes_family(
    exchange: AuthorizationCodeGrant, code_world: CodeWorld, db: FakeDatabase, clock: FakeClock
) -> None:
    before = set(db.tokens)

    issued = await exchange.handle(code_world.params())

    new = set(db.tokens) - before
    assert len(new) == 2
    access = db.tokens[issued.id].token
    (refresh_id,) = new - {issued.id}
    refresh = db.tokens[refresh_id].token
    assert refresh.value_hash == sha256(issued.details["refresh_token"])
    assert access.value_hash == sha256(issued.value)
    for record in (refresh, access):
        assert db.tokens[record.id].revoked_at is None
        assert record.family_id == code_world.code_id
        assert record.connection_id == code_world.connection_id
        assert (record.user_id, record.client_id) == (code_world.user_id, code_world.client_id)
        assert (record.issued_at, record.scope) == (clock.now(), CODE_SCOPE)
        assert (record.redirect_uri, record.code_challenge) == (None, None)
    assert refresh.parent_id == code_world.code_id
    assert access.parent_id == refresh.id
    assert refresh.expires_at == clock.now() + POLICY.refresh_ttl
    assert access.expires_at == issued.expires_at
    assert refresh.details == {"client_id": str(code_world.client_id), "scope": CODE_SCOPE}
    # The stored access token's details never show the refresh token.
    assert access.details == {
        "client_id": str(code_world.client_id),
        "grant_type": "authorization_code",
        "scope": CODE_SCOPE,
        "redirect_uri": MIS_REDIRECT,
    }
    assert issued.details["refresh_token"] not in repr(db.tokens)


async def test_exchange_marks_the_code_used_by_its_refresh_token(
    exchange: AuthorizationCodeGrant, code_world: CodeWorld, db: FakeDatabase, clock: FakeClock
) -> None:
    clock.advance_ms(1_234)

    issued = await exchange.handle(code_world.params())

    code = db.tokens[code_world.code_id]
    assert code.retired_at_ms == clock.now_ms()
    refresh = db.token_by_hash(sha256(issued.details["refresh_token"]))
    assert refresh is not None
    assert code.successor_id == refresh.token.id
    assert code.revoked_at is None


async def test_exchange_passes_hashes_not_values_to_the_store(
    exchange: AuthorizationCodeGrant, code_world: CodeWorld, code_store: FakeCodeStore
) -> None:
    await exchange.handle(code_world.params())

    assert code_store.context_loads == [
        (code_world.client_id, sha256(code_world.client_secret), sha256(code_world.code))
    ]


async def test_exchange_carries_the_codes_scope_not_the_approvals(
    exchange: AuthorizationCodeGrant, code_world: CodeWorld, db: FakeDatabase
) -> None:
    assert db.approvals[code_world.approval_id].scope != CODE_SCOPE

    assert (await exchange.handle(code_world.params())).details["scope"] == CODE_SCOPE


async def test_exchange_just_before_expiry_succeeds(
    exchange: AuthorizationCodeGrant, code_world: CodeWorld, db: FakeDatabase, clock: FakeClock
) -> None:
    clock.set(db.tokens[code_world.code_id].token.expires_at - 1)

    assert (await exchange.handle(code_world.params())).user_id == code_world.user_id


@pytest.mark.parametrize(
    "redirect_uri",
    ["HTTPS://MIS.TEST/cb", "https://mis.test:443/cb", "https://mis.test/cb?from=mis"],
    ids=["case", "default-port", "query"],
)
async def test_exchange_refuses_the_redirect_uri_in_any_other_spelling(
    exchange: AuthorizationCodeGrant, code_world: CodeWorld, db: FakeDatabase, redirect_uri: str
) -> None:
    """RFC 6749 §4.1.3: identical to the one the code was issued for, character for character."""
    with pytest.raises(InvalidGrantError) as raised:
        await exchange.handle(code_world.params(redirect_uri=redirect_uri))

    assert raised.value.message == REDIRECT_MISMATCH
    # The code stays usable with the exact URI.
    issued = await exchange.handle(code_world.params())
    assert issued.details["redirect_uri"] == MIS_REDIRECT


async def test_exchange_ignores_unknown_extra_keys(
    exchange: AuthorizationCodeGrant, code_world: CodeWorld
) -> None:
    params = code_world.params(scope=42, refresh_token=None, extra={"nested": True})

    assert (await exchange.handle(params)).user_id == code_world.user_id


# ------------------------------------------------------------------------------ fields, client


async def test_exchange_lists_every_bad_field(exchange: AuthorizationCodeGrant) -> None:
    with pytest.raises(ValidationError) as raised:
        await exchange.handle({"grant_type": "authorization_code", "code": 5, "client_id": " "})

    assert failures(raised.value) == [
        ("$.token.client_id", "required", "can't be blank", ()),
        ("$.token.client_secret", "required", "can't be blank", ()),
        ("$.token.code", "cast", "is invalid", ("string",)),
        ("$.token.redirect_uri", "required", "can't be blank", ()),
    ]


async def test_exchange_lists_a_bad_code_verifier_with_the_other_bad_fields(
    exchange: AuthorizationCodeGrant,
) -> None:
    params = {"client_id": "", "client_secret": "s", "code": "c", "redirect_uri": MIS_REDIRECT}

    with pytest.raises(ValidationError) as raised:
        await exchange.handle(params | {"code_verifier": 42})

    assert failures(raised.value) == [
        ("$.token.client_id", "required", "can't be blank", ()),
        ("$.token.code_verifier", "cast", "is invalid", ("string",)),
    ]


@pytest.mark.parametrize("verifier", [42, ["v"], {"v": 1}, True])
async def test_exchange_refuses_a_code_verifier_that_is_not_a_string(
    exchange: AuthorizationCodeGrant,
    code_world: CodeWorld,
    code_store: FakeCodeStore,
    verifier: object,
) -> None:
    with pytest.raises(ValidationError) as raised:
        await exchange.handle(code_world.params(code_verifier=verifier))

    assert failures(raised.value) == [("$.token.code_verifier", "cast", "is invalid", ("string",))]
    assert code_store.context_loads == []


@pytest.mark.parametrize("client_id", ["not-a-uuid", "42", str(uuid.uuid4())])
async def test_exchange_refuses_unknown_or_malformed_client_id(
    exchange: AuthorizationCodeGrant, code_world: CodeWorld, client_id: str
) -> None:
    error = await exchange_fails(exchange, code_world.params(client_id=client_id))

    assert_service_error(error, 5)


async def test_exchange_refuses_the_secret_of_another_client(
    exchange: AuthorizationCodeGrant, code_world: CodeWorld
) -> None:
    params = code_world.params(client_secret=code_world.other_client_secret)

    assert_service_error(await exchange_fails(exchange, params), 5)


# ------------------------------------------------------------------------------- the code


async def test_exchange_refuses_a_refresh_token_presented_as_code(
    exchange: AuthorizationCodeGrant, code_world: CodeWorld, db: FakeDatabase, clock: FakeClock
) -> None:
    refresh, _ = add_token(
        db,
        name=TokenName.REFRESH_TOKEN,
        user_id=code_world.user_id,
        client_id=code_world.client_id,
        issued_at=clock.now(),
        expires_at=clock.now() + 600,
    )

    assert_service_error(await exchange_fails(exchange, code_world.params(code=refresh)), 7)


async def test_exchange_refuses_a_code_of_another_client_with_its_own_secret(
    exchange: AuthorizationCodeGrant, code_world: CodeWorld, db: FakeDatabase
) -> None:
    params = code_world.params(
        client_id=str(code_world.other_client_id), client_secret=code_world.other_client_secret
    )

    assert_service_error(await exchange_fails(exchange, params), 8)
    assert db.tokens[code_world.code_id].retired_at_ms is None


async def test_code_can_be_exchanged_only_through_the_connection_it_was_issued_for(
    exchange: AuthorizationCodeGrant, code_world: CodeWorld
) -> None:
    other_connection = code_world.params(client_secret=code_world.second_secret)

    assert_service_error(await exchange_fails(exchange, other_connection), 8)
    assert (await exchange.handle(code_world.params())).user_id == code_world.user_id


async def test_code_bound_to_no_connection_can_be_exchanged_through_any_of_the_client(
    exchange: AuthorizationCodeGrant, code_world: CodeWorld, db: FakeDatabase
) -> None:
    set_code(db, code_world.code_id, connection_id=None)

    issued = await exchange.handle(code_world.params(client_secret=code_world.second_secret))

    assert db.tokens[issued.id].token.connection_id == code_world.second_connection_id


async def test_exchange_refuses_an_expired_code_without_revoking(
    exchange: AuthorizationCodeGrant,
    code_world: CodeWorld,
    db: FakeDatabase,
    clock: FakeClock,
    code_store: FakeCodeStore,
) -> None:
    clock.set(db.tokens[code_world.code_id].token.expires_at)  # expires_at <= now is expired

    assert_service_error(await exchange_fails(exchange, code_world.params()), 10)
    assert code_store.revoked_families == []
    assert db.tokens[code_world.code_id].revoked_at is None


async def test_exchange_refuses_a_revoked_code(
    exchange: AuthorizationCodeGrant, code_world: CodeWorld, db: FakeDatabase, clock: FakeClock
) -> None:
    db.tokens[code_world.code_id].revoked_at = clock.now() - 1

    assert_service_error(await exchange_fails(exchange, code_world.params()), 10)


async def test_exchange_refuses_another_redirect_uri_and_leaves_the_code_usable(
    exchange: AuthorizationCodeGrant, code_world: CodeWorld, code_store: FakeCodeStore
) -> None:
    for redirect_uri in ("https://mis.test/two", "https://mis.test/cb#x", "http://mis.test/cb"):
        error = await exchange_fails(exchange, code_world.params(redirect_uri=redirect_uri))
        assert_service_error(error, 11)

    assert code_store.revoked_families == []
    assert (await exchange.handle(code_world.params())).user_id == code_world.user_id


async def test_exchange_refuses_a_code_whose_stored_redirect_uri_is_missing(
    exchange: AuthorizationCodeGrant, code_world: CodeWorld, db: FakeDatabase
) -> None:
    set_code(db, code_world.code_id, redirect_uri=None)

    assert_service_error(await exchange_fails(exchange, code_world.params()), 11)


async def test_exchange_looks_for_the_users_approval_of_the_calling_client(
    exchange: AuthorizationCodeGrant, code_world: CodeWorld, db: FakeDatabase
) -> None:
    del db.approvals[code_world.approval_id]
    add_approval(db, code_world.user_id, code_world.other_client_id, APPROVAL_SCOPE)

    assert_service_error(await exchange_fails(exchange, code_world.params()), 13)


# ------------------------------------------------------------------------------------ PKCE


@pytest.mark.parametrize("verifier", [None, ""], ids=["absent", "empty"])
async def test_code_issued_with_a_challenge_needs_a_verifier(
    exchange: AuthorizationCodeGrant, code_world: CodeWorld, verifier: str | None
) -> None:
    params = code_world.params(code_verifier=verifier)

    assert_service_error(await exchange_fails(exchange, params), 14, VERIFIER_MISSING)


@pytest.mark.parametrize(
    "verifier",
    [VERIFIER[:-1] + "X", VERIFIER + "X", pkce.s256(VERIFIER), "short", " " + VERIFIER],
    ids=["other", "longer", "the-challenge-itself", "malformed", "leading-space"],
)
async def test_code_issued_with_a_challenge_needs_the_verifier_behind_it(
    exchange: AuthorizationCodeGrant,
    code_world: CodeWorld,
    code_store: FakeCodeStore,
    verifier: str,
) -> None:
    params = code_world.params(code_verifier=verifier)

    assert_service_error(await exchange_fails(exchange, params), 14, VERIFIER_WRONG)
    assert code_store.revoked_families == []
    # A failed PKCE check leaves the code usable.
    assert (await exchange.handle(code_world.params())).user_id == code_world.user_id


async def test_code_issued_without_a_challenge_takes_no_verifier(
    exchange: AuthorizationCodeGrant, code_world: CodeWorld, db: FakeDatabase
) -> None:
    set_code(db, code_world.code_id, code_challenge=None)

    error = await exchange_fails(exchange, code_world.params())

    assert_service_error(error, 14, VERIFIER_UNEXPECTED)
    assert db.tokens[code_world.code_id].retired_at_ms is None


@pytest.mark.parametrize("verifier", [None, ""], ids=["absent", "empty"])
async def test_code_issued_without_a_challenge_is_exchanged_without_verifier(
    exchange: AuthorizationCodeGrant,
    code_world: CodeWorld,
    db: FakeDatabase,
    verifier: str | None,
) -> None:
    set_code(db, code_world.code_id, code_challenge=None)
    params = code_world.params(code_verifier=verifier)

    assert (await exchange.handle(params)).user_id == code_world.user_id


# ---------------------------------------------------------------------- single use and reuse


async def test_second_exchange_is_refused_and_revokes_the_whole_family(
    exchange: AuthorizationCodeGrant, code_world: CodeWorld, db: FakeDatabase, clock: FakeClock
) -> None:
    _, unrelated_id = add_token(
        db,
        name=TokenName.REFRESH_TOKEN,
        user_id=code_world.user_id,
        client_id=code_world.client_id,
        issued_at=clock.now(),
        expires_at=clock.now() + 600,
    )
    first = await exchange.handle(code_world.params())
    issued_by_first = family(db, code_world.code_id)
    assert len(issued_by_first) == 3  # the code, the refresh token, the access token
    clock.advance(5)

    error = await exchange_fails(exchange, code_world.params())

    assert_service_error(error, 9)
    assert live_tokens(db) == {unrelated_id}
    assert {db.tokens[token_id].revoked_at for token_id in issued_by_first} == {clock.now()}
    assert db.tokens[first.id].revoked_at == clock.now()


async def test_reuse_after_the_code_expired_still_revokes_the_family(
    exchange: AuthorizationCodeGrant, code_world: CodeWorld, db: FakeDatabase, clock: FakeClock
) -> None:
    first = await exchange.handle(code_world.params())
    clock.advance(POLICY.code_ttl * 10)

    assert_service_error(await exchange_fails(exchange, code_world.params()), 9)
    assert db.tokens[first.id].revoked_at == clock.now()


async def test_reuse_is_detected_before_the_redirect_uri_and_pkce_checks(
    exchange: AuthorizationCodeGrant, code_world: CodeWorld, db: FakeDatabase
) -> None:
    await exchange.handle(code_world.params())
    params = code_world.params(redirect_uri="https://elsewhere.test/cb", code_verifier=None)

    assert_service_error(await exchange_fails(exchange, params), 9)
    assert live_tokens(db) == set()


@pytest.mark.parametrize(
    "change",
    [
        {"client_secret": "wrong"},
        {"client_id": "not-a-uuid"},
        {"client_secret": None},
    ],
    ids=["wrong-secret", "bad-client-id", "no-secret"],
)
async def test_reuse_without_the_clients_secret_revokes_nothing(
    exchange: AuthorizationCodeGrant,
    code_world: CodeWorld,
    db: FakeDatabase,
    code_store: FakeCodeStore,
    change: dict[str, object],
) -> None:
    await exchange.handle(code_world.params())
    live = live_tokens(db)

    await exchange_fails(exchange, code_world.params(**change))

    assert live_tokens(db) == live
    assert code_store.revoked_families == []


async def test_reuse_by_another_client_revokes_nothing(
    exchange: AuthorizationCodeGrant, code_world: CodeWorld, db: FakeDatabase
) -> None:
    await exchange.handle(code_world.params())
    live = live_tokens(db)
    params = code_world.params(
        client_id=str(code_world.other_client_id), client_secret=code_world.other_client_secret
    )

    assert_service_error(await exchange_fails(exchange, params), 8)
    assert live_tokens(db) == live


async def test_reuse_through_another_connection_of_the_client_revokes_nothing(
    exchange: AuthorizationCodeGrant, code_world: CodeWorld, db: FakeDatabase
) -> None:
    await exchange.handle(code_world.params())
    live = live_tokens(db)

    params = code_world.params(client_secret=code_world.second_secret)
    assert_service_error(await exchange_fails(exchange, params), 8)
    assert live_tokens(db) == live


async def test_loser_of_a_race_for_the_code_revokes_what_the_winner_got(
    exchange: AuthorizationCodeGrant,
    code_world: CodeWorld,
    db: FakeDatabase,
    clock: FakeClock,
    code_store: FakeCodeStore,
) -> None:
    winner: list[IssuedToken] = []

    async def concurrent_exchange() -> None:
        clock.advance_ms(3)
        winner.append(await exchange.handle(code_world.params()))

    code_store.interleave["consume_code"] = concurrent_exchange
    before = set(db.tokens)

    error = await exchange_fails(exchange, code_world.params())

    assert_service_error(error, 9)
    assert len(winner) == 1
    # Only the winner's two tokens were written; all of the family is revoked.
    assert len(set(db.tokens) - before) == 2
    assert winner[0].id in db.tokens
    assert family(db, code_world.code_id) == set(db.tokens) - before | {code_world.code_id}
    assert live_tokens(db) == set()
    assert code_store.revoked_families == [code_world.code_id]


async def test_exchange_that_finds_the_code_revoked_when_consuming_answers_already_used(
    exchange: AuthorizationCodeGrant,
    code_world: CodeWorld,
    db: FakeDatabase,
    clock: FakeClock,
    code_store: FakeCodeStore,
) -> None:
    async def concurrent_revocation() -> None:
        db.tokens[code_world.code_id].revoked_at = clock.now()

    code_store.interleave["consume_code"] = concurrent_revocation
    before = set(db.tokens)

    assert_service_error(await exchange_fails(exchange, code_world.params()), 9)
    assert set(db.tokens) == before


# -------------------------------------------------------------------------- the check order


@dataclass
class Scene:
    db: FakeDatabase
    world: CodeWorld
    clock: FakeClock
    params: dict[str, object]


def _break_fields(scene: Scene) -> None:
    scene.params["client_id"] = ""


def _break_secret(scene: Scene) -> None:
    scene.params["client_secret"] = "not-the-secret"


def _block_client(scene: Scene) -> None:
    client = scene.db.clients[scene.world.client_id]
    scene.db.clients[client.id] = dataclasses.replace(client, is_blocked=True)


def _present_unknown_code(scene: Scene) -> None:
    scene.params["code"] = "no-such-code"


def _move_code_to_other_client(scene: Scene) -> None:
    set_code(scene.db, scene.world.code_id, client_id=scene.world.other_client_id)


def _mark_code_used(scene: Scene) -> None:
    scene.db.tokens[scene.world.code_id].retired_at_ms = scene.clock.now_ms() - 1_000


def _expire_code(scene: Scene) -> None:
    set_code(scene.db, scene.world.code_id, expires_at=scene.clock.now())


def _other_redirect_uri(scene: Scene) -> None:
    scene.params["redirect_uri"] = "https://mis.test/elsewhere"


def _block_user_without_revoking(scene: Scene) -> None:
    user = scene.db.users[scene.world.user_id]
    scene.db.users[user.id] = dataclasses.replace(user, is_blocked=True)


def _drop_approval_without_revoking(scene: Scene) -> None:
    del scene.db.approvals[scene.world.approval_id]


def _wrong_verifier(scene: Scene) -> None:
    scene.params["code_verifier"] = "w" * 43


# One way to fail each check; they touch different things so any of them can be combined.
BREAKAGES: dict[int, Callable[[Scene], None]] = {
    4: _break_fields,
    5: _break_secret,
    6: _block_client,
    7: _present_unknown_code,
    8: _move_code_to_other_client,
    9: _mark_code_used,
    10: _expire_code,
    11: _other_redirect_uri,
    12: _block_user_without_revoking,
    13: _drop_approval_without_revoking,
    14: _wrong_verifier,
}


@pytest.fixture
def scene(db: FakeDatabase, code_world: CodeWorld, clock: FakeClock) -> Scene:
    return Scene(db, code_world, clock, code_world.params())


@pytest.mark.parametrize("check", sorted(BREAKAGES), ids=lambda n: f"check{n}")
async def test_exchange_check_fails_alone_with_its_error(
    exchange: AuthorizationCodeGrant, scene: Scene, check: int
) -> None:
    BREAKAGES[check](scene)

    assert_service_error(await exchange_fails(exchange, scene.params), check)


@pytest.mark.parametrize(
    ("first", "later"),
    list(itertools.combinations(sorted(BREAKAGES), 2)),
    ids=lambda n: f"check{n}",
)
async def test_exchange_reports_earlier_check_when_two_fail(
    exchange: AuthorizationCodeGrant, scene: Scene, first: int, later: int
) -> None:
    BREAKAGES[later](scene)
    BREAKAGES[first](scene)

    assert_service_error(await exchange_fails(exchange, scene.params), first)


@pytest.mark.parametrize("first", sorted(BREAKAGES), ids=lambda n: f"check{n}")
async def test_exchange_changes_nothing_unless_it_finds_the_code_used(
    exchange: AuthorizationCodeGrant, scene: Scene, db: FakeDatabase, first: int
) -> None:
    for check in sorted(BREAKAGES):
        if check >= first:
            BREAKAGES[check](scene)
    before = set(db.tokens)
    live = live_tokens(db)

    assert_service_error(await exchange_fails(exchange, scene.params), first)

    assert set(db.tokens) == before
    # Check 9 revokes the family (here: the code alone); every other refusal changes nothing.
    assert live_tokens(db) == (live - {scene.world.code_id} if first == 9 else live)
