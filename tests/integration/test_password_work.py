"""BoundedPasswordWork: password hashing on threads of its own, a bounded number at once, and a
quick refusal beyond that (no unbounded queue)."""

from __future__ import annotations

import asyncio
import functools
import os
import sys
import threading

import pytest

from ehealth_auth.crypto import Argon2PasswordHasher, BoundedPasswordWork
from ehealth_auth.protocol.errors import ServiceUnavailableError


async def test_work_runs_off_the_event_loop_thread() -> None:
    work = BoundedPasswordWork(running=1, waiting=0)
    try:
        hasher = Argon2PasswordHasher(time_cost=1, memory_kib=8, parallelism=1)
        stored = await work.run(lambda: hasher.hash("password-1"))
        assert await work.run(lambda: hasher.verify(stored, "password-1"))
        thread = await work.run(threading.get_ident)
        assert thread != threading.get_ident()
    finally:
        work.close()


async def test_beyond_running_and_waiting_work_is_refused_at_once_with_retry_after() -> None:
    work = BoundedPasswordWork(running=1, waiting=1)
    release = threading.Event()
    try:
        first = asyncio.ensure_future(work.run(lambda: release.wait(10)))
        second = asyncio.ensure_future(work.run(lambda: release.wait(10)))
        await asyncio.sleep(0)

        with pytest.raises(ServiceUnavailableError) as raised:
            await asyncio.wait_for(work.run(lambda: True), timeout=1)

        assert (raised.value.status, raised.value.type) == (503, "service_unavailable")
        assert raised.value.headers == {"Retry-After": "1"}
        release.set()
        assert await first is True
        assert await second is True
        assert await work.run(lambda: 42) == 42  # room again
    finally:
        release.set()
        work.close()


@pytest.mark.skipif(sys.platform != "linux", reason="thread priorities are set on Linux only")
async def test_hashing_threads_run_at_the_lower_priority_asked_for() -> None:
    work = BoundedPasswordWork(running=1, waiting=0, nice=10)
    try:
        nice = await work.run(lambda: os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))
        assert nice == os.getpriority(os.PRIO_PROCESS, 0) + 10 or nice == 19
        # The event loop's own thread keeps its priority.
        assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) != nice
    finally:
        work.close()


async def test_a_reserved_place_counts_until_its_block_ends_and_its_hashes_are_not_refused() -> (
    None
):
    work = BoundedPasswordWork(running=1, waiting=1)
    try:
        with work.reserve() as first, work.reserve() as second:
            # Both places are taken before any hashing: a third request is refused at once.
            assert not work.has_room()
            with pytest.raises(ServiceUnavailableError), work.reserve():
                pass
            with pytest.raises(ServiceUnavailableError):
                await work.run(lambda: True)
            assert await first.run(lambda: 1) == 1
            assert await first.run(lambda: 2) == 2  # a place serves several hashes
            assert await second.run(lambda: 3) == 3
        assert work.has_room()
        with pytest.raises(RuntimeError), work.reserve():
            raise RuntimeError("the request failed")
        assert await work.run(lambda: 4) == 4  # the failed request gave its place back
    finally:
        work.close()


async def test_beyond_the_rate_a_request_is_refused_at_once_until_the_bucket_refills() -> None:
    now = [100.0]
    work = BoundedPasswordWork(running=1, waiting=1, rate=0.5, monotonic=lambda: now[0])
    try:
        assert await work.run(lambda: 1) == 1
        assert await work.run(lambda: 2) == 2  # a burst of running + waiting hashes
        assert not work.has_room()
        with pytest.raises(ServiceUnavailableError) as raised:
            await work.run(lambda: 3)
        # One hash more comes in 2 s at 0.5 per second.
        assert (raised.value.status, raised.value.headers) == (503, {"Retry-After": "2"})
        now[0] += 1.0
        with pytest.raises(ServiceUnavailableError) as raised:
            work.reserve().__enter__()
        assert raised.value.headers == {"Retry-After": "1"}
        now[0] += 1.0
        assert await work.run(lambda: 4) == 4
        assert not work.has_room()
        now[0] += 60.0  # the bucket holds no more than the burst
        assert await work.run(lambda: 5) == 5
        assert await work.run(lambda: 6) == 6
        assert not work.has_room()
    finally:
        work.close()


