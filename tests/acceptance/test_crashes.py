"""Faults under load, against the real server process: the database cut off (PostgreSQL, through
a proxy, or by terminating this test database's backends) answers only 201 or 503 and recovers
by itself; kill -9 under rotating load loses no refresh token a client was given.

Bounded: a few hundred requests over a few seconds per test, all on loopback.
"""

from __future__ import annotations

import asyncio
import random
import signal
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import httpx
import pytest
from sqlalchemy.engine import make_url

from ehealth_auth.protocol.model import TokenName
from ehealth_auth.settings import Settings
from ehealth_auth.storage import migrate
from ehealth_auth.wiring import build_services
from tests.conftest import BACKENDS, PG_ADMIN_URL, create_pg_database, drop_pg_database
from tests.pg_proxy import postgres_proxy
from tests.servers import (
    SeededClient,
    clean_env,
    free_port,
    start_server,
    stop,
)
from tests.support import CHEAP_PASSWORD_HASHING, TEST_SECRET_KEY, seed_world

CONCURRENCY = 6


def _seed(url: str, tokens: int = 1) -> tuple[SeededClient, list[str]]:
    """Migrate and seed in this process (the CLI would take seconds per call): one client,
    user and approval, and `tokens` refresh tokens of separate families."""
    migrate.upgrade(url)

    async def seed() -> tuple[SeededClient, list[str]]:
        settings = Settings.model_validate(
            {"database_url": url, "secret_key": TEST_SECRET_KEY, **CHEAP_PASSWORD_HASHING}
        )
        services = build_services(settings)
        try:
            world = await seed_world(services.admin)
            values = [world.refresh_token]
            for _ in range(tokens - 1):
                minted = await services.admin.create_token(
                    TokenName.REFRESH_TOKEN, world.user_id, world.client_id
                )
                values.append(minted.value)
        finally:
            await services.close()
        seeded = SeededClient(
            str(world.client_id), world.client_secret, str(world.user_id), world.refresh_token
        )
        return seeded, values

    return asyncio.run(seed())


def _body(seeded: SeededClient, refresh_token: str) -> dict[str, Any]:
    return {
        "token": {
            "grant_type": "refresh_token",
            "client_id": seeded.client_id,
            "client_secret": seeded.client_secret,
            "refresh_token": refresh_token,
        }
    }


@pytest.fixture
def pg_url() -> Iterator[str]:
    url = create_pg_database()
    yield url
    drop_pg_database(url)


@dataclass
class Load:
    """Refresh requests from a few concurrent clients, with the time of each answer."""

    answers: list[tuple[float, int]] = field(default_factory=list)
    stop: bool = False

    async def run(self, port: int, body: dict[str, Any]) -> None:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:

            async def one_client() -> None:
                while not self.stop:
                    response = await http.post("/oauth/tokens", json=body)
                    self.answers.append((time.monotonic(), response.status_code))
                    await asyncio.sleep(0.005)

            await asyncio.gather(*(one_client() for _ in range(CONCURRENCY)))

    def first_success_after(self, moment: float) -> float | None:
        later = [at for at, status in self.answers if at >= moment and status == 201]
        return min(later) - moment if later else None


async def _terminate_backends(database: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN_URL, timeout=10)
    try:
        await conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = $1 AND pid <> pg_backend_pid()",
            database,
        )
    finally:
        await conn.close()


def test_database_cut_off_under_refresh_load_answers_only_201_or_503_and_recovers(
    tmp_path: Path, pg_url: str
) -> None:
    env = clean_env(EHEALTH_AUTH_DATABASE_URL=pg_url, EHEALTH_AUTH_SECRET_KEY=TEST_SECRET_KEY)
    seeded, _ = _seed(pg_url)
    with postgres_proxy(pg_url) as proxy:
        port = free_port()
        served = {**env, "EHEALTH_AUTH_DATABASE_URL": proxy.url}
        server = start_server(tmp_path, served, port, tmp_path / "server.log")
        load = Load()

        async def scenario() -> tuple[float, float]:
            running = asyncio.create_task(load.run(port, _body(seeded, seeded.refresh_token)))
            await asyncio.sleep(1)
            cut_at = time.monotonic()
            await asyncio.to_thread(proxy.cut)  # what the service sees of a restart
            await asyncio.sleep(2)
            await asyncio.to_thread(proxy.restore)
            back_at = time.monotonic()
            await asyncio.sleep(2)
            load.stop = True
            await asyncio.wait_for(running, timeout=30)
            return cut_at, back_at

        try:
            cut_at, back_at = asyncio.run(scenario())
        finally:
            stop(server)
    during = Counter(status for at, status in load.answers if cut_at <= at < back_at)
    assert {status for _, status in load.answers} <= {201, 503}
    assert during[503] > 0
    recovery = load.first_success_after(back_at)
    assert recovery is not None
    assert recovery < 5, f"first 201 {recovery:.2f} s after the database was back"
    log = (tmp_path / "server.log").read_text()
    assert log.count('"database unavailable"') == 1
    assert "Traceback" not in log


