"""TokenVerifier, the gateway's check (CONTRACT §3): five checks in order, access tokens only."""

from __future__ import annotations

import dataclasses
import itertools
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from ehealth_auth.protocol.errors import ServiceError
from ehealth_auth.protocol.model import IssuedToken, TokenName
from ehealth_auth.protocol.verify import TokenVerifier
from tests.fakes import FakeClock, FakeDatabase, FakeVerifyStore, Sha256SecretHasher
from tests.unit.builders import World, add_token

DEAD = (401, "invalid_grant", "Token expired or client approval was revoked.")
EXPECTED = {
    1: (404, "not_found", "Token not found."),
    2: (401, "invalid_grant", "Token is not an access token."),
    3: DEAD,
    4: (401, "invalid_client", "Authentication failed."),
    5: (401, "invalid_user", "Authentication failed."),
}


@dataclass
class Scene:
    db: FakeDatabase
    world: World
    clock: FakeClock
    token_id: uuid.UUID
    value: str


@pytest.fixture
def verifier(db: FakeDatabase, hasher: Sha256SecretHasher, clock: FakeClock) -> TokenVerifier:
    return TokenVerifier(FakeVerifyStore(db), hasher, clock)


@pytest.fixture
def scene(db: FakeDatabase, world: World, clock: FakeClock) -> Scene:
    """A live access token of the world's user, issued through the world's connection."""
    value, token_id = add_token(
        db,
        name=TokenName.ACCESS_TOKEN,
        user_id=world.user_id,
        client_id=world.client_id,
        issued_at=clock.now() - 10,
        expires_at=clock.now() + 600,
        scope="employee:read",
        family_id=world.family_id,
    )
    row = db.tokens[token_id]
    row.token = dataclasses.replace(row.token, connection_id=world.connection_id)
    return Scene(db, world, clock, token_id, value)


def _unknown(scene: Scene) -> None:
    scene.value = "no-such-token"


def _make_refresh_token(scene: Scene) -> None:
    row = scene.db.tokens[scene.token_id]
    row.token = dataclasses.replace(row.token, name=TokenName.REFRESH_TOKEN)


def _expire(scene: Scene) -> None:
    row = scene.db.tokens[scene.token_id]
    row.token = dataclasses.replace(row.token, expires_at=scene.clock.now())


def _revoke(scene: Scene) -> None:
    scene.db.tokens[scene.token_id].revoked_at = scene.clock.now() - 1


def _drop_approval(scene: Scene) -> None:
    del scene.db.approvals[scene.world.approval_id]


def _block_client(scene: Scene) -> None:
    client = scene.db.clients[scene.world.client_id]
    scene.db.clients[client.id] = dataclasses.replace(client, is_blocked=True)


def _block_user(scene: Scene) -> None:
    user = scene.db.users[scene.world.user_id]
    scene.db.users[user.id] = dataclasses.replace(user, is_blocked=True)


BREAKAGES: dict[int, Callable[[Scene], None]] = {
    1: _unknown,
    2: _make_refresh_token,
    3: _expire,
    4: _block_client,
    5: _block_user,
}


async def _refused(verifier: TokenVerifier, value: str) -> tuple[int, str, str]:
    with pytest.raises(ServiceError) as raised:
        await verifier.verify(value)
    return raised.value.status, raised.value.type, raised.value.message


async def test_verify_answers_live_access_token_with_its_six_fields(
    verifier: TokenVerifier, scene: Scene
) -> None:
    verified = await verifier.verify(scene.value)

    record = scene.db.tokens[scene.token_id].token
    assert verified.token == IssuedToken(
        id=scene.token_id,
        name=TokenName.ACCESS_TOKEN,
        value=scene.value,
        expires_at=record.expires_at,
        user_id=scene.world.user_id,
        details=record.details,
    )
    assert verified.mis_client_id is None


async def test_verify_names_the_mis_behind_the_connection(
    verifier: TokenVerifier, scene: Scene
) -> None:
    mis_id = uuid.uuid4()
    connection = scene.db.connections[scene.world.connection_id]
    scene.db.connections[connection.id] = dataclasses.replace(connection, consumer_id=mis_id)

    assert (await verifier.verify(scene.value)).mis_client_id == mis_id


async def test_verify_accepts_token_in_its_last_second(
    verifier: TokenVerifier, scene: Scene
) -> None:
    scene.clock.set(scene.db.tokens[scene.token_id].token.expires_at - 1)

    assert (await verifier.verify(scene.value)).token.id == scene.token_id


@pytest.mark.parametrize("kind", [TokenName.REFRESH_TOKEN, TokenName.AUTHORIZATION_CODE])
async def test_verify_refuses_tokens_that_are_not_access_tokens(
    verifier: TokenVerifier, scene: Scene, kind: TokenName
) -> None:
    row = scene.db.tokens[scene.token_id]
    row.token = dataclasses.replace(row.token, name=kind)

    assert await _refused(verifier, scene.value) == EXPECTED[2]


@pytest.mark.parametrize("breakage", [_expire, _revoke, _drop_approval], ids=lambda f: f.__name__)
async def test_verify_refuses_dead_token_or_revoked_approval(
    verifier: TokenVerifier, scene: Scene, breakage: Callable[[Scene], None]
) -> None:
    breakage(scene)

    assert await _refused(verifier, scene.value) == DEAD


@pytest.mark.parametrize("check", sorted(BREAKAGES), ids=lambda n: f"check{n}")
async def test_verify_refuses_for_each_check(
    verifier: TokenVerifier, scene: Scene, check: int
) -> None:
    BREAKAGES[check](scene)

    assert await _refused(verifier, scene.value) == EXPECTED[check]


@pytest.mark.parametrize(
    ("first", "later"),
    list(itertools.combinations(sorted(BREAKAGES), 2)),
    ids=lambda n: f"check{n}",
)
async def test_verify_reports_earlier_check_when_two_fail(
    verifier: TokenVerifier, scene: Scene, first: int, later: int
) -> None:
    BREAKAGES[later](scene)
    BREAKAGES[first](scene)

    assert await _refused(verifier, scene.value) == EXPECTED[first]


@pytest.mark.parametrize("scope", ["employee:read declaration:write", "admin:all", "app:authorize"])
async def test_verify_refuses_a_token_whose_scope_goes_beyond_the_approval_or_ceiling(
    verifier: TokenVerifier, scene: Scene, scope: str
) -> None:
    row = scene.db.tokens[scene.token_id]
    row.token = dataclasses.replace(row.token, scope=scope)

    with pytest.raises(ServiceError) as raised:
        await verifier.verify(scene.value)

    assert (raised.value.status, raised.value.type, raised.value.message) == DEAD


async def test_verify_takes_app_authorize_of_a_login_token_without_approval_for_it(
    verifier: TokenVerifier, scene: Scene
) -> None:
    row = scene.db.tokens[scene.token_id]
    details = {**row.token.details, "grant_type": "password"}
    row.token = dataclasses.replace(row.token, scope="app:authorize employee:read", details=details)

    verified = await verifier.verify(scene.value)

    assert verified.token.details["grant_type"] == "password"
