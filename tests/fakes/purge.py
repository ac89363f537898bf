"""The purge's store port."""

from __future__ import annotations

from tests.fakes.database import FakeDatabase


class FakePurgeStore:
    """The PurgeStore port, mirroring `SqlPurgeStore`; remembers the size of each batch."""

    def __init__(self, db: FakeDatabase) -> None:
        self.db = db
        self.batches: list[int] = []
        self.erase_calls: list[int] = []

    async def delete_dead_tokens(self, cutoff: int, limit: int) -> int:
        dead = [
            token_id
            for token_id, row in self.db.tokens.items()
            if row.token.expires_at < cutoff
            or (row.revoked_at is not None and row.revoked_at < cutoff)
        ][:limit]
        for token_id in dead:
            del self.db.tokens[token_id]
        self.batches.append(len(dead))
        return len(dead)

    async def erase_successor_values(self, retired_before_ms: int) -> int:
        self.erase_calls.append(retired_before_ms)
        count = 0
        for row in self.db.tokens.values():
            if (
                row.successor_value_enc is not None
                and row.retired_at_ms is not None
                and row.retired_at_ms < retired_before_ms
            ):
                row.successor_value_enc = None
                count += 1
        return count
