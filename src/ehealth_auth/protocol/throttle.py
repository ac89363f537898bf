"""Throttling of online guessing: failed client authentications and failed logins (CONTRACT §7).

Failures are counted in fixed windows of `window` seconds under three keys:

- the source address (every kind of failure from it, every target),
- the pair (source address, target): one address guessing at one client or account,
- the target (a client id, an account) over every address.

Past a key's limit, attempts on it are answered `429 too_many_requests` with `Retry-After` (the
rest of the window), before any expensive work. A failure that would take a key past its limit
is not counted anywhere: so one address adds at most `pair` failures per window to its target's
count, and the target's limit, set higher, is never reached from a single address. The honest
party at another address is served while the attacker's address is refused.

The counters live in the database, shared by every process and host. Each process keeps a view
of the counts that are worth refusing on, updated by its own failures at once and re-read from
the database at most every `sync_ms`, so that a request with good credentials costs no database
round trip for throttling.
"""

from __future__ import annotations

import functools
from types import TracebackType

from ehealth_auth.protocol.errors import InvalidClientError, TooManyRequestsError
from ehealth_auth.protocol.policy import ThrottleLimits
from ehealth_auth.protocol.ports import Clock, FailureCounters, SecretHasher
from ehealth_auth.protocol.records import CounterKey

# Keys kept per throttle (a few hundred kB), and the longest presented client id kept among them.
KEY_CACHE_SIZE = 4096
MAX_CACHED_ID = 64
CLIENT_MESSAGE = "Too many failed client authentications. Try again later."
LOGIN_MESSAGE = "Too many failed login attempts. Try again later."


class ClientAuthenticationError(InvalidClientError):
    """No connection of the client has the presented secret (or there is no such client).

    The answer is the same as any `invalid_client`; the type tells the throttle to count it.
    """


class ThrottleView:
    """This process's view of the shared counts that may refuse a request.

    Re-read from the database at most every `sync_ms` (by the request that finds it stale, while
    the others go on with the view they have), and purged of ended windows at most once a
    `purge_every` seconds.
    """

    def __init__(
        self, counters: FailureCounters, clock: Clock, sync_ms: int, floor: int, purge_every: int
    ) -> None:
        self.counters = counters
        self._clock = clock
        self._sync_ms = sync_ms
        self._floor = floor
        self._purge_every = purge_every
        self._counts: dict[bytes, tuple[int, int]] = {}  # key -> (expires_at, failures)
        self._synced_ms: int | None = None
        self._purged_at: int | None = None
        self._syncing = False

    def failures(self, key: bytes, now: int) -> tuple[int, int]:
        """(failures, expires_at) of the key's current window as far as this process knows."""
        expires_at, failures = self._counts.get(key, (0, 0))
        return (failures, expires_at) if expires_at > now else (0, 0)

    def note(self, counts: dict[bytes, int], expires_at: int) -> None:
        for key, failures in counts.items():
            if failures >= self._floor:
                self._counts[key] = (expires_at, failures)
            else:
                self._counts.pop(key, None)

    async def refresh_if_stale(self) -> None:
        now_ms = self._clock.now_ms()
        fresh = self._synced_ms is not None and now_ms - self._synced_ms < self._sync_ms
        if fresh or self._syncing:
            return
        self._syncing = True
        try:
            now = self._clock.now()
            if self._purged_at is None or now - self._purged_at >= self._purge_every:
                self._purged_at = now
                await self.counters.purge(now)
            live = await self.counters.at_least(now, self._floor)
            self._counts = {row.key: (row.expires_at, row.failures) for row in live}
            self._synced_ms = now_ms
        finally:
            self._syncing = False


