"""TokenPurger: dead tokens go in bounded batches; the successor echo outlives no grace window."""

from __future__ import annotations

import asyncio
from uuid import UUID

import pytest

from ehealth_auth.protocol.errors import ValidationError
from ehealth_auth.protocol.model import TokenName
from ehealth_auth.protocol.purge import DAY, PurgeReport, TokenPurger
from tests.fakes import FakeClock, FakeDatabase, FakePurgeStore
from tests.unit.builders import World, add_token

GRACE = 30


@pytest.fixture
def purge_store(db: FakeDatabase) -> FakePurgeStore:
    return FakePurgeStore(db)


@pytest.fixture
def purger(purge_store: FakePurgeStore, clock: FakeClock) -> TokenPurger:
    return TokenPurger(purge_store, clock, reuse_grace=GRACE)


def _token(
    db: FakeDatabase, world: World, *, expires_at: int, revoked_at: int | None = None
) -> UUID:
    _, token_id = add_token(
        db,
        name=TokenName.ACCESS_TOKEN,
        user_id=world.user_id,
        client_id=world.client_id,
        issued_at=expires_at - 600,
        expires_at=expires_at,
    )
    db.tokens[token_id].revoked_at = revoked_at
    return token_id


def _dead_tokens(db: FakeDatabase, world: World, count: int, now: int) -> set[UUID]:
    return {_token(db, world, expires_at=now - 40 * DAY) for _ in range(count)}


async def test_purge_deletes_tokens_expired_or_revoked_before_cutoff(
    purger: TokenPurger, db: FakeDatabase, world: World, clock: FakeClock
) -> None:
    now = clock.now()
    cutoff = now - 30 * DAY
    expired_long_ago = _token(db, world, expires_at=cutoff - 1)
    revoked_long_ago = _token(db, world, expires_at=now + 600, revoked_at=cutoff - 1)
    expired_at_cutoff = _token(db, world, expires_at=cutoff)
    revoked_at_cutoff = _token(db, world, expires_at=now + 600, revoked_at=cutoff)
    expired_recently = _token(db, world, expires_at=now - 1)
    live = _token(db, world, expires_at=now + 600)

    report = await purger.purge(older_than_days=30)

    assert report == PurgeReport(deleted=2, batches=1, erased_successors=0)
    assert expired_long_ago not in db.tokens
    assert revoked_long_ago not in db.tokens
    assert {
        expired_at_cutoff,
        revoked_at_cutoff,
        expired_recently,
        live,
        world.refresh_token_id,
    } == set(db.tokens)


async def test_purge_with_zero_days_deletes_everything_already_dead(
    purger: TokenPurger, db: FakeDatabase, world: World, clock: FakeClock
) -> None:
    dead = _token(db, world, expires_at=clock.now() - 1)
    live = _token(db, world, expires_at=clock.now() + 1)

    report = await purger.purge(older_than_days=0)

    assert report.deleted == 1
    assert dead not in db.tokens
    assert live in db.tokens


@pytest.mark.parametrize(
    ("dead", "batch_size", "batches"),
    [
        (0, 3, [0]),
        (2, 3, [2]),
        (3, 3, [3, 0]),
        (7, 3, [3, 3, 1]),
        (6, 3, [3, 3, 0]),
        (2, 1, [1, 1, 0]),
    ],
)
async def test_purge_works_in_batches_until_one_comes_back_short(
    purger: TokenPurger,
    purge_store: FakePurgeStore,
    db: FakeDatabase,
    world: World,
    clock: FakeClock,
    dead: int,
    batch_size: int,
    batches: list[int],
) -> None:
    _dead_tokens(db, world, dead, clock.now())

    report = await purger.purge(older_than_days=30, batch_size=batch_size, pause=0)

    assert purge_store.batches == batches
    assert report == PurgeReport(deleted=dead, batches=len(batches), erased_successors=0)


async def test_purge_pauses_between_full_batches_only(
    purger: TokenPurger,
    db: FakeDatabase,
    world: World,
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _dead_tokens(db, world, 5, clock.now())
    pauses: list[float] = []
    real_sleep = asyncio.sleep

    async def recording_sleep(delay: float) -> None:
        pauses.append(delay)
        await real_sleep(0)

    monkeypatch.setattr(asyncio, "sleep", recording_sleep)

    await purger.purge(older_than_days=30, batch_size=2, pause=0.25)

    assert pauses == [0.25, 0.25]


async def test_purge_erases_successor_echo_once_grace_has_passed(
    purger: TokenPurger,
    purge_store: FakePurgeStore,
    db: FakeDatabase,
    world: World,
    clock: FakeClock,
) -> None:
    expired_echo = _token(db, world, expires_at=clock.now() + 600)
    edge_echo = _token(db, world, expires_at=clock.now() + 600)
    db.tokens[expired_echo].retired_at_ms = clock.now_ms() - GRACE * 1000 - 1
    db.tokens[expired_echo].successor_value_enc = b"sealed-1"
    db.tokens[edge_echo].retired_at_ms = clock.now_ms() - GRACE * 1000
    db.tokens[edge_echo].successor_value_enc = b"sealed-2"

    report = await purger.purge(older_than_days=30)

    assert report.erased_successors == 1
    assert purge_store.erase_calls == [clock.now_ms() - GRACE * 1000]
    assert db.tokens[expired_echo].successor_value_enc is None
    assert db.tokens[edge_echo].successor_value_enc == b"sealed-2"


async def test_purge_refuses_negative_age(purger: TokenPurger, purge_store: FakePurgeStore) -> None:
    with pytest.raises(ValidationError) as raised:
        await purger.purge(older_than_days=-1)

    assert raised.value.message == "older_than_days: must not be negative"
    assert purge_store.erase_calls == purge_store.batches == []


@pytest.mark.parametrize("batch_size", [0, -5])
async def test_purge_refuses_batch_size_below_one(
    purger: TokenPurger, purge_store: FakePurgeStore, batch_size: int
) -> None:
    with pytest.raises(ValidationError) as raised:
        await purger.purge(older_than_days=30, batch_size=batch_size)

    assert raised.value.message == "batch_size: must be positive"
    assert purge_store.erase_calls == purge_store.batches == []
