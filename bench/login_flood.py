"""The login flood beside a refresh run, and how many guesses get through before throttling.

`Flood` offers wrong-password logins at a fixed rate from a thread of its own, each for a new
email and from a new forwarded address (the service trusts 127.0.0.1 as a proxy in this
scenario), so neither the per-address nor the per-account limit stops it: every request reaches
the password check, which is what the scenario measures. `measure_guessing` sends wrong secrets
(or passwords) from one address as fast as it can and counts what was checked (401) and what
was refused before any check (429).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson

from bench.wrk import LoadResult

STOP_GRACE_S = 15.0
REQUEST_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class FloodOutcome:
    rate: float  # offered, requests per second
    offered: int
    elapsed_s: float
    statuses: dict[str, int] = field(default_factory=dict)  # "401", "503", "error", ...

    def as_dict(self) -> dict[str, Any]:
        return {
            "rate": self.rate,
            "offered": self.offered,
            "elapsed_s": self.elapsed_s,
            "statuses": self.statuses,
        }


def combine_floods(outcomes: Sequence[FloodOutcome]) -> FloodOutcome:
    """The floods of several rounds as one: their requests and answers added up."""
    statuses: Counter[str] = Counter()
    for outcome in outcomes:
        statuses.update(outcome.statuses)
    return FloodOutcome(
        rate=outcomes[0].rate,
        offered=sum(outcome.offered for outcome in outcomes),
        elapsed_s=round(sum(outcome.elapsed_s for outcome in outcomes), 2),
        statuses=dict(sorted(statuses.items())),
    )


def _login_body(client_id: str, number: int) -> bytes:
    return orjson.dumps(
        {
            "token": {
                "grant_type": "password",
                "email": f"flood-{number}@example.org",
                "password": "not-the-password",
                "client_id": client_id,
                "scope": "a",
            }
        }
    )


def _address(number: int) -> str:
    return f"10.{(number >> 16) & 255}.{(number >> 8) & 255}.{number & 255}"


class _Connection:
    """One keep-alive HTTP/1.1 connection that sends a request and reads its status and body.

    The flood shares the host's CPUs with the server it measures, so it is written on asyncio's
    streams rather than a general HTTP client: a request costs it tens of microseconds, not
    milliseconds, and the flood takes little from the server beyond the requests themselves.
    """

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    async def exchange(self, request: bytes) -> tuple[int, bool]:
        """The answer's status, and whether the connection may be used again."""
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        length, reusable = 0, True
        for line in lines[1:]:
            name, _, value = line.partition(":")
            name = name.strip().lower()
            if name == "content-length":
                length = int(value)
            elif name == "connection" and value.strip().lower() == "close":
                reusable = False
        await self.reader.readexactly(length)
        return status, reusable

    def close(self) -> None:
        self.writer.close()


class Flood:
    """Wrong-password logins at `rate` per second until `stop()`."""

    def __init__(self, base_url: str, client_id: str, rate: int) -> None:
        url = urlsplit(f"{base_url}/auth/login")
        self._host = url.hostname or "127.0.0.1"
        self._port = url.port or 80
        self._path = url.path
        self._client_id = client_id
        self._rate = rate
        self._stop = threading.Event()
        self._statuses: Counter[str] = Counter()
        self._offered = 0
        self._elapsed = 0.0
        self._idle: list[_Connection] = []
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> FloodOutcome:
        self._stop.set()
        self._thread.join(STOP_GRACE_S + 5)
        return FloodOutcome(
            rate=float(self._rate),
            offered=self._offered,
            elapsed_s=round(self._elapsed, 2),
            statuses=dict(sorted(self._statuses.items())),
        )

    def _request(self, number: int) -> bytes:
        body = _login_body(self._client_id, number)
        head = (
            f"POST {self._path} HTTP/1.1\r\n"
            f"Host: {self._host}:{self._port}\r\n"
            "Content-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n"
            f"X-Forwarded-For: {_address(number)}\r\n\r\n"
        )
        return head.encode() + body

    async def _one(self, number: int) -> None:
        connection = self._idle.pop() if self._idle else None
        try:
            if connection is None:
                connection = _Connection(*await asyncio.open_connection(self._host, self._port))
            status, reusable = await asyncio.wait_for(
                connection.exchange(self._request(number)), REQUEST_TIMEOUT_S
            )
            self._statuses[str(status)] += 1
        except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError):
            self._statuses["error"] += 1
            reusable = False
        if connection is not None:
            if reusable:
                self._idle.append(connection)
            else:
                connection.close()

    async def _main(self) -> None:
        started = time.monotonic()
        pending: set[asyncio.Task[None]] = set()
        while not self._stop.is_set():
            due = started + self._offered / self._rate
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
                continue
            task = asyncio.create_task(self._one(self._offered))
            pending.add(task)
            task.add_done_callback(pending.discard)
            self._offered += 1
        self._elapsed = time.monotonic() - started
        if pending:
            await asyncio.wait(pending, timeout=STOP_GRACE_S)
        for connection in self._idle:
            connection.close()


@dataclass(frozen=True)
class GuessOutcome:
    """Guesses from one address for `elapsed_s`: checked (401) and refused unchecked (429)."""

    what: str
    elapsed_s: float
    statuses: dict[str, int]

    @property
    def checked(self) -> int:
        return self.statuses.get("401", 0)

    @property
    def refused(self) -> int:
        return self.statuses.get("429", 0)

    def as_dict(self) -> dict[str, Any]:
        return {
            "what": self.what,
            "elapsed_s": self.elapsed_s,
            "statuses": self.statuses,
            "checked": self.checked,
            "refused": self.refused,
        }