class FailureThrottle:
    """Counts one kind of failure (`kind`: "client" or "login") per source, pair and target."""

    def __init__(
        self,
        kind: str,
        limits: ThrottleLimits,
        view: ThrottleView,
        hasher: SecretHasher,
        clock: Clock,
        message: str,
    ) -> None:
        self._kind = kind
        self._limits = limits
        self._view = view
        self._hasher = hasher
        self._clock = clock
        self._message = message
        # Every attempt of a known client from a known address needs the same three keys (three
        # keyed hashes): the latest few thousand pairs are kept.
        self.keys = functools.lru_cache(maxsize=KEY_CACHE_SIZE)(self._keys)

    def _keys(self, source: str, target: bytes) -> tuple[CounterKey, CounterKey, CounterKey]:
        """Source, pair and target counters; `target` is already a keyed digest."""
        limits = self._limits
        source_key = self._hasher.digest("throttle-source:" + source)
        pair_key = self._hasher.digest(f"throttle-{self._kind}-pair:{source}:{target.hex()}")
        return (
            CounterKey(source_key, None, limits.source),
            CounterKey(pair_key, target, limits.pair),
            CounterKey(target, target, limits.target),
        )

    def _window(self, now: int) -> tuple[int, int]:
        start = now - now % self._limits.window
        return start, start + self._limits.window

    async def check(self, source: str, target: bytes) -> None:
        """Refuse (429) when a counter of this attempt is at its limit; no database round trip
        unless this process's view is due for a refresh."""
        await self._view.refresh_if_stale()
        now = self._clock.now()
        for counter in self.keys(source, target):
            failures, expires_at = self._view.failures(counter.key, now)
            if failures >= counter.limit:
                raise TooManyRequestsError(expires_at - now, self._message)

    async def count(self, source: str, target: bytes) -> None:
        """Count one failure, or an attempt ahead of its expensive check (a login: then
        simultaneous attempts cannot pass the limits; `succeeded` takes it back). When that
        takes a counter past its limit, take it back everywhere and refuse (429)."""
        keys = self.keys(source, target)
        now = self._clock.now()
        start, end = self._window(now)
        counts = await self._view.counters.add(keys, start, end, 1)
        over = [key for key in keys if counts.get(key.key, 0) > key.limit]
        if over:
            counts = await self._view.counters.add(keys, start, end, -1)
            self._view.note(counts, end)
            raise TooManyRequestsError(end - now, self._message)
        self._view.note(counts, end)

    async def take_back(self, source: str, target: bytes) -> None:
        """Uncount an attempt counted ahead of a check that did not happen."""
        keys = self.keys(source, target)
        start, end = self._window(self._clock.now())
        self._view.note(await self._view.counters.add(keys, start, end, -1), end)

    async def succeeded(self, source: str, target: bytes) -> None:
        source_key, pair_key, target_key = self.keys(source, target)
        start, end = self._window(self._clock.now())
        await self._view.counters.settle((source_key, target_key), pair_key.key, start)
        self._view.note({pair_key.key: 0}, end)


class ClientAuthThrottle:
    """Throttle of client authentication, for every endpoint that checks a client's secret.

    Wrap the authentication (or the whole grant) in `authenticating(source, client_id)`: it
    refuses (429) a source, client or pair at its limit before the work, and counts a
    `ClientAuthenticationError` raised inside (answering 429 instead when it is one too many).
    """

    def __init__(self, throttle: FailureThrottle, hasher: SecretHasher) -> None:
        self._throttle = throttle
        self._hasher = hasher
        self._target = functools.lru_cache(maxsize=KEY_CACHE_SIZE)(self._target_of)

    def target(self, client_id: object) -> bytes:
        presented = client_id.strip().lower() if isinstance(client_id, str) else ""
        if len(presented) > MAX_CACHED_ID:  # not a client id: not worth keeping in memory
            return self._target_of(presented)
        return self._target(presented)

    def _target_of(self, presented: str) -> bytes:
        return self._hasher.digest("throttle-client:" + presented)

    def authenticating(self, source: str, client_id: object) -> AuthenticationAttempt:
        return AuthenticationAttempt(self._throttle, source, self.target(client_id))


class AuthenticationAttempt:
    """`ClientAuthThrottle.authenticating`: checks on entry, counts a failed authentication on
    exit (a plain context manager: it runs around every refresh)."""

    __slots__ = ("_source", "_target", "_throttle")

    def __init__(self, throttle: FailureThrottle, source: str, target: bytes) -> None:
        self._throttle = throttle
        self._source = source
        self._target = target

    async def __aenter__(self) -> None:
        await self._throttle.check(self._source, self._target)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if isinstance(exc, ClientAuthenticationError):
            await self._throttle.count(self._source, self._target)