def test_backends_terminated_under_refresh_load_answer_only_201_or_503(
    tmp_path: Path, pg_url: str
) -> None:
    env = clean_env(EHEALTH_AUTH_DATABASE_URL=pg_url, EHEALTH_AUTH_SECRET_KEY=TEST_SECRET_KEY)
    seeded, _ = _seed(pg_url)
    port = free_port()
    server = start_server(tmp_path, env, port, tmp_path / "server.log")
    load = Load()
    database = make_url(pg_url).database or ""

    async def scenario() -> float:
        running = asyncio.create_task(load.run(port, _body(seeded, seeded.refresh_token)))
        for _ in range(3):
            await asyncio.sleep(0.7)
            await _terminate_backends(database)
        last_kill = time.monotonic()
        await asyncio.sleep(1.5)
        load.stop = True
        await asyncio.wait_for(running, timeout=30)
        return last_kill

    try:
        last_kill = asyncio.run(scenario())
    finally:
        stop(server)
    assert {status for _, status in load.answers} <= {201, 503}
    recovery = load.first_success_after(last_kill)
    assert recovery is not None
    assert recovery < 5


# --- kill -9 under rotating load ---------------------------------------------------------------


@dataclass
class Holder:
    """One MIS: the refresh token it holds now, and every token it was given."""

    token: str
    given: list[str] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    lost: int = 0  # requests whose answer never came (the server died)


async def _rotate(port: int, seeded: SeededClient, holders: list[Holder], until: float) -> None:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5) as http:

        async def one(holder: Holder) -> None:
            while time.monotonic() < until:
                try:
                    response = await http.post("/oauth/tokens", json=_body(seeded, holder.token))
                except httpx.TransportError:
                    holder.lost += 1  # the answer was lost: retry with the same token
                    await asyncio.sleep(0.05)
                    continue
                holder.statuses[response.status_code] += 1
                if response.status_code == 201:
                    holder.token = response.json()["data"]["details"]["refresh_token"]
                    holder.given.append(holder.token)

        await asyncio.gather(*(one(holder) for holder in holders))


@pytest.mark.parametrize("backend", BACKENDS)
def test_kill_9_under_rotating_load_loses_no_token_a_client_was_given(
    backend: str, tmp_path: Path, pg_database_factory: list[str]
) -> None:
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'crash.db'}"
    else:
        url = create_pg_database()
        pg_database_factory.append(url)
    # Rotation on with the default grace window: a retry after a crash is a retry, not reuse.
    env = clean_env(
        EHEALTH_AUTH_DATABASE_URL=url,
        EHEALTH_AUTH_SECRET_KEY=TEST_SECRET_KEY,
        EHEALTH_AUTH_REFRESH_ROTATION="on",
    )
    seeded, values = _seed(url, tokens=4)
    holders = [Holder(value) for value in values]
    port = free_port()
    server = start_server(tmp_path, env, port, tmp_path / "server.log")
    kills = 3
    rng = random.Random(7)

    async def scenario() -> None:
        nonlocal server
        clients = asyncio.create_task(_rotate(port, seeded, holders, time.monotonic() + 60))
        for kill in range(kills):
            await asyncio.sleep(rng.uniform(0.4, 1.0))
            server.send_signal(signal.SIGKILL)
            await asyncio.to_thread(server.wait, 10)
            restart_log = tmp_path / f"server-{kill}.log"
            server = await asyncio.to_thread(start_server, tmp_path, env, port, restart_log)
        await asyncio.sleep(1)
        clients.cancel()
        await asyncio.gather(clients, return_exceptions=True)

    try:
        asyncio.run(scenario())
        # Every client's latest token still works: no family was lost to a crash.
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
            for holder in holders:
                final = http.post("/oauth/tokens", json=_body(seeded, holder.token))
                assert final.status_code == 201, final.text
    finally:
        stop(server)
    assert sum(holder.lost for holder in holders) > 0, "no answer was lost to a kill"
    for holder in holders:
        assert set(holder.statuses) <= {201}, holder.statuses
        assert holder.given, "every client made progress"
