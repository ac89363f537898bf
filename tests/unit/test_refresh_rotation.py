"""Refresh policy (CONTRACT §6): rotation, reuse detection, the grace window and races."""

from __future__ import annotations

import dataclasses
from uuid import UUID

import pytest

from ehealth_auth.protocol.errors import InvalidGrantError, TokenExpiredError, UserBlockedError
from ehealth_auth.protocol.grants.refresh_token import REVOKED_FOR_REUSE, RefreshTokenGrant
from ehealth_auth.protocol.model import (
    IssuedToken,
    LostRace,
    NewToken,
    Rotated,
    StoredRefreshToken,
    TokenName,
)
from tests.fakes import (
    FakeClock,
    FakeDatabase,
    FakeRefreshGrantStore,
    FakeSuccessorCipher,
    Sha256SecretHasher,
    sha256,
)
from tests.unit.builders import APPROVAL_SCOPE, World, add_token
from tests.unit.conftest import POLICY, GrantFactory

ALREADY_USED = "Token has already been used."
ROTATING = dataclasses.replace(POLICY, rotation=True)
GRACE = 10
ROTATING_WITH_GRACE = dataclasses.replace(ROTATING, reuse_grace=GRACE)


def _live(db: FakeDatabase) -> set[UUID]:
    return {token_id for token_id, row in db.tokens.items() if row.revoked_at is None}


def _params(world: World, refresh_token: str) -> dict[str, object]:
    return world.params() | {"refresh_token": refresh_token}


async def _reused(grant: RefreshTokenGrant, params: dict[str, object]) -> InvalidGrantError:
    with pytest.raises(InvalidGrantError) as raised:
        await grant.handle(params)
    error = raised.value
    assert (error.status, error.type, error.message) == (401, "invalid_grant", ALREADY_USED)
    return error


def _access_in_family(db: FakeDatabase, world: World, issued_at: int) -> UUID:
    """An access token issued earlier from the world's refresh token."""
    _, token_id = add_token(
        db,
        name=TokenName.ACCESS_TOKEN,
        user_id=world.user_id,
        client_id=world.client_id,
        issued_at=issued_at,
        expires_at=issued_at + 600,
        family_id=world.family_id,
    )
    return token_id


def _unrelated_token(db: FakeDatabase, world: World, now: int) -> UUID:
    """The same user's token from another authorization: no family event may touch it."""
    _, token_id = add_token(
        db,
        name=TokenName.REFRESH_TOKEN,
        user_id=world.user_id,
        client_id=world.client_id,
        issued_at=now,
        expires_at=now + 600,
    )
    return token_id


@pytest.fixture
def rotating(make_grant: GrantFactory) -> RefreshTokenGrant:
    return make_grant(ROTATING)


@pytest.fixture
def with_grace(make_grant: GrantFactory) -> RefreshTokenGrant:
    return make_grant(ROTATING_WITH_GRACE)


# ------------------------------------------------------------------------------ rotation off


async def test_refresh_without_rotation_neither_retires_nor_returns_refresh_token(
    grant: RefreshTokenGrant, world: World, db: FakeDatabase
) -> None:
    issued = await grant.handle(world.params())

    assert "refresh_token" not in issued.details
    row = db.tokens[world.refresh_token_id]
    assert (row.retired_at_ms, row.successor_id, row.revoked_at) == (None, None, None)


async def test_refresh_keeps_earlier_access_tokens_by_default(
    grant: RefreshTokenGrant, world: World, db: FakeDatabase, clock: FakeClock
) -> None:
    earlier = _access_in_family(db, world, clock.now() - 100)

    await grant.handle(world.params())

    assert earlier in _live(db)


async def test_refresh_revokes_earlier_access_tokens_of_family_when_configured(
    make_grant: GrantFactory, world: World, db: FakeDatabase, clock: FakeClock
) -> None:
    grant = make_grant(dataclasses.replace(POLICY, revokes_previous_access=True))
    earlier = _access_in_family(db, world, clock.now() - 100)
    unrelated = _unrelated_token(db, world, clock.now())

    issued = await grant.handle(world.params())

    assert db.tokens[earlier].revoked_at == clock.now()
    assert _live(db) == {world.refresh_token_id, unrelated, issued.id}


