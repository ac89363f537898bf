"""Adapters for the protocol's hashing ports, and the wall clock."""

from __future__ import annotations

import hashlib
import hmac
import time

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError


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

    def __init__(self) -> None:
        self._hasher = PasswordHasher()

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, password_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False


class SystemClock:
    def now(self) -> int:
        return int(time.time())
