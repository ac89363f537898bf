"""The throttle's shared failure counters, and an operator clearing an account's."""

from __future__ import annotations

import asyncio

from tests.integration.contract.backends import CounterKey, Stores

ACCOUNT = b"\x01" * 32
SOURCE = CounterKey(b"\x02" * 32, None, 5)
PAIR = CounterKey(b"\x03" * 32, ACCOUNT, 5)
TARGET = CounterKey(ACCOUNT, ACCOUNT, 5)


async def test_add_counts_per_key_and_window(stores: Stores) -> None:
    counters = stores.counters
    assert await counters.add([SOURCE, TARGET], 1_000, 1_060, 1) == {SOURCE.key: 1, ACCOUNT: 1}
    assert await counters.add([SOURCE, PAIR], 1_000, 1_060, 1) == {SOURCE.key: 2, PAIR.key: 1}
    assert await counters.add([SOURCE], 1_060, 1_120, 1) == {SOURCE.key: 1}  # a new window
    assert await counters.add([SOURCE], 1_000, 1_060, -1) == {SOURCE.key: 1}


async def test_every_simultaneous_failure_is_counted(stores: Stores) -> None:
    await asyncio.gather(
        *(stores.counters.add([SOURCE, TARGET], 1_000, 1_060, 1) for _ in range(20))
    )

    counts = {row.key: row.failures for row in await stores.counters.at_least(1_000, 0)}
    assert counts == {SOURCE.key: 20, ACCOUNT: 20}


async def test_live_counts_are_listed_and_ended_windows_purged(stores: Stores) -> None:
    counters = stores.counters
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


async def test_settle_refunds_and_forgets_the_pair(stores: Stores) -> None:
    counters = stores.counters
    await counters.add([SOURCE, PAIR, TARGET], 1_000, 1_060, 2)
    await counters.add([SOURCE], 1_060, 1_120, 1)  # another window: untouched

    await counters.settle([SOURCE, TARGET], PAIR.key, 1_000)

    counts = {(row.key, row.expires_at): row.failures for row in await counters.at_least(0, 0)}
    assert counts == {(SOURCE.key, 1_060): 1, (ACCOUNT, 1_060): 1, (SOURCE.key, 1_120): 1}


async def test_a_count_taken_back_to_nothing_goes(stores: Stores) -> None:
    counters = stores.counters
    await counters.add([SOURCE, TARGET], 1_000, 1_060, 1)

    await counters.settle([SOURCE, TARGET], PAIR.key, 1_000)
    await counters.settle([SOURCE], PAIR.key, 1_000)  # nothing left to take back

    assert await counters.at_least(0, 0) == []


async def test_clearing_an_account_forgets_its_counters_and_its_pairs(stores: Stores) -> None:
    await stores.counters.add([SOURCE, PAIR, TARGET], 1_000, 1_060, 2)

    assert await stores.admin.clear_attempts(ACCOUNT) is True
    assert await stores.admin.clear_attempts(ACCOUNT) is False

    assert [row.key for row in await stores.counters.at_least(1_000, 0)] == [SOURCE.key]
