"""The verify cache: bounded memory, bounded lifetime, trusted only while its feed is live, and
never a second copy of the verify rules (cached contexts are checked again on every call)."""

from __future__ import annotations

import uuid

import pytest

from ehealth_auth.protocol.errors import ServiceError
from ehealth_auth.protocol.model import TokenName, VerifyContext
from ehealth_auth.protocol.verify import TokenVerifier
from ehealth_auth.storage.verify_cache import VerifyResultCache
from tests.fakes import FakeClock, FakeDatabase, FakeVerifyStore, Sha256SecretHasher, sha256
from tests.unit.builders import World, add_token

TTL = 60.0
MAX_LAG = 0.8
DEAD = (401, "invalid_grant", "Token expired or client approval was revoked.")


class Ticking:
    """A settable monotonic and wall clock pair."""

    def __init__(self, wall: float) -> None:
        self.mono = 0.0
        self.wall = wall

    def monotonic(self) -> float:
        return self.mono

    def time(self) -> float:
        return self.wall

    def advance(self, seconds: float) -> None:
        self.mono += seconds
        self.wall += seconds


class CountingStore(FakeVerifyStore):
    def __init__(self, db: FakeDatabase) -> None:
        super().__init__(db)
        self.loads = 0

    async def load_token(self, value_hash: bytes) -> VerifyContext | None:
        self.loads += 1
        return await super().load_token(value_hash)


@pytest.fixture
def ticking(clock: FakeClock) -> Ticking:
    return Ticking(float(clock.now()))


def new_cache(ticking: Ticking, max_entries: int = 100) -> VerifyResultCache:
    cache = VerifyResultCache(max_entries, TTL, MAX_LAG, ticking.monotonic, ticking.time)
    cache.feed_up(ticking.monotonic())
    return cache


def context(expires_at: int) -> VerifyContext:
    return VerifyContext(
        id=uuid.uuid4(),
        name=TokenName.ACCESS_TOKEN.value,
        expires_at=expires_at,
        issued_at=expires_at - 3600,
        revoked=False,
        user_id=uuid.uuid4(),
        details={"scope": "a"},
        approval_exists=True,
        client_blocked=False,
        user_blocked=False,
        mis_client_id=None,
    )


def live_token(db: FakeDatabase, world: World, clock: FakeClock, ttl: int = 600) -> str:
    value, _token_id = add_token(
        db,
        name=TokenName.ACCESS_TOKEN,
        user_id=world.user_id,
        client_id=world.client_id,
        issued_at=clock.now() - 10,
        expires_at=clock.now() + ttl,
        scope="employee:read",
        family_id=world.family_id,
    )
    return value


async def _refused(verifier: TokenVerifier, value: str) -> tuple[int, str, str]:
    with pytest.raises(ServiceError) as raised:
        await verifier.verify(value)
    return raised.value.status, raised.value.type, raised.value.message


async def test_verify_answers_a_verified_token_again_without_reading_the_store(
    db: FakeDatabase, world: World, clock: FakeClock, hasher: Sha256SecretHasher, ticking: Ticking
) -> None:
    store = CountingStore(db)
    verifier = TokenVerifier(store, hasher, clock, new_cache(ticking))
    value = live_token(db, world, clock)

    first = await verifier.verify(value)
    second = await verifier.verify(value)

    assert second == first
    assert store.loads == 1


async def test_verify_checks_a_cached_context_again_so_expiry_needs_no_event(
    db: FakeDatabase, world: World, clock: FakeClock, hasher: Sha256SecretHasher, ticking: Ticking
) -> None:
    store = CountingStore(db)
    # The cache's own clocks lag the protocol's: the rules, not the cache, decide expiry.
    verifier = TokenVerifier(store, hasher, clock, new_cache(ticking))
    value = live_token(db, world, clock, ttl=30)
    await verifier.verify(value)

    clock.advance(30)

    assert await _refused(verifier, value) == DEAD
    assert store.loads == 1


async def test_verify_keeps_only_contexts_that_pass_every_check(
    db: FakeDatabase, world: World, clock: FakeClock, hasher: Sha256SecretHasher, ticking: Ticking
) -> None:
    store = CountingStore(db)
    cache = new_cache(ticking)
    verifier = TokenVerifier(store, hasher, clock, cache)
    value = live_token(db, world, clock)
    db.tokens[db.token_by_hash(sha256(value)).token.id].revoked_at = clock.now()  # type: ignore[union-attr]

    assert await _refused(verifier, value) == DEAD
    assert await _refused(verifier, value) == DEAD
    with pytest.raises(ServiceError):
        await verifier.verify("no-such-token")

    assert store.loads == 3
    assert len(cache) == 0


