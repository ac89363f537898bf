"""CONTRACT §3 under real concurrency: simultaneous exchanges of one code, spread over two
server processes sharing one database. Exactly one wins; the others are told the code was
used, and the family the winner got is revoked."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from ehealth_auth.protocol.grants.refresh_token import REVOKED_FOR_REUSE
from tests.conftest import BACKENDS, new_database_url
from tests.flow_support import ALREADY_USED
from tests.servers import clean_env, cli_json, free_port, run_cli, start_server, stop
from tests.support import TEST_SECRET_KEY

CODES = 25
RACERS = 6
REDIRECT_URI = "https://mis.example.org/cb"


@dataclass(frozen=True)
class Setup:
    ports: list[int]
    client_id: str
    client_secret: str
    email: str


@pytest.fixture(params=BACKENDS)
def servers(
    request: pytest.FixtureRequest, tmp_path: Path, pg_database_factory: list[str]
) -> Iterator[Setup]:
    url = new_database_url(request.param, tmp_path, pg_database_factory)
    env = clean_env(
        EHEALTH_AUTH_DATABASE_URL=url,
        EHEALTH_AUTH_SECRET_KEY=TEST_SECRET_KEY,
        EHEALTH_AUTH_LOG_LEVEL="WARNING",
    )
    assert run_cli(["migrate"], tmp_path, env).returncode == 0
    scope = "app:authorize legal_entity:read"
    cli_json(["client-types", "create", "--name", "MIS", "--scope", scope], tmp_path, env)
    client = cli_json(
        [
            "clients",
            "create",
            "--name",
            "C",
            "--client-type",
            "MIS",
            "--redirect-uri",
            REDIRECT_URI,
        ],
        tmp_path,
        env,
    )
    cli_json(["users", "create", "--email", "u@x.org", "--password", "password1"], tmp_path, env)
    ports = [free_port(), free_port()]
    processes = [
        start_server(tmp_path, env, port, tmp_path / f"server-{port}.log") for port in ports
    ]
    try:
        yield Setup(ports, client["id"], client["connection"]["secret"], "u@x.org")
    finally:
        for process in processes:
            stop(process)


async def _race(setup: Setup) -> None:
    base = [f"http://127.0.0.1:{port}" for port in setup.ports]
    credentials = {"client_id": setup.client_id, "client_secret": setup.client_secret}
    async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=20)) as http:
        login = await http.post(
            f"{base[0]}/auth/login",
            json={
                "token": {
                    "grant_type": "password",
                    "email": setup.email,
                    "password": "password1",
                    "client_id": setup.client_id,
                    "scope": "app:authorize",
                }
            },
        )
        bearer = {"Authorization": f"Bearer {login.json()['data']['value']}"}
        app = {
            "client_id": setup.client_id,
            "redirect_uri": REDIRECT_URI,
            "scope": "legal_entity:read",
        }
        for _ in range(CODES):
            code = (
                await http.post(
                    f"{base[1]}/oauth/apps/authorize", json={"app": app}, headers=bearer
                )
            ).json()["data"]["value"]
            body = {
                "token": {
                    "grant_type": "authorization_code",
                    "code": code,
                    "redirect_uri": REDIRECT_URI,
                    **credentials,
                }
            }
            answers = await asyncio.gather(
                *(http.post(f"{base[i % 2]}/oauth/tokens", json=body) for i in range(RACERS))
            )
            assert sorted(a.status_code for a in answers) == [201] + [401] * (RACERS - 1)
            assert all(a.json()["error"] == ALREADY_USED for a in answers if a.status_code == 401)
            won = next(a for a in answers if a.status_code == 201).json()["data"]
            refresh = {
                "token": {
                    "grant_type": "refresh_token",
                    "refresh_token": won["details"]["refresh_token"],
                    **credentials,
                }
            }
            revoked = await http.post(f"{base[0]}/oauth/tokens", json=refresh)
            assert revoked.status_code == 401
            assert revoked.json()["error"] == {
                "type": "invalid_grant",
                "message": REVOKED_FOR_REUSE,
            }


def test_simultaneous_exchanges_across_processes_have_one_winner(servers: Setup) -> None:
    asyncio.run(_race(servers))