async def test_an_operators_hash_is_neither_refused_by_nor_counted_against_the_rate() -> None:
    now = [0.0]
    work = BoundedPasswordWork(running=1, waiting=1, rate=0.5, monotonic=lambda: now[0])
    try:
        assert await work.run(lambda: 1) == 1
        assert await work.run(lambda: 2) == 2
        assert not work.has_room()  # sign-ins have spent the bucket
        for n in range(5):
            assert await work.run_for_operator(functools.partial(int, n)) == n
        with pytest.raises(ServiceUnavailableError):
            await work.run(lambda: 3)
        now[0] += 2.0  # one hash at 0.5 per second: nothing was owed for the operator's five
        assert await work.run(lambda: 4) == 4
    finally:
        work.close()


async def test_an_operators_hash_takes_a_place_like_a_sign_in() -> None:
    work = BoundedPasswordWork(running=1, waiting=0)
    try:
        with work.reserve(), pytest.raises(ServiceUnavailableError):
            await work.run_for_operator(lambda: 1)
        assert await work.run_for_operator(lambda: 2) == 2
    finally:
        work.close()


async def test_requests_admitted_together_pay_for_every_hash_they_start() -> None:
    now = [0.0]
    work = BoundedPasswordWork(running=1, waiting=2, rate=1.0, monotonic=lambda: now[0])
    try:
        assert await work.run(lambda: 0) == 0
        assert await work.run(lambda: 0) == 0  # one hash left in the bucket
        with work.reserve() as first, work.reserve() as second:
            assert await first.run(lambda: 1) == 1
            assert await second.run(lambda: 2) == 2  # admitted with the last one: now owing one
        with pytest.raises(ServiceUnavailableError) as raised:
            await work.run(lambda: 3)
        assert raised.value.headers == {"Retry-After": "2"}  # the debt, then one more hash
        now[0] += 2.0
        assert await work.run(lambda: 4) == 4
    finally:
        work.close()


async def test_a_hash_no_thread_takes_up_in_time_is_dropped_and_refused() -> None:
    work = BoundedPasswordWork(running=1, waiting=1, max_wait=0.2)
    release = threading.Event()
    ran: list[str] = []
    try:
        # The one thread is busy past the longest wait: the hash behind it never runs.
        busy = asyncio.ensure_future(work.run(lambda: release.wait(10)))
        await asyncio.sleep(0.05)
        with pytest.raises(ServiceUnavailableError) as raised:
            await work.run(lambda: ran.append("queued"))
        assert raised.value.headers == {"Retry-After": "1"}
        release.set()
        assert await busy is True  # a hash that is running is waited for, however long
        await work.run(lambda: ran.append("later"))
        assert ran == ["later"]
        assert work.has_room()
    finally:
        release.set()
        work.close()


@pytest.mark.parametrize("max_wait", [0.0, 5.0])
async def test_the_hash_of_a_request_that_is_gone_never_runs(max_wait: float) -> None:
    work = BoundedPasswordWork(running=1, waiting=1, max_wait=max_wait)
    release = threading.Event()
    ran: list[str] = []
    try:
        busy = asyncio.ensure_future(work.run(lambda: release.wait(10)))
        await asyncio.sleep(0.05)
        queued = asyncio.ensure_future(work.run(lambda: ran.append("queued")))
        await asyncio.sleep(0.05)
        queued.cancel()
        with pytest.raises(asyncio.CancelledError):
            await queued
        assert work.has_room()  # its place is given back
        release.set()
        assert await busy is True
        await work.run(lambda: ran.append("later"))
        assert ran == ["later"]
    finally:
        release.set()
        work.close()