# ------------------------------------------------------------------------------- rotation on


async def test_rotation_returns_new_refresh_token_and_retires_presented_one(
    rotating: RefreshTokenGrant, world: World, db: FakeDatabase, clock: FakeClock
) -> None:
    issued = await rotating.handle(world.params())

    new_value = issued.details["refresh_token"]
    assert new_value != world.refresh_token
    assert issued.details == {
        "client_id": str(world.client_id),
        "grant_type": "refresh_token",
        "scope": APPROVAL_SCOPE,
        "refresh_token": new_value,
    }
    retired = db.tokens[world.refresh_token_id]
    assert retired.retired_at_ms == clock.now_ms()
    assert retired.revoked_at is None
    successor = db.tokens[retired.successor_id or world.refresh_token_id].token
    assert successor.id != world.refresh_token_id
    assert successor.value_hash == sha256(new_value)


async def test_rotation_successor_belongs_to_same_family_with_approval_scope(
    rotating: RefreshTokenGrant, world: World, db: FakeDatabase, clock: FakeClock
) -> None:
    issued = await rotating.handle(world.params())

    successor_id = db.tokens[world.refresh_token_id].successor_id
    assert successor_id is not None
    successor = db.tokens[successor_id].token
    assert successor == NewToken(
        id=successor_id,
        name=TokenName.REFRESH_TOKEN,
        value_hash=sha256(issued.details["refresh_token"]),
        issued_at=clock.now(),
        expires_at=clock.now() + POLICY.refresh_ttl,
        user_id=world.user_id,
        client_id=world.client_id,
        scope=APPROVAL_SCOPE,
        details={"client_id": str(world.client_id), "scope": APPROVAL_SCOPE},
        family_id=world.family_id,
        parent_id=world.refresh_token_id,
        connection_id=world.connection_id,
    )
    access = db.tokens[issued.id].token
    assert (access.family_id, access.parent_id) == (world.family_id, world.refresh_token_id)


async def test_rotation_never_stores_the_new_refresh_token_value(
    rotating: RefreshTokenGrant, world: World, db: FakeDatabase
) -> None:
    issued = await rotating.handle(world.params())

    new_value = issued.details["refresh_token"]
    assert "refresh_token" not in db.tokens[issued.id].token.details
    assert db.tokens[world.refresh_token_id].successor_value_enc is None
    assert new_value not in repr(db)
    assert issued.value not in repr(db)


async def test_rotation_successor_can_be_refreshed_in_turn(
    rotating: RefreshTokenGrant, world: World, db: FakeDatabase, clock: FakeClock
) -> None:
    first = await rotating.handle(world.params())
    clock.advance(1)

    second = await rotating.handle(_params(world, first.details["refresh_token"]))

    assert second.details["refresh_token"] not in (
        world.refresh_token,
        first.details["refresh_token"],
    )
    assert db.tokens[second.id].token.family_id == world.family_id


async def test_rotation_revokes_earlier_access_tokens_when_configured(
    make_grant: GrantFactory, world: World, db: FakeDatabase, clock: FakeClock
) -> None:
    grant = make_grant(dataclasses.replace(ROTATING, revokes_previous_access=True))
    earlier = _access_in_family(db, world, clock.now() - 100)

    issued = await grant.handle(world.params())

    assert db.tokens[earlier].revoked_at == clock.now()
    assert db.tokens[issued.id].revoked_at is None


async def test_rotation_keeps_earlier_access_tokens_by_default(
    rotating: RefreshTokenGrant, world: World, db: FakeDatabase, clock: FakeClock
) -> None:
    earlier = _access_in_family(db, world, clock.now() - 100)

    await rotating.handle(world.params())

    assert earlier in _live(db)


# ----------------------------------------------------------------------------- reuse detection


