"""BoundedPasswordWork: password hashing on threads of its own, a bounded number at once, and a
quick refusal beyond that (no unbounded queue)."""

from __future__ import annotations

import asyncio
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