async def test_verify_does_not_keep_a_read_that_raced_with_an_invalidation(
    db: FakeDatabase, world: World, clock: FakeClock, hasher: Sha256SecretHasher, ticking: Ticking
) -> None:
    cache = new_cache(ticking)
    value = live_token(db, world, clock)

    class RacingStore(CountingStore):
        async def load_token(self, value_hash: bytes) -> VerifyContext | None:
            read = await super().load_token(value_hash)
            # The revocation commits, and its notification arrives, while this read is in flight.
            cache.invalidate(value_hash)
            return read

    store = RacingStore(db)
    verifier = TokenVerifier(store, hasher, clock, cache)

    await verifier.verify(value)
    await verifier.verify(value)

    assert store.loads == 2
    assert len(cache) == 0


async def test_verify_reads_the_store_while_the_feed_is_down(
    db: FakeDatabase, world: World, clock: FakeClock, hasher: Sha256SecretHasher, ticking: Ticking
) -> None:
    store = CountingStore(db)
    cache = new_cache(ticking)
    verifier = TokenVerifier(store, hasher, clock, cache)
    value = live_token(db, world, clock)
    await verifier.verify(value)

    cache.feed_down()
    await verifier.verify(value)
    await verifier.verify(value)

    assert store.loads == 3
    assert len(cache) == 0


def test_cache_holds_at_most_max_entries_and_evicts_the_least_recently_used(
    ticking: Ticking,
) -> None:
    cache = new_cache(ticking, max_entries=3)
    far = int(ticking.wall) + 3600
    for n in range(3):
        cache.put(bytes([n]), context(far), cache.ticket() or 0)
    assert cache.get(bytes([0])) is not None  # 0 is now the most recently used

    for n in range(3, 1000):
        cache.put(bytes([n % 256, n // 256]), context(far), cache.ticket() or 0)
        assert len(cache) <= 3

    cache = new_cache(ticking, max_entries=3)
    for n in range(3):
        cache.put(bytes([n]), context(far), cache.ticket() or 0)
    cache.get(bytes([0]))
    cache.put(b"new", context(far), cache.ticket() or 0)
    assert [cache.get(bytes([n])) is not None for n in range(3)] == [True, False, True]


def test_cache_drops_an_entry_after_its_ttl_even_without_an_event(ticking: Ticking) -> None:
    cache = new_cache(ticking)
    cache.put(b"h", context(int(ticking.wall) + 3600), cache.ticket() or 0)

    ticking.advance(TTL - 0.5)
    cache.confirm(ticking.monotonic())
    assert cache.get(b"h") is not None

    ticking.advance(0.5)
    cache.confirm(ticking.monotonic())
    assert cache.get(b"h") is None
    assert len(cache) == 0


def test_cache_drops_an_entry_when_its_token_expires(ticking: Ticking) -> None:
    cache = new_cache(ticking)
    cache.put(b"h", context(int(ticking.wall) + 5), cache.ticket() or 0)

    ticking.advance(5)
    cache.confirm(ticking.monotonic())

    assert cache.get(b"h") is None
    assert len(cache) == 0


def test_cache_is_unused_until_its_feed_is_up() -> None:
    ticking = Ticking(1_800_000_000.0)
    cache = VerifyResultCache(10, TTL, MAX_LAG, ticking.monotonic, ticking.time)

    assert cache.ticket() is None
    cache.put(b"h", context(1_900_000_000), 0)
    assert len(cache) == 0


def test_cache_stops_answering_when_the_feed_is_not_confirmed_within_max_lag(
    ticking: Ticking,
) -> None:
    cache = new_cache(ticking)
    cache.put(b"h", context(int(ticking.wall) + 3600), cache.ticket() or 0)

    ticking.advance(MAX_LAG)

    assert cache.get(b"h") is None
    assert cache.ticket() is None
    cache.confirm(ticking.monotonic())
    assert cache.get(b"h") is not None


def test_cache_forgets_everything_when_the_feed_goes_down_or_comes_back(ticking: Ticking) -> None:
    cache = new_cache(ticking)
    cache.put(b"h", context(int(ticking.wall) + 3600), cache.ticket() or 0)
    ticket = cache.ticket()
    assert ticket is not None

    cache.feed_down()
    assert len(cache) == 0
    assert cache.ticket() is None

    cache.feed_up(ticking.monotonic())
    cache.put(b"h", context(int(ticking.wall) + 3600), ticket)  # a read from before the outage
    assert len(cache) == 0


def test_invalidation_drops_one_token_and_flush_drops_all(ticking: Ticking) -> None:
    cache = new_cache(ticking)
    far = int(ticking.wall) + 3600
    for key in (b"a", b"b", b"c"):
        cache.put(key, context(far), cache.ticket() or 0)

    cache.invalidate(b"b")
    assert [cache.get(key) is not None for key in (b"a", b"b", b"c")] == [True, False, True]

    cache.flush()
    assert len(cache) == 0