async def test_rotation_revokes_family_when_retired_token_is_reused(
    rotating: RefreshTokenGrant, world: World, db: FakeDatabase, clock: FakeClock
) -> None:
    unrelated = _unrelated_token(db, world, clock.now())
    await rotating.handle(world.params())
    clock.advance_ms(POLICY.race_window_ms + 1)

    await _reused(rotating, world.params())

    assert _live(db) == {unrelated}
    assert {row.revoked_at for row in db.tokens.values() if row.token.id != unrelated} == {
        clock.now()
    }


async def test_successor_is_dead_after_reuse_of_its_parent_and_says_why(
    rotating: RefreshTokenGrant, world: World, clock: FakeClock
) -> None:
    first = await rotating.handle(world.params())
    clock.advance(5)
    await _reused(rotating, world.params())

    for token in (first.details["refresh_token"], world.refresh_token):
        with pytest.raises(InvalidGrantError) as raised:
            await rotating.handle(_params(world, token))
        assert raised.value.message == REVOKED_FOR_REUSE


async def test_a_family_revoked_for_another_reason_says_expired(
    rotating: RefreshTokenGrant, world: World, db: FakeDatabase, clock: FakeClock
) -> None:
    first = await rotating.handle(world.params())
    db.revoke_tokens(clock.now(), lambda token: token.user_id == world.user_id)

    with pytest.raises(TokenExpiredError):
        await rotating.handle(_params(world, first.details["refresh_token"]))


async def test_reuse_is_detected_even_after_rotation_was_switched_off(
    rotating: RefreshTokenGrant, grant: RefreshTokenGrant, world: World, db: FakeDatabase
) -> None:
    await rotating.handle(world.params())
    clock_ms = db.tokens[world.refresh_token_id].retired_at_ms
    assert clock_ms is not None
    db.tokens[world.refresh_token_id].retired_at_ms = clock_ms - POLICY.race_window_ms - 1

    await _reused(grant, world.params())

    assert _live(db) == set()


async def test_presentation_within_race_window_is_a_lost_race_not_theft(
    rotating: RefreshTokenGrant, world: World, db: FakeDatabase, clock: FakeClock
) -> None:
    await rotating.handle(world.params())
    clock.advance_ms(POLICY.race_window_ms)

    await _reused(rotating, world.params())
    assert len(_live(db)) == 3  # the retired token, its successor, the access token

    clock.advance_ms(1)
    await _reused(rotating, world.params())
    assert _live(db) == set()


async def test_reuse_checks_still_come_after_contract_checks(
    rotating: RefreshTokenGrant, world: World, db: FakeDatabase
) -> None:
    await rotating.handle(world.params())
    user = db.users[world.user_id]
    db.users[user.id] = dataclasses.replace(user, is_blocked=True)

    with pytest.raises(UserBlockedError):
        await rotating.handle(world.params())


# ----------------------------------------------------------------------------------- races


async def test_request_that_loses_rotation_race_fails_without_revoking(
    rotating: RefreshTokenGrant,
    world: World,
    db: FakeDatabase,
    clock: FakeClock,
    refresh_store: FakeRefreshGrantStore,
) -> None:
    winner: list[IssuedToken] = []

    async def concurrent_refresh() -> None:
        clock.advance_ms(3)
        winner.append(await rotating.handle(world.params()))

    refresh_store.interleave["rotate"] = concurrent_refresh
    before = set(db.tokens)

    await _reused(rotating, world.params())

    assert len(winner) == 1
    assert set(db.tokens) - before == {winner[0].id, db.tokens[world.refresh_token_id].successor_id}
    assert _live(db) == set(db.tokens)


async def test_request_that_arrived_before_retirement_is_not_taken_for_theft(
    rotating: RefreshTokenGrant,
    world: World,
    db: FakeDatabase,
    clock: FakeClock,
    refresh_store: FakeRefreshGrantStore,
) -> None:
    # The other request retires the token between this one's arrival and its read, and time
    # goes on before the read returns: only the arrival time shows this was a race.
    async def concurrent_refresh() -> None:
        clock.advance_ms(3)
        await rotating.handle(world.params())
        clock.advance_ms(2)

    refresh_store.interleave["load_refresh_context"] = concurrent_refresh

    await _reused(rotating, world.params())

    assert _live(db) == set(db.tokens)


