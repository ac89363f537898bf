"""CONTRACT §6 under real concurrency: two server processes on one database, hundreds of races.

Each race sends simultaneous refreshes of one token, spread over both processes; the next race
uses the winner's successor. Afterwards the database must hold exactly the tokens the clients
were told about, and a replay of a decided race's token must revoke the whole family.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from ehealth_auth.protocol.grants.refresh_token import REVOKED_FOR_REUSE
from ehealth_auth.storage.engine import create_engine
from ehealth_auth.storage.tables import tokens
from tests.conftest import BACKENDS, new_database_url
from tests.servers import SeededClient, clean_env, free_port, seed_with_cli, start_server, stop
from tests.support import TEST_SECRET_KEY

RACES = 200
RACERS = 10
RACE_WINDOW_S = 0.5  # the default EHEALTH_AUTH_REFRESH_RACE_WINDOW_MS
ALREADY_USED = {"type": "invalid_grant", "message": "Token has already been used."}


def digest(value: str) -> bytes:
    return hmac.new(TEST_SECRET_KEY.encode(), value.encode(), hashlib.sha256).digest()


async def stored_tokens(url: str) -> list[sa.Row[tuple[bytes, str, int | None, int | None]]]:
    engine = create_engine(url, pool_size=1)
    try:
        async with engine.connect() as conn:
            query = sa.select(
                tokens.c.value_hash, tokens.c.name, tokens.c.revoked_at, tokens.c.retired_at_ms
            )
            return list(await conn.execute(query))
    finally:
        await engine.dispose()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    value: str = request.param
    return value


@dataclass(frozen=True)
class RaceSetup:
    url: str
    grace: int
    ports: list[int]
    seeded: SeededClient


@pytest.fixture
def servers(
    request: pytest.FixtureRequest,
    backend: str,
    tmp_path: Path,
    pg_database_factory: list[str],
) -> Iterator[RaceSetup]:
    """Two server processes with rotation on, sharing one seeded database."""
    grace: int = request.param
    url = new_database_url(backend, tmp_path, pg_database_factory)
    env = clean_env(
        EHEALTH_AUTH_DATABASE_URL=url,
        EHEALTH_AUTH_SECRET_KEY=TEST_SECRET_KEY,
        EHEALTH_AUTH_REFRESH_ROTATION="on",
        EHEALTH_AUTH_REFRESH_REUSE_GRACE=str(grace),
        EHEALTH_AUTH_LOG_LEVEL="WARNING",
    )
    seeded = seed_with_cli(tmp_path, env)
    ports = [free_port(), free_port()]
    processes = [
        start_server(tmp_path, env, port, tmp_path / f"server-{port}.log") for port in ports
    ]
    try:
        yield RaceSetup(url, grace, ports, seeded)
    finally:
        for process in processes:
            stop(process)


async def run_races(
    ports: list[int], body: dict[str, str]
) -> tuple[list[list[httpx.Response]], str]:
    """All races; returns every race's answers and the last live refresh token."""
    token = body["refresh_token"]
    races: list[list[httpx.Response]] = []
    limits = httpx.Limits(max_connections=RACERS * 2)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:
        for _ in range(RACES):
            payload = {"token": {**body, "refresh_token": token}}
            answers = await asyncio.gather(
                *(
                    client.post(f"http://127.0.0.1:{ports[i % 2]}/oauth/tokens", json=payload)
                    for i in range(RACERS)
                )
            )
            races.append(answers)
            won = [a for a in answers if a.status_code == 201]
            assert won, [a.text for a in answers]
            token = won[0].json()["data"]["details"]["refresh_token"]
    return races, token


def refresh_body(seeded_client_id: str, secret: str, token: str) -> dict[str, str]:
    return {
        "grant_type": "refresh_token",
        "client_id": seeded_client_id,
        "client_secret": secret,
        "refresh_token": token,
    }


@pytest.mark.parametrize("servers", [0, 2], indirect=True, ids=["grace0", "grace2"])
def test_races_between_processes_have_one_winner_and_reuse_revokes_family(
    servers: RaceSetup,
) -> None:
    url, grace, ports, seeded = servers.url, servers.grace, servers.ports, servers.seeded
    first = seeded.refresh_token
    body = refresh_body(seeded.client_id, seeded.client_secret, first)
    races, last = asyncio.run(run_races(ports, body))

    told = {digest(first)}
    for answers in races:
        assert all(a.status_code < 500 for a in answers)
        won = [a.json()["data"] for a in answers if a.status_code == 201]
        lost = [a.json()["error"] for a in answers if a.status_code != 201]
        successors = {data["details"]["refresh_token"] for data in won}
        assert len(successors) == 1, "one winner: a single successor per race"
        if grace == 0:
            assert len(won) == 1
            assert lost == [ALREADY_USED] * (RACERS - 1)
        else:
            assert lost == [], "within the grace window a lost race is answered as a retry"
        told |= {digest(data["value"]) for data in won} | {digest(s) for s in successors}

    rows = asyncio.run(stored_tokens(url))
    assert {bytes(row.value_hash) for row in rows} == told
    live = [r for r in rows if r.name == "refresh_token" and r.retired_at_ms is None]
    assert [bytes(r.value_hash) for r in live] == [digest(last)]
    assert all(row.revoked_at is None for row in rows)

    # Replaying a decided race's token, after the grace and race windows, is reuse: the family
    # dies.
    time.sleep(grace + RACE_WINDOW_S + 0.1)
    with httpx.Client(base_url=f"http://127.0.0.1:{ports[0]}") as client:
        replay = client.post("/oauth/tokens", json={"token": {**body, "refresh_token": first}})
        assert replay.status_code == 401
        assert replay.json()["error"] == ALREADY_USED
        after = client.post("/oauth/tokens", json={"token": {**body, "refresh_token": last}})
        assert after.status_code == 401
        assert after.json()["error"] == {"type": "invalid_grant", "message": REVOKED_FOR_REUSE}
    assert all(row.revoked_at is not None for row in asyncio.run(stored_tokens(url)))
