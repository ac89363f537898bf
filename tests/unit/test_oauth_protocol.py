"""The standard dialect's protocol parts against in-memory fakes: client authentication
(RFC 6749 §2.3.1), revocation (RFC 7009), introspection (RFC 7662), the refresh grant's
optional scope (RFC 6749 §6) and unsupported grant types."""

from __future__ import annotations

import dataclasses
import uuid

import pytest

from ehealth_auth.protocol.errors import (
    InvalidClientError,
    InvalidGrantError,
    InvalidScopeError,
    ServiceError,
    UnsupportedGrantTypeError,
)
from ehealth_auth.protocol.grants.refresh_token import RefreshTokenGrant
from ehealth_auth.protocol.model import IssuedToken, TokenName, VerifyContext
from ehealth_auth.protocol.oauth.client_auth import ClientAuthenticator
from ehealth_auth.protocol.oauth.introspection import TokenIntrospector
from ehealth_auth.protocol.oauth.revocation import TokenRevoker
from ehealth_auth.protocol.token_endpoint import TokenEndpoint
from ehealth_auth.protocol.verify import TokenVerifier
from tests.fakes import (
    FakeClientSecretStore,
    FakeClock,
    FakeDatabase,
    FakeRevocationStore,
    FakeVerifyStore,
    RecordingGrant,
    Sha256SecretHasher,
)
from tests.unit.builders import APPROVAL_SCOPE, World, add_code, add_token, live_tokens
from tests.unit.conftest import POLICY, GrantFactory

# ------------------------------------------------------------------- client authentication


@pytest.fixture
def authenticator(db: FakeDatabase, hasher: Sha256SecretHasher) -> ClientAuthenticator:
    return ClientAuthenticator(FakeClientSecretStore(db), hasher)


async def test_client_with_its_connections_secret_is_authenticated(
    authenticator: ClientAuthenticator, world: World
) -> None:
    assert await authenticator.authenticate(str(world.client_id), world.client_secret) == (
        world.client_id
    )


@pytest.mark.parametrize(
    ("client_id", "secret"),
    [
        ("not-a-uuid", "own"),
        ("00000000-0000-4000-8000-000000000000", "own"),
        ("own", "wrong"),
        ("own", "other client's"),
    ],
)
async def test_unknown_client_malformed_id_and_wrong_secret_get_one_answer(
    authenticator: ClientAuthenticator, world: World, client_id: str, secret: str
) -> None:
    values = {
        "own": world.client_secret,
        "wrong": "wrong",
        "other client's": world.other_client_secret,
    }
    with pytest.raises(InvalidClientError) as raised:
        await authenticator.authenticate(
            str(world.client_id) if client_id == "own" else client_id, values[secret]
        )
    assert raised.value.message == "Invalid client id or secret."


async def test_a_blocked_client_is_refused(
    authenticator: ClientAuthenticator, world: World, db: FakeDatabase
) -> None:
    db.clients[world.client_id] = dataclasses.replace(db.clients[world.client_id], is_blocked=True)
    with pytest.raises(InvalidClientError) as raised:
        await authenticator.authenticate(str(world.client_id), world.client_secret)
    assert raised.value.message == "Client is blocked."


# ------------------------------------------------------------------------------ revocation


@pytest.fixture
def revoker(db: FakeDatabase, hasher: Sha256SecretHasher, clock: FakeClock) -> TokenRevoker:
    return TokenRevoker(FakeRevocationStore(db), hasher, clock)


def _access(db: FakeDatabase, world: World, now: int, family: uuid.UUID) -> tuple[str, uuid.UUID]:
    return add_token(
        db,
        name=TokenName.ACCESS_TOKEN,
        user_id=world.user_id,
        client_id=world.client_id,
        issued_at=now,
        expires_at=now + 600,
        family_id=family,
    )


async def test_revoking_a_refresh_token_revokes_its_family_only(
    revoker: TokenRevoker, world: World, db: FakeDatabase, clock: FakeClock
) -> None:
    _, access_id = _access(db, world, clock.now(), world.family_id)
    _, unrelated = _access(db, world, clock.now(), uuid.uuid4())

    await revoker.revoke(world.client_id, world.refresh_token, "refresh_token")

    assert live_tokens(db) == {unrelated}
    assert db.tokens[access_id].revoked_at == clock.now()


async def test_revoking_an_access_token_revokes_it_alone(
    revoker: TokenRevoker, world: World, db: FakeDatabase, clock: FakeClock
) -> None:
    value, access_id = _access(db, world, clock.now(), world.family_id)

    await revoker.revoke(world.client_id, value, None)

    assert live_tokens(db) == {world.refresh_token_id}
    assert access_id not in live_tokens(db)