async def test_request_arriving_in_the_millisecond_of_retirement_is_a_race(
    rotating: RefreshTokenGrant, world: World, db: FakeDatabase
) -> None:
    await rotating.handle(world.params())

    await _reused(rotating, world.params())

    assert _live(db) == set(db.tokens)


async def test_lost_race_to_family_revocation_for_reuse_says_so(
    make_grant: GrantFactory,
    world: World,
    db: FakeDatabase,
    clock: FakeClock,
    refresh_store: FakeRefreshGrantStore,
) -> None:
    grant = make_grant(ROTATING_WITH_GRACE)

    async def concurrent_revocation() -> None:
        await refresh_store.revoke_family(world.family_id, clock.now())

    refresh_store.interleave["rotate"] = concurrent_revocation

    with pytest.raises(InvalidGrantError) as raised:
        await grant.handle(world.params())
    assert raised.value.message == REVOKED_FOR_REUSE


async def test_lost_race_to_family_revocation_without_grace_answers_already_used(
    rotating: RefreshTokenGrant,
    world: World,
    db: FakeDatabase,
    clock: FakeClock,
    refresh_store: FakeRefreshGrantStore,
) -> None:
    async def concurrent_revocation() -> None:
        await refresh_store.revoke_family(world.family_id, clock.now())

    refresh_store.interleave["rotate"] = concurrent_revocation

    await _reused(rotating, world.params())

    # Without a grace window the loser does not read again: one context load only.
    assert len(refresh_store.context_loads) == 1


class _LosesWithoutRetiring(FakeRefreshGrantStore):
    """Breaks the port's promise: reports a lost race while the token stays live."""

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
        token = self.db.tokens[retired_id].token
        return LostRace(
            StoredRefreshToken(
                id=token.id,
                client_id=token.client_id,
                user_id=token.user_id,
                expires_at=token.expires_at,
                revoked=False,
                family_id=token.family_id,
                connection_id=token.connection_id,
            )
        )


async def test_refresh_answers_already_used_when_store_loses_race_without_retiring(
    world: World,
    db: FakeDatabase,
    clock: FakeClock,
    hasher: Sha256SecretHasher,
    cipher: FakeSuccessorCipher,
) -> None:
    store = _LosesWithoutRetiring(db)
    grant = RefreshTokenGrant(store, hasher, clock, ROTATING_WITH_GRACE, cipher)

    await _reused(grant, world.params())

    assert _live(db) == set(db.tokens)
    # The answer comes from the token the rotation read back: the context is read once.
    assert len(store.context_loads) == 1


# ------------------------------------------------------------------------------ grace window


async def test_grace_stores_successor_sealed_to_the_retired_token(
    with_grace: RefreshTokenGrant, world: World, db: FakeDatabase, cipher: FakeSuccessorCipher
) -> None:
    issued = await with_grace.handle(world.params())

    sealed = db.tokens[world.refresh_token_id].successor_value_enc
    assert sealed is not None
    new_value = issued.details["refresh_token"]
    assert new_value.encode() not in sealed
    # Bound to the retired token's value hash, known before its row is read.
    assert cipher.decrypt(sealed, sha256(world.refresh_token)) == new_value
    assert cipher.decrypt(sealed, sha256(new_value)) is None


async def test_a_successor_sealed_to_the_retired_tokens_id_is_still_answered_in_grace(
    with_grace: RefreshTokenGrant,
    world: World,
    db: FakeDatabase,
    clock: FakeClock,
    cipher: FakeSuccessorCipher,
) -> None:
    # As a release before this one sealed it: bound to the retired token's id.
    first = await with_grace.handle(world.params())
    successor = first.details["refresh_token"]
    db.tokens[world.refresh_token_id].successor_value_enc = cipher.encrypt(
        successor, world.refresh_token_id.bytes
    )
    clock.advance_ms(1_000)

    retry = await with_grace.handle(world.params())

    assert retry.details["refresh_token"] == successor
    assert _live(db) == set(db.tokens)


