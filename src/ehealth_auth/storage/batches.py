"""Calls that arrive while the database is busy go together, as one statement.

A refresh's issuing read is one statement, and most of what it costs PostgreSQL does not depend
on how many items it carries: the round trip, starting the executor on its plan (about a
quarter of its work), the commit and its flush of the write-ahead log. `Batches` sends a call at
once while fewer than `slots` statements are in flight; calls made while all are taken wait,
and the first statement to come back takes every one waiting (at most `most`) into the next.
Under light load nothing waits and every statement carries one item; under heavy load each
carries several, and the per-statement work is shared by them.

Each statement runs in a task of its own, so a caller that goes away (a cancelled request)
takes its item out if it was still waiting, and otherwise leaves the statement to finish for
the others. An error of the statement is every item's error.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


class Batches(Generic[Item, Result]):
    """`run` takes items and returns one result per item, in their order."""

    def __init__(
        self,
        run: Callable[[Sequence[Item]], Awaitable[Sequence[Result]]],
        *,
        slots: int,
        most: int,
        on_send: Callable[[int], None] | None = None,
    ) -> None:
        self._run = run
        self._slots = slots
        self._most = most
        self._on_send = on_send  # told each statement's item count (a metric)
        self._waiting: list[tuple[Item, asyncio.Future[Result]]] = []
        self._in_flight: set[asyncio.Task[None]] = set()

    async def call(self, item: Item) -> Result:
        future: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        self._waiting.append((item, future))
        if len(self._in_flight) < self._slots:
            self._send()
        try:
            return await future
        except asyncio.CancelledError:
            # Still waiting: taken out. In flight: its statement goes on for the others.
            self._waiting = [entry for entry in self._waiting if entry[1] is not future]
            raise

    def _send(self) -> None:
        batch, self._waiting = self._waiting[: self._most], self._waiting[self._most :]
        if self._on_send is not None:
            self._on_send(len(batch))
        task = asyncio.get_running_loop().create_task(self._statement(batch))
        self._in_flight.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._in_flight.discard(task)
        if self._waiting and len(self._in_flight) < self._slots:
            self._send()

    async def _statement(self, batch: list[tuple[Item, asyncio.Future[Result]]]) -> None:
        try:
            results = await self._run([item for item, _ in batch])
            if len(results) != len(batch):
                raise RuntimeError(f"{len(results)} results for {len(batch)} items")
        except asyncio.CancelledError:
            for _, future in batch:
                future.cancel()
            raise
        except Exception as error:
            for _, future in batch:
                if not future.done():
                    future.set_exception(error)
            return
        for (_, future), result in zip(batch, results, strict=True):
            if not future.done():
                future.set_result(result)
