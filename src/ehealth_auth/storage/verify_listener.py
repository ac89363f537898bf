"""The verify cache's invalidation feed on PostgreSQL: `LISTEN ehealth_auth_verify`.

Triggers (migration 0007) send the hex value hash of an access token whose row changed in a way
that could change its verify answer, or `*` (flush) when a user, client, approval or connection
changed. Each worker process holds one dedicated connection for it.

The cache is trusted only while this feed is provably live:
- it is flushed and stops answering the moment the connection is lost (termination callback) or
  a heartbeat fails, and stays so until `LISTEN` is in place again on a new connection;
- a heartbeat (`SELECT 1`) every `heartbeat` seconds proves that every notification committed
  before it started has been delivered (PostgreSQL sends pending notifications before a query's
  reply); the cache answers only up to `max_lag` seconds after the latest proof, so a silently
  stalled connection cannot keep stale answers beyond that bound either.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

import asyncpg  # type: ignore[import-untyped]

from ehealth_auth.storage.verify_cache import VerifyResultCache

CHANNEL = "ehealth_auth_verify"
FLUSH = "*"
APPLICATION_NAME = "ehealth-auth verify-cache listener"
# Seconds between heartbeats, and how long after the latest one the cache may still answer:
# together they keep a missed revocation from being served more than MAX_LAG seconds.
HEARTBEAT = 0.2
MAX_LAG = 0.8
# Seconds a shutdown waits for the feed to stop.
STOP_LIMIT = 5.0

_log = logging.getLogger(__name__)


class VerifyInvalidationListener:
    def __init__(
        self,
        dsn: str,
        cache: VerifyResultCache,
        heartbeat: float = HEARTBEAT,
        retry: float = 0.5,
        max_retry: float = 5.0,
        stop_limit: float = STOP_LIMIT,
    ) -> None:
        self._dsn = dsn
        self._cache = cache
        self._heartbeat = heartbeat
        self._retry = retry
        self._max_retry = max_retry
        self._stop_limit = stop_limit
        self._delay = retry
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        """Stop the feed, waiting at most `stop_limit` seconds for it: a process's shutdown
        never hangs on it."""
        task, self._task = self._task, None
        self._cache.feed_down()
        if task is None:
            return
        task.cancel()
        done, _ = await asyncio.wait({task}, timeout=self._stop_limit)
        if not done:
            _log.warning("verify cache feed did not stop within %g s; leaving it", self._stop_limit)
        elif not task.cancelled() and task.exception() is not None:
            _log.warning("verify cache feed ended with %s", type(task.exception()).__name__)

    async def _run(self) -> None:
        while True:
            try:
                await self._session()
            except Exception as exc:
                # The feed outlives any failure; the cache stays off until it is back.
                # The exception's type only: a driver's message can quote connection parameters.
                _log.warning("verify cache feed lost (%s); retrying", type(exc).__name__)
            self._cache.feed_down()
            await asyncio.sleep(self._delay)
            self._delay = min(self._delay * 2, self._max_retry)

    async def _session(self) -> None:
        connection = await asyncpg.connect(
            self._dsn, timeout=5, server_settings={"application_name": APPLICATION_NAME}
        )
        lost = asyncio.Event()

        def on_lost(_connection: Any) -> None:
            self._cache.feed_down()
            lost.set()

        connection.add_termination_listener(on_lost)
        try:
            listening_from = time.monotonic()
            await connection.add_listener(CHANNEL, self._on_notification)
            self._cache.feed_up(listening_from)
            self._delay = self._retry
            _log.info("verify cache feed listening")
            # asyncio.timeout, not wait_for: on Python 3.11, wait_for can swallow the stop's
            # cancellation when it lands as the awaited step finishes, and the feed runs on.
            while not lost.is_set():
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self._heartbeat):
                        await lost.wait()
                    break
                started = time.monotonic()
                async with asyncio.timeout(5 * self._heartbeat + 1):
                    await connection.fetchval("SELECT 1")
                self._cache.confirm(started)
        finally:
            self._cache.feed_down()
            connection.terminate()

    def _on_notification(self, _connection: Any, _pid: int, _channel: str, payload: str) -> None:
        if payload == FLUSH:
            self._cache.flush()
            return
        try:
            value_hash = bytes.fromhex(payload)
        except ValueError:
            self._cache.flush()  # not ours to understand: the safe reading is "anything changed"
            return
        self._cache.invalidate(value_hash)
