"""The throttle's shared failure counters."""

from __future__ import annotations

from collections.abc import Sequence

from ehealth_auth.protocol.records import CounterKey, LiveCount
from tests.fakes.database import FailureRow, FakeDatabase


class FakeFailureCounters:
    """The FailureCounters port over `FakeDatabase.auth_failures`, like SqlFailureCounters."""

    def __init__(self, db: FakeDatabase) -> None:
        self.db = db

    async def add(
        self, keys: Sequence[CounterKey], window_start: int, expires_at: int, delta: int
    ) -> dict[bytes, int]:
        counts = {}
        for key in keys:
            row = self.db.auth_failures.setdefault(
                (key.key, window_start), FailureRow(key.target, 0, expires_at)
            )
            row.failures += delta
            counts[key.key] = row.failures
        return counts

    async def settle(self, refund: Sequence[CounterKey], forget: bytes, window_start: int) -> None:
        for key in refund:
            row = self.db.auth_failures.get((key.key, window_start))
            if row is not None and row.failures > 0:
                row.failures -= 1
            if row is not None and row.failures <= 0:
                del self.db.auth_failures[(key.key, window_start)]
        self.db.auth_failures.pop((forget, window_start), None)

    async def at_least(self, now: int, failures: int) -> list[LiveCount]:
        return [
            LiveCount(key, row.expires_at, row.failures)
            for (key, _), row in self.db.auth_failures.items()
            if row.expires_at > now and row.failures >= failures
        ]

    async def purge(self, now: int) -> int:
        ended = [key for key, row in self.db.auth_failures.items() if row.expires_at <= now]
        for key in ended:
            del self.db.auth_failures[key]
        return len(ended)