async def test_another_clients_unknown_and_code_tokens_are_left_alone(
    revoker: TokenRevoker, world: World, db: FakeDatabase, clock: FakeClock
) -> None:
    code, _ = add_code(
        db,
        user_id=world.user_id,
        client_id=world.client_id,
        connection_id=world.connection_id,
        issued_at=clock.now(),
        expires_at=clock.now() + 60,
    )
    before = live_tokens(db)

    await revoker.revoke(world.other_client_id, world.refresh_token, "refresh_token")
    await revoker.revoke(world.client_id, "unknown", None)
    await revoker.revoke(world.client_id, code, None)

    assert live_tokens(db) == before


# --------------------------------------------------------------------------- introspection


@pytest.fixture
def introspector(
    db: FakeDatabase, hasher: Sha256SecretHasher, clock: FakeClock
) -> TokenIntrospector:
    return TokenIntrospector(TokenVerifier(FakeVerifyStore(db), hasher, clock))


async def test_a_live_access_token_is_active_for_its_client_and_the_gateway(
    introspector: TokenIntrospector, world: World, db: FakeDatabase, clock: FakeClock
) -> None:
    value, _ = _access(db, world, clock.now() - 5, world.family_id)
    expected = {
        "active": True,
        "scope": "legal_entity:read",
        "client_id": str(world.client_id),
        "token_type": "Bearer",
        "exp": clock.now() + 595,
        "iat": clock.now() - 5,
        "sub": str(world.user_id),
    }

    assert await introspector.introspect(value, world.client_id) == expected
    assert await introspector.introspect(value, None) == expected
    assert await introspector.introspect(value, world.other_client_id) == {"active": False}


async def test_whatever_verify_refuses_is_inactive(
    introspector: TokenIntrospector, world: World
) -> None:
    assert await introspector.introspect(world.refresh_token, None) == {"active": False}
    assert await introspector.introspect("unknown", world.client_id) == {"active": False}


class _BrokenStore:
    async def load_token(self, value_hash: bytes) -> VerifyContext | None:
        raise ServiceError("database unreachable")


async def test_a_failing_store_is_an_error_not_an_inactive_token(
    hasher: Sha256SecretHasher, clock: FakeClock
) -> None:
    introspector = TokenIntrospector(TokenVerifier(_BrokenStore(), hasher, clock))

    with pytest.raises(ServiceError):
        await introspector.introspect("anything", None)


# --------------------------------------------------------------- refresh grant with scope


async def test_a_requested_scope_within_the_approval_narrows_the_access_token(
    grant: RefreshTokenGrant, world: World, db: FakeDatabase
) -> None:
    issued = await grant.handle(world.params(), "legal_entity:read legal_entity:read")

    assert issued.details["scope"] == "legal_entity:read"
    assert db.tokens[issued.id].token.scope == "legal_entity:read"


async def test_a_successor_refresh_token_keeps_the_approvals_scope(
    make_grant: GrantFactory, world: World, db: FakeDatabase
) -> None:
    rotating = make_grant(dataclasses.replace(POLICY, rotation=True))

    issued = await rotating.handle(world.params(), "legal_entity:read")

    successor = db.tokens[db.tokens[world.refresh_token_id].successor_id or uuid.uuid4()]
    assert successor.token.scope == APPROVAL_SCOPE
    assert issued.details["scope"] == "legal_entity:read"


async def test_a_scope_beyond_the_approval_is_refused_after_every_other_check(
    grant: RefreshTokenGrant, world: World, db: FakeDatabase
) -> None:
    before = set(db.tokens)

    with pytest.raises(InvalidScopeError) as raised:
        await grant.handle(world.params(), "legal_entity:read declaration:write")
    with pytest.raises(InvalidClientError):
        await grant.handle({**world.params(), "client_secret": "x"}, "declaration:write")

    assert (raised.value.status, raised.value.type) == (400, "invalid_scope")
    assert set(db.tokens) == before


# ------------------------------------------------------------------------- token endpoint


def _answer() -> IssuedToken:
    return IssuedToken(uuid.uuid4(), TokenName.ACCESS_TOKEN, "v", 1, uuid.uuid4())


async def test_an_unsupported_grant_type_is_still_invalid_grant_in_the_json_dialect() -> None:
    endpoint = TokenEndpoint([RecordingGrant("refresh_token", _answer())])

    with pytest.raises(UnsupportedGrantTypeError) as raised:
        await endpoint.handle({"grant_type": "password"})

    assert isinstance(raised.value, InvalidGrantError)
    assert (raised.value.status, raised.value.type, raised.value.message) == (
        401,
        "invalid_grant",
        "Grant type not allowed.",
    )


async def test_the_requested_scope_reaches_the_grant() -> None:
    grant = RecordingGrant("refresh_token", _answer())
    endpoint = TokenEndpoint([grant])

    await endpoint.handle({"grant_type": "refresh_token"}, "a b")
    await endpoint.handle({"grant_type": "refresh_token"})

    assert grant.requested_scopes == ["a b", None]
