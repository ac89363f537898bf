"""The in-process cache of verify contexts (protocol/verify.py's `VerifyCache`).

Bounds, each on its own enough to keep memory and staleness finite:
- `max_entries`: a least-recently-used entry is evicted when a new one would exceed it;
- an entry is dropped once its token's `expires_at` has passed, and `ttl` seconds after it was
  stored whatever happens (a safety net: invalidation is the events, see verify_listener.py);
- the cache answers only while its invalidation feed is confirmed live: `confirm()` is called
  when the feed proves that every change committed before a given moment has been delivered,
  and entries are served only up to `max_lag` seconds after the latest such moment.

Every invalidation (one token, a flush, the feed going down or up) advances the generation, so a
store read that started before it cannot be put afterwards (see `VerifyCache.ticket`).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import NamedTuple

from ehealth_auth.protocol.model import VerifyContext


class _Entry(NamedTuple):
    context: VerifyContext
    drop_at: float  # monotonic seconds: stored + ttl
    expires_at: int  # the token's own expiry, Unix seconds


class VerifyResultCache:
    def __init__(
        self,
        max_entries: int,
        ttl: float,
        max_lag: float,
        monotonic: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self._entries: OrderedDict[bytes, _Entry] = OrderedDict()
        self._max_entries = max_entries
        self._ttl = ttl
        self._max_lag = max_lag
        self._monotonic = monotonic
        self._wall = wall
        self._generation = 0
        self._live = False
        self._confirmed_at = float("-inf")

    def __len__(self) -> int:
        return len(self._entries)

    def _trusted(self) -> bool:
        return self._live and self._monotonic() - self._confirmed_at < self._max_lag

    def ticket(self) -> int | None:
        return self._generation if self._trusted() else None

    def get(self, value_hash: bytes) -> VerifyContext | None:
        entry = self._entries.get(value_hash)
        if entry is None:
            return None
        if not self._trusted():
            return None
        if entry.drop_at <= self._monotonic() or entry.expires_at <= self._wall():
            del self._entries[value_hash]
            return None
        self._entries.move_to_end(value_hash)
        return entry.context

    def put(self, value_hash: bytes, context: VerifyContext, ticket: int) -> None:
        if ticket != self._generation or not self._trusted():
            return
        entries = self._entries
        entries[value_hash] = _Entry(context, self._monotonic() + self._ttl, context.expires_at)
        entries.move_to_end(value_hash)
        while len(entries) > self._max_entries:
            entries.popitem(last=False)

    # The invalidation feed's side.

    def invalidate(self, value_hash: bytes) -> None:
        self._generation += 1
        self._entries.pop(value_hash, None)

    def flush(self) -> None:
        self._generation += 1
        self._entries.clear()

    def feed_up(self, confirmed_at: float) -> None:
        """The feed is listening again: nothing cached before is trusted, start afresh."""
        self.flush()
        self._live = True
        self._confirmed_at = confirmed_at

    def feed_down(self) -> None:
        """Changes may be missed from now on: forget everything and stop answering."""
        self._live = False
        self.flush()

    def confirm(self, confirmed_at: float) -> None:
        """Every change committed before `confirmed_at` (monotonic) has been delivered."""
        self._confirmed_at = max(self._confirmed_at, confirmed_at)