async def _guess(url: str, body: dict[str, Any], seconds: float, concurrency: int) -> Counter[str]:
    statuses: Counter[str] = Counter()
    deadline = time.monotonic() + seconds

    async def worker(client: httpx.AsyncClient) -> None:
        while time.monotonic() < deadline:
            try:
                statuses[str((await client.post(url, json=body)).status_code)] += 1
            except httpx.HTTPError:
                statuses["error"] += 1

    async with httpx.AsyncClient(timeout=10) as client:
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
    return statuses


def measure_guessing(
    what: str, url: str, body: dict[str, Any], seconds: float, concurrency: int = 16
) -> GuessOutcome:
    started = time.monotonic()
    statuses = asyncio.run(_guess(url, body, seconds, concurrency))
    return GuessOutcome(what, round(time.monotonic() - started, 2), dict(sorted(statuses.items())))


def _ratio(during: float, alone: float) -> float:
    return during / alone if alone else float("inf")


@dataclass(frozen=True)
class LoginFloodResult:
    backend: str
    backend_label: str
    scenario: str
    title: str
    alone: LoadResult
    during: LoadResult
    flood: FloodOutcome
    guesses: tuple[GuessOutcome, ...]
    # (alone, during) of each round, measured one after the other: how noisy the host was.
    rounds: tuple[tuple[LoadResult, LoadResult], ...] = ()
    min_throughput: float = 0.8
    max_p99: float = 2.0

    @property
    def throughput_ratio(self) -> float:
        rate = self.alone.requests_per_s
        return self.during.requests_per_s / rate if rate else 0.0

    @property
    def p99_ratio(self) -> float:
        p99 = self.alone.p99_ms
        return self.during.p99_ms / p99 if p99 else float("inf")

    @property
    def problems(self) -> list[str]:
        found = []
        if self.alone.errors or self.during.errors:
            found.append(f"{self.alone.errors + self.during.errors} refresh errors")
        if self.flood.statuses.get("error") or self.flood.statuses.get("500"):
            found.append("flood requests failed")
        return found

    def verdict(self) -> str:
        misses = [*self.problems]
        if self.throughput_ratio < self.min_throughput:
            misses.append(f"throughput {self.throughput_ratio:.2f}x < {self.min_throughput}x")
        if self.p99_ratio > self.max_p99:
            misses.append(f"p99 {self.p99_ratio:.2f}x > {self.max_p99}x")
        return "not met: " + ", ".join(misses) if misses else "met"

    def as_dict(self) -> dict[str, Any]:
        return {
            "backend": self.backend,
            "scenario": self.scenario,
            "title": self.title,
            "refresh_alone": self.alone.as_dict(),
            "refresh_during_flood": self.during.as_dict(),
            "flood": self.flood.as_dict(),
            "ratios": {
                "throughput": round(self.throughput_ratio, 3),
                "p99": round(self.p99_ratio, 3) if self.alone.p99_ms else None,
            },
            "goal": self.verdict(),
            "rounds": [
                {
                    "alone": alone.as_dict(),
                    "during_flood": during.as_dict(),
                    "throughput": round(_ratio(during.requests_per_s, alone.requests_per_s), 3),
                    "p99": round(_ratio(during.p99_ms, alone.p99_ms), 3),
                }
                for alone, during in self.rounds
            ],
            "guessing": [guess.as_dict() for guess in self.guesses],
        }


def render_login_flood(result: LoginFloodResult, load: str) -> str:
    header = f"{'refresh':<14}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'non-2xx':>10}"
    lines = [
        f"{result.backend_label} / {result.scenario}: {result.title}",
        f"({load})",
        header,
        "-" * len(header),
    ]
    for name, run in (("alone", result.alone), ("during flood", result.during)):
        lines.append(
            f"{name:<14}{run.requests_per_s:>10.1f}{run.p50_ms:>10.2f}{run.p99_ms:>10.2f}"
            f"{run.non_2xx:>10d}"
        )
    flood = result.flood
    answered = ", ".join(f"{status}: {count}" for status, count in flood.statuses.items())
    lines.append(
        f"flood: {flood.offered} wrong-password logins offered at {flood.rate:g}/s over "
        f"{flood.elapsed_s:g} s ({answered})"
    )
    lines.append(
        f"during/alone: throughput {result.throughput_ratio:.2f}x, p99 {result.p99_ratio:.2f}x; "
        f"goal: throughput >= {result.min_throughput}x, p99 <= {result.max_p99}x -> "
        f"{result.verdict()}"
    )
    if len(result.rounds) > 1:
        lines.append(
            "rounds (alone -> during flood, req/s; p99 ms): "
            + "; ".join(
                f"{alone.requests_per_s:.0f} -> {during.requests_per_s:.0f} "
                f"({_ratio(during.requests_per_s, alone.requests_per_s):.2f}x), "
                f"{alone.p99_ms:.0f} -> {during.p99_ms:.0f} "
                f"({_ratio(during.p99_ms, alone.p99_ms):.2f}x)"
                for alone, during in result.rounds
            )
        )
    for guess in result.guesses:
        lines.append(
            f"guessing {guess.what} from one address for {guess.elapsed_s:g} s: "
            f"{guess.checked} checked (401), {guess.refused} refused unchecked (429)"
        )
    return "\n".join(lines)
