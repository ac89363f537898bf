"""Stand-ins for the service's hashers, successor cipher and password work."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
from collections.abc import Callable, Iterator
from typing import TypeVar

from ehealth_auth.protocol.errors import ServiceUnavailableError

T = TypeVar("T")


def sha256(value: str) -> bytes:
    return hashlib.sha256(value.encode("utf-8")).digest()


class Sha256SecretHasher:
    """Unkeyed SHA-256: deterministic, so tests can compute the digest a store should hold."""

    def digest(self, value: str) -> bytes:
        return sha256(value)


class FakeSuccessorCipher:
    """A toy authenticated cipher: a keystream XOR plus a MAC over context and ciphertext.

    Not secure, but it has the two properties the grant relies on: the blob does not contain
    the plain value, and a blob opened under another context (or altered) yields None.
    """

    _KEY = b"fake-successor-cipher"
    _TAG_BYTES = 32

    def _keystream(self, context: bytes, length: int) -> bytes:
        stream = b""
        counter = 0
        while len(stream) < length:
            stream += hashlib.sha256(self._KEY + context + counter.to_bytes(4, "big")).digest()
            counter += 1
        return stream[:length]

    def _tag(self, context: bytes, body: bytes) -> bytes:
        return hmac.new(self._KEY, context + body, hashlib.sha256).digest()

    def encrypt(self, value: str, context: bytes) -> bytes:
        plain = value.encode("utf-8")
        body = bytes(
            a ^ b for a, b in zip(plain, self._keystream(context, len(plain)), strict=True)
        )
        return self._tag(context, body) + body

    def decrypt(self, blob: bytes, context: bytes) -> str | None:
        tag, body = blob[: self._TAG_BYTES], blob[self._TAG_BYTES :]
        if not hmac.compare_digest(tag, self._tag(context, body)):
            return None
        stream = self._keystream(context, len(body))
        return bytes(a ^ b for a, b in zip(body, stream, strict=True)).decode("utf-8")


class FakePasswordHasher:
    """A one-way stand-in for argon2: the hash never contains the password."""

    PREFIX = "fake-sha256$"

    def hash(self, password: str) -> str:
        return self.PREFIX + sha256(password).hex()

    def verify(self, password_hash: str, password: str) -> bool:
        return password_hash == self.PREFIX + sha256(password).hex()


class RecordingPasswordHasher(FakePasswordHasher):
    """A FakePasswordHasher that remembers its work: what it hashed, which hashes it checked."""

    def __init__(self) -> None:
        self.hashed: list[str] = []
        self.verified: list[str] = []

    def hash(self, password: str) -> str:
        self.hashed.append(password)
        return super().hash(password)

    def verify(self, password_hash: str, password: str) -> bool:
        self.verified.append(password_hash)
        return super().verify(password_hash, password)


class InlinePasswordWork:
    """PasswordWork that runs the work in place and counts it; `full` makes it refuse places,
    `refuse` makes it refuse the work in a place taken (no thread took it up in time)."""

    def __init__(self) -> None:
        self.runs = 0
        self.full = False
        self.refuse = False
        self.reserved = 0  # places held now

    def has_room(self) -> bool:
        return not self.full

    @contextlib.contextmanager
    def reserve(self) -> Iterator[InlinePasswordWork]:
        if self.full:
            raise ServiceUnavailableError(1, "Too many sign-ins in progress. Try again shortly.")
        self.reserved += 1
        try:
            yield self
        finally:
            self.reserved -= 1

    async def run_for_operator(self, work: Callable[[], T]) -> T:
        return await self.run(work)

    async def run(self, work: Callable[[], T]) -> T:
        if self.refuse:
            raise ServiceUnavailableError(1, "Too many sign-ins in progress. Try again shortly.")
        self.runs += 1
        return work()
