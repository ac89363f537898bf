"""Deleting long-dead tokens in small batches, so that a purge never holds refreshes back.

A token is dead once it has expired or been revoked. Retired refresh tokens that are neither
stay: they are what reuse detection recognises (CONTRACT §6).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from ehealth_auth.protocol.errors import ValidationError
from ehealth_auth.protocol.ports import Clock, PurgeStore

DAY = 86_400
DEFAULT_BATCH_SIZE = 500


@dataclass(frozen=True)
class PurgeReport:
    deleted: int
    batches: int
    erased_successors: int


class TokenPurger:
    def __init__(self, store: PurgeStore, clock: Clock, reuse_grace: int) -> None:
        self._store = store
        self._clock = clock
        self._reuse_grace = reuse_grace

    async def purge(
        self, older_than_days: int, batch_size: int = DEFAULT_BATCH_SIZE, pause: float = 0.005
    ) -> PurgeReport:
        if older_than_days < 0:
            raise ValidationError(message="older_than_days: must not be negative")
        if batch_size < 1:
            raise ValidationError(message="batch_size: must be positive")
        erased = await self._store.erase_successor_values(
            self._clock.now_ms() - self._reuse_grace * 1000
        )
        cutoff = self._clock.now() - older_than_days * DAY
        deleted = batches = 0
        while True:
            count = await self._store.delete_dead_tokens(cutoff, batch_size)
            deleted += count
            batches += 1
            if count < batch_size:
                return PurgeReport(deleted, batches, erased)
            # Each batch commits on its own; the pause lets waiting writers in between.
            await asyncio.sleep(pause)
