"""Adapters for the protocol's hashing and encryption ports."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import os
import secrets
import sys
import threading
from collections.abc import Callable
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
        self._key = key

    def digest(self, value: str) -> bytes:
        return hmac.new(self._key, value.encode("utf-8", "surrogatepass"), hashlib.sha256).digest()


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


class BoundedPasswordWork:
    """Password hashing on `running` threads of its own, never on the event loop.

    argon2 takes tens of milliseconds of CPU and releases the GIL; at most `running` hashes run
    at once per process and at most `waiting` more wait for a thread. Beyond that the work is
    refused at once (503 with Retry-After) rather than queued without limit, so a login flood
    cannot pile up. The hashing threads run at `nice` (Linux): when the CPU is short, the
    process's other requests (refresh, verify) come first.
    """

    def __init__(self, running: int = 1, waiting: int = 4, nice: int = 0) -> None:
        self._executor = ThreadPoolExecutor(
            max_workers=running,
            thread_name_prefix="argon2",
            initializer=_lower_thread_priority,
            initargs=(nice,),
        )
        self._capacity = running + waiting
        self._admitted = 0

    def has_room(self) -> bool:
        return self._admitted < self._capacity

    async def run(self, work: Callable[[], T]) -> T:
        if not self.has_room():
            raise ServiceUnavailableError(1, BUSY_MESSAGE)
        self._admitted += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(self._executor, work)
        finally:
            self._admitted -= 1

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