async def test_retry_within_grace_gets_same_refresh_token_and_new_access_token(
    with_grace: RefreshTokenGrant, world: World, db: FakeDatabase, clock: FakeClock
) -> None:
    first = await with_grace.handle(world.params())
    retired_at_ms = db.tokens[world.refresh_token_id].retired_at_ms
    clock.advance_ms(GRACE * 1000 - 1)

    retry = await with_grace.handle(world.params())

    assert retry.details["refresh_token"] == first.details["refresh_token"]
    assert retry.id != first.id
    assert retry.value != first.value
    assert retry.expires_at == clock.now() + POLICY.access_ttl
    stored = db.tokens[retry.id].token
    assert stored.name is TokenName.ACCESS_TOKEN
    assert "refresh_token" not in stored.details
    assert db.tokens[world.refresh_token_id].retired_at_ms == retired_at_ms
    assert _live(db) == set(db.tokens)


async def test_retry_within_grace_revokes_earlier_access_when_configured(
    make_grant: GrantFactory, world: World, db: FakeDatabase, clock: FakeClock
) -> None:
    grant = make_grant(dataclasses.replace(ROTATING_WITH_GRACE, revokes_previous_access=True))
    first = await grant.handle(world.params())
    clock.advance(1)

    retry = await grant.handle(world.params())

    assert db.tokens[first.id].revoked_at == clock.now()
    assert db.tokens[retry.id].revoked_at is None


async def test_reuse_at_end_of_grace_revokes_family(
    with_grace: RefreshTokenGrant, world: World, db: FakeDatabase, clock: FakeClock
) -> None:
    await with_grace.handle(world.params())
    clock.advance(GRACE)

    await _reused(with_grace, world.params())

    assert _live(db) == set()


async def test_loser_of_race_within_grace_is_answered_as_retry(
    with_grace: RefreshTokenGrant,
    world: World,
    db: FakeDatabase,
    clock: FakeClock,
    refresh_store: FakeRefreshGrantStore,
) -> None:
    winner: list[IssuedToken] = []

    async def concurrent_refresh() -> None:
        clock.advance_ms(3)
        winner.append(await with_grace.handle(world.params()))

    refresh_store.interleave["rotate"] = concurrent_refresh

    loser = await with_grace.handle(world.params())

    assert loser.details["refresh_token"] == winner[0].details["refresh_token"]
    assert loser.id != winner[0].id
    # One context read each: the loser answers from what its rotation read back.
    assert len(refresh_store.context_loads) == 2
    assert _live(db) == set(db.tokens)


async def test_retry_within_grace_with_undecryptable_echo_fails_without_revoking(
    with_grace: RefreshTokenGrant, world: World, db: FakeDatabase, clock: FakeClock
) -> None:
    await with_grace.handle(world.params())
    row = db.tokens[world.refresh_token_id]
    assert row.successor_value_enc is not None
    row.successor_value_enc = bytes(len(row.successor_value_enc))
    clock.advance(1)
    before = set(db.tokens)

    await _reused(with_grace, world.params())

    assert set(db.tokens) == before
    assert _live(db) == before


async def test_only_newest_retired_token_echoes_its_successor(
    with_grace: RefreshTokenGrant, world: World, db: FakeDatabase, clock: FakeClock
) -> None:
    first = await with_grace.handle(world.params())
    clock.advance(1)
    await with_grace.handle(_params(world, first.details["refresh_token"]))
    clock.advance(1)

    await _reused(with_grace, world.params())

    assert db.tokens[world.refresh_token_id].successor_value_enc is None
    # Still inside the first token's grace window: refused, but not treated as theft.
    assert _live(db) == set(db.tokens)
