"""Calls that wait while every slot is busy go together in the next statement."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from ehealth_auth.storage.batches import Batches


class Statements:
    """A `run` whose statements finish when the test says so; it records every batch."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.gates: list[asyncio.Event] = []
        self.fail: Exception | None = None

    async def run(self, items: Sequence[int]) -> list[str]:
        self.batches.append(list(items))
        gate = asyncio.Event()
        self.gates.append(gate)
        await gate.wait()
        if self.fail is not None:
            raise self.fail
        return [f"answer {item}" for item in items]

    def finish(self, number: int) -> None:
        self.gates[number].set()


async def _settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_calls_go_at_once_while_a_slot_is_free() -> None:
    statements = Statements()
    batches = Batches(statements.run, slots=2, most=10)

    first = asyncio.create_task(batches.call(1))
    second = asyncio.create_task(batches.call(2))
    await _settle()

    assert statements.batches == [[1], [2]]
    statements.finish(0)
    statements.finish(1)
    assert await first == "answer 1"
    assert await second == "answer 2"


async def test_calls_made_while_the_slots_are_busy_go_together_in_the_next() -> None:
    statements = Statements()
    sent: list[int] = []
    batches = Batches(statements.run, slots=1, most=10, on_send=sent.append)

    calls = [asyncio.create_task(batches.call(item)) for item in range(1, 6)]
    await _settle()
    assert statements.batches == [[1]]

    statements.finish(0)
    await _settle()
    assert statements.batches == [[1], [2, 3, 4, 5]]
    statements.finish(1)
    assert await asyncio.gather(*calls) == [f"answer {item}" for item in range(1, 6)]
    assert sent == [1, 4]


async def test_a_statement_carries_at_most_most_items() -> None:
    statements = Statements()
    batches = Batches(statements.run, slots=1, most=2)

    calls = [asyncio.create_task(batches.call(item)) for item in range(1, 6)]
    await _settle()
    for number in range(3):
        statements.finish(number)
        await _settle()

    assert await asyncio.gather(*calls) == [f"answer {item}" for item in range(1, 6)]
    assert statements.batches == [[1], [2, 3], [4, 5]]


async def test_an_error_of_the_statement_is_every_items_error() -> None:
    statements = Statements()
    batches = Batches(statements.run, slots=1, most=10)
    statements.fail = ConnectionError("gone")

    calls = [asyncio.create_task(batches.call(item)) for item in range(1, 4)]
    await _settle()
    statements.finish(0)
    await _settle()
    statements.finish(1)
    outcomes = await asyncio.gather(*calls, return_exceptions=True)

    assert statements.batches == [[1], [2, 3]]
    assert [type(outcome) for outcome in outcomes] == [ConnectionError] * 3


@pytest.mark.parametrize("in_flight", [False, True], ids=["waiting", "in-flight"])
async def test_a_call_that_goes_away_costs_the_others_nothing(in_flight: bool) -> None:
    """Waiting, it is taken out of the next statement; in flight, the statement goes on."""
    statements = Statements()
    batches = Batches(statements.run, slots=1, most=10)
    first = asyncio.create_task(batches.call(1))
    leaving = asyncio.create_task(batches.call(2))
    staying = asyncio.create_task(batches.call(3))
    await _settle()

    if in_flight:
        statements.finish(0)
        await _settle()
    leaving.cancel()
    await _settle()
    if not in_flight:
        statements.finish(0)
        await _settle()
    statements.finish(1)

    assert statements.batches == [[1], [2, 3] if in_flight else [3]]
    assert (await first, await staying) == ("answer 1", "answer 3")
    with pytest.raises(asyncio.CancelledError):
        await leaving


async def test_a_statement_that_answers_fewer_items_than_it_took_is_an_error() -> None:
    async def short(items: Sequence[int]) -> list[str]:
        return [f"answer {item}" for item in items][1:]

    batches = Batches(short, slots=1, most=10)

    with pytest.raises(RuntimeError, match="0 results for 1 items"):
        await batches.call(1)
