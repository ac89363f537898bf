"""Adapters for the protocol's hashing and encryption ports."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import math
import os
import secrets
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from ehealth_auth.protocol.errors import ServiceUnavailableError

T = TypeVar("T")


class HmacSecretHasher:
    """HMAC-SHA-256 under the server key.

    Tokens and connection secrets are service-generated with >= 128 bits of entropy, so a keyed
    fast hash is as safe to store as a slow password hash, and costs microseconds per request.
    """

    def __init__(self, key: bytes) -> None:
        # Keyed once: each digest copies the keyed state (the same HMAC, a third of the work).
        self._keyed = hmac.new(key, digestmod=hashlib.sha256)

    def digest(self, value: str) -> bytes:
        mac = self._keyed.copy()
        mac.update(value.encode("utf-8", "surrogatepass"))
        return mac.digest()


class Argon2PasswordHasher:
    """argon2id for user passwords, which people choose."""

    def __init__(self, time_cost: int = 3, memory_kib: int = 65_536, parallelism: int = 4) -> None:
        self._hasher = PasswordHasher(
            time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism
        )

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, password_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False


BUSY_MESSAGE = "Too many sign-ins in progress. Try again shortly."


def _lower_thread_priority(nice: int) -> None:
    """Give the calling thread (and the threads argon2 starts from it) a lower CPU priority.

    On Linux a thread is a task with a nice value of its own, inherited by the threads it
    creates. Elsewhere this is skipped: the bound on concurrent hashes still holds.
    """
    if nice and sys.platform == "linux":
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), nice)


class _Reserved:
    """One admitted request's place in `BoundedPasswordWork`."""

    __slots__ = ("_owner",)

    def __init__(self, owner: BoundedPasswordWork) -> None:
        self._owner = owner

    async def run(self, work: Callable[[], T]) -> T:
        return await self._owner._execute(work)


class BoundedPasswordWork:
    """Password hashing on `running` threads of its own, never on the event loop.

    argon2 takes tens of milliseconds of CPU and releases the GIL; at most `running` hashes run
    at once per process and at most `waiting` more requests hold a place for one. A request
    takes its place (`reserve`) before any other work is done for it, so that when there is none
    it is refused at once (503 with Retry-After), having cost no lookup and no write: a login
    flood can neither pile up nor make the process do database work for logins it refuses.

    `rate` (hashes started per second, 0 for no limit) bounds how much CPU sign-ins may take
    from the process's other requests over time, whatever the scheduler does with `nice`: a
    token bucket holding up to `running + waiting` hashes, refilled at `rate` per second. A
    request is admitted while the bucket holds a whole hash and pays for each hash it starts, so
    simultaneous admissions may leave it owing for a moment; later requests wait for that too.
    An operator's hashing (`run_for_operator`) takes a place but neither waits for nor pays the
    bucket: it is authenticated work, and a bulk of it must not shut sign-ins out afterwards.

    The hashing threads run at `nice` (Linux): when the CPU is short, the process's other
    requests (refresh, verify) come first. So a hash may wait long for a thread: one that no
    thread has taken up within `max_wait` seconds (0: no limit) is dropped and refused (503),
    rather than kept waiting past the client's patience while it holds a place.
    """

    def __init__(
        self,
        running: int = 1,
        waiting: int = 4,
        nice: int = 0,
        rate: float = 0.0,
        max_wait: float = 0.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._executor = ThreadPoolExecutor(
            max_workers=running,
            thread_name_prefix="argon2",
            initializer=_lower_thread_priority,
            initargs=(nice,),
        )
        self._capacity = running + waiting
        self._admitted = 0
        self._rate = rate
        self._max_wait = max_wait
        self._monotonic = monotonic
        self._tokens = float(self._capacity)
        self._filled_at = monotonic()

    def _refill(self) -> None:
        now = self._monotonic()
        self._tokens = min(
            float(self._capacity), self._tokens + (now - self._filled_at) * self._rate
        )
        self._filled_at = now

    def _wait_for_token(self) -> int:
        """Seconds until the bucket holds a whole hash again; 0 when it does (or no rate)."""
        if not self._rate:
            return 0
        self._refill()
        if self._tokens >= 1:
            return 0
        return max(1, math.ceil((1 - self._tokens) / self._rate))

    def has_room(self) -> bool:
        return self._admitted < self._capacity and not self._wait_for_token()

    @contextlib.contextmanager
    def _place(self, *, metered: bool) -> Iterator[None]:
        """A place, refused at once when none is free or (`metered`) the rate allows no hash."""
        if self._admitted >= self._capacity:
            raise ServiceUnavailableError(1, BUSY_MESSAGE)
        wait = self._wait_for_token() if metered else 0
        if wait:
            raise ServiceUnavailableError(wait, BUSY_MESSAGE)
        self._admitted += 1
        try:
            yield
        finally:
            self._admitted -= 1

    @contextlib.contextmanager
    def reserve(self) -> Iterator[_Reserved]:
        with self._place(metered=True):
            yield _Reserved(self)

    async def run(self, work: Callable[[], T]) -> T:
        with self.reserve() as reserved:
            return await reserved.run(work)

    async def run_for_operator(self, work: Callable[[], T]) -> T:
        with self._place(metered=False):
            return await self._execute(work, metered=False)

    async def _execute(self, work: Callable[[], T], *, metered: bool = True) -> T:
        submitted = self._executor.submit(work)
        result = asyncio.wrap_future(submitted)
        if self._max_wait:
            try:
                done, _ = await asyncio.wait({result}, timeout=self._max_wait)
            except asyncio.CancelledError:
                result.cancel()  # a request that is gone leaves no hash waiting behind it
                raise
            # Only a hash that has not started can be dropped; a running one is waited for.
            if not done and submitted.cancel():
                raise ServiceUnavailableError(1, BUSY_MESSAGE)
        if self._rate and metered:
            self._refill()
            self._tokens -= 1  # paid for when it runs (or has run)
        return await result

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


class AesGcmSuccessorCipher:
    """AES-256-GCM under a key derived from the server key, for the successor-token echo."""

    _NONCE_BYTES = 12

    def __init__(self, server_key: bytes) -> None:
        key = HKDF(
            algorithm=SHA256(), length=32, salt=None, info=b"ehealth-auth successor token"
        ).derive(server_key)
        self._aead = AESGCM(key)

    def encrypt(self, value: str, context: bytes) -> bytes:
        nonce = secrets.token_bytes(self._NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, value.encode(), context)

    def decrypt(self, blob: bytes, context: bytes) -> str | None:
        nonce, sealed = blob[: self._NONCE_BYTES], blob[self._NONCE_BYTES :]
        try:
            return self._aead.decrypt(nonce, sealed, context).decode()
        except (InvalidTag, ValueError):
            return None
