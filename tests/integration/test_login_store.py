"""The login's stores against real databases (SQLite and PostgreSQL), and the equal work the
password grant does for unknown and known emails."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from ehealth_auth.crypto import Argon2PasswordHasher, HmacSecretHasher
from ehealth_auth.protocol.errors import AccessDeniedError
from ehealth_auth.protocol.grants.password import LoginPolicy, PasswordGrant
from ehealth_auth.protocol.throttle import (
    LOGIN_MESSAGE,
    CounterKey,
    FailureThrottle,
    ThrottleLimits,
    ThrottleView,
)
from ehealth_auth.storage.login_store import SqlLoginStore
from ehealth_auth.storage.throttle_store import SqlFailureCounters, clear_target
from ehealth_auth.wiring import Services
from tests.fakes import FakeClock
from tests.flow_support import login_body
from tests.support import TEST_SECRET_KEY, World

ACCOUNT = b"\x01" * 32
SOURCE = CounterKey(b"\x02" * 32, None, 5)
PAIR = CounterKey(b"\x03" * 32, ACCOUNT, 5)
TARGET = CounterKey(ACCOUNT, ACCOUNT, 5)


async def test_failure_counters_add_per_key_and_window(services: Services) -> None:
    counters = SqlFailureCounters(services.engine)
    assert await counters.add([SOURCE, TARGET], 1_000, 1_060, 1) == {SOURCE.key: 1, ACCOUNT: 1}
    assert await counters.add([SOURCE, PAIR], 1_000, 1_060, 1) == {SOURCE.key: 2, PAIR.key: 1}
    assert await counters.add([SOURCE], 1_060, 1_120, 1) == {SOURCE.key: 1}  # a new window
    assert await counters.add([SOURCE], 1_000, 1_060, -1) == {SOURCE.key: 1}


async def test_failure_counters_count_every_simultaneous_failure(services: Services) -> None:
    counters = SqlFailureCounters(services.engine)

    await asyncio.gather(*(counters.add([SOURCE, TARGET], 1_000, 1_060, 1) for _ in range(20)))

    counts = {row.key: row.failures for row in await counters.at_least(1_000, 0)}
    assert counts == {SOURCE.key: 20, ACCOUNT: 20}


async def test_failure_counters_list_live_counts_and_purge_ended_windows(
    services: Services,
) -> None:
    counters = SqlFailureCounters(services.engine)
    await counters.add([SOURCE, TARGET], 1_000, 1_060, 3)
    await counters.add([PAIR], 1_000, 1_060, 1)
    await counters.add([SOURCE], 1_060, 1_120, 4)

    live = await counters.at_least(1_059, 3)
    assert sorted((row.key, row.expires_at, row.failures) for row in live) == sorted(
        [(SOURCE.key, 1_060, 3), (ACCOUNT, 1_060, 3), (SOURCE.key, 1_120, 4)]
    )
    assert await counters.purge(1_060) == 3
    assert [(row.key, row.failures) for row in await counters.at_least(1_060, 0)] == [
        (SOURCE.key, 4)
    ]


async def test_failure_counters_settle_refunds_and_forgets_the_pair(services: Services) -> None:
    counters = SqlFailureCounters(services.engine)
    await counters.add([SOURCE, PAIR, TARGET], 1_000, 1_060, 2)

    await counters.settle([SOURCE, TARGET], PAIR.key, 1_000)

    counts = {row.key: row.failures for row in await counters.at_least(1_000, 0)}
    assert counts == {SOURCE.key: 1, ACCOUNT: 1}


async def test_clearing_an_account_forgets_its_counters_and_its_pairs(services: Services) -> None:
    counters = SqlFailureCounters(services.engine)
    await counters.add([SOURCE, PAIR, TARGET], 1_000, 1_060, 2)

    assert await services.admin.clear_login_attempts("ann@example.org") is False
    async with services.engine.begin() as conn:
        assert await clear_target(conn, ACCOUNT) is True
        assert await clear_target(conn, ACCOUNT) is False

    assert [row.key for row in await counters.at_least(1_000, 0)] == [SOURCE.key]


async def test_user_by_email_ignores_case(services: Services, world: World) -> None:
    store = SqlLoginStore(services.engine)
    found = await store.user_by_email(world.user_email.upper())
    assert found is not None
    assert found.id == world.user_id
    assert await store.user_by_email("nobody@example.org") is None


class CountingHasher:
    def __init__(self) -> None:
        self.inner = Argon2PasswordHasher(time_cost=1, memory_kib=8, parallelism=1)
        self.verified = 0

    def hash(self, password: str) -> str:
        return self.inner.hash(password)

    def verify(self, password_hash: str, password: str) -> bool:
        self.verified += 1
        return self.inner.verify(password_hash, password)


async def test_unknown_email_costs_a_password_verification_like_a_wrong_password(
    services: Services, world: World, clock: FakeClock
) -> None:
    store = SqlLoginStore(services.engine)
    hasher = CountingHasher()
    keyed = HmacSecretHasher(TEST_SECRET_KEY.encode())
    view = ThrottleView(SqlFailureCounters(services.engine), clock, 1_000, 100, 900)
    limits = ThrottleLimits(source=100, pair=100, target=100)
    grant = PasswordGrant(
        store,
        store,
        store,
        store,
        FailureThrottle("login", limits, view, keyed, clock, LOGIN_MESSAGE),
        keyed,
        hasher,
        services.password_work,
        clock,
        LoginPolicy(),
    )

    async def refused(body: dict[str, Any]) -> None:
        with pytest.raises(AccessDeniedError):
            await grant.handle(body["token"])

    # Equal work, not equal luck with timing: each refusal verifies exactly one password hash,
    # for an unknown email against a dummy hash of the same cost.
    await refused(login_body(world, password="wrong-pass"))
    assert hasher.verified == 1
    await refused(login_body(world, email="ghost@example.org"))
    assert hasher.verified == 2
