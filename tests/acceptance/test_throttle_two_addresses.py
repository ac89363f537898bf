"""Throttled guessing against the real server process, from two source addresses: the attacker's
client sockets are bound to 127.0.0.2 (127.0.0.4, 127.0.0.5), the honest party's to 127.0.0.3
(all loopback). One server per backend serves the module; each test attacks from its own
address."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import BACKENDS, new_database_url
from tests.servers import SeededClient, clean_env, free_port, seed_with_cli, start_server, stop
from tests.support import TEST_SECRET_KEY

HONEST = "127.0.0.3"
LIMITS = {
    "EHEALTH_AUTH_CLIENT_MAX_FAILURES": "3",
    "EHEALTH_AUTH_CLIENT_TARGET_MAX_FAILURES": "50",
    "EHEALTH_AUTH_LOGIN_MAX_FAILURES": "3",
    "EHEALTH_AUTH_LOGIN_ACCOUNT_MAX_FAILURES": "50",
    "EHEALTH_AUTH_THROTTLE_SOURCE_MAX_FAILURES": "20",
}


class Server:
    def __init__(self, port: int, seeded: SeededClient) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self.seeded = seeded

    def client(self, source: str) -> httpx.Client:
        transport = httpx.HTTPTransport(local_address=source)
        return httpx.Client(base_url=self.url, transport=transport, timeout=30)

    def refresh(self, **overrides: str) -> dict[str, Any]:
        token = {
            "grant_type": "refresh_token",
            "client_id": self.seeded.client_id,
            "client_secret": self.seeded.client_secret,
            "refresh_token": self.seeded.refresh_token,
        }
        return {"token": {**token, **overrides}}

    def login(self, password: str) -> dict[str, Any]:
        token = {
            "grant_type": "password",
            "email": "u@x.org",
            "password": password,
            "client_id": self.seeded.client_id,
            "scope": "app:authorize",
        }
        return {"token": token}


@pytest.fixture(scope="module", params=BACKENDS)
def server(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    pg_database_factory: list[str],
) -> Iterator[Server]:
    tmp_path = tmp_path_factory.mktemp("two-addresses")
    url = new_database_url(request.param, tmp_path, pg_database_factory)
    env = clean_env(
        EHEALTH_AUTH_DATABASE_URL=url, EHEALTH_AUTH_SECRET_KEY=TEST_SECRET_KEY, **LIMITS
    )
    seeded = seed_with_cli(tmp_path, env, scope="app:authorize a b")
    port = free_port()
    process = start_server(tmp_path, env, port, tmp_path / "server.log")
    try:
        yield Server(port, seeded)
    finally:
        stop(process)


def test_secret_guessing_is_throttled_at_the_attackers_address_only(server: Server) -> None:
    with server.client("127.0.0.2") as attacker, server.client(HONEST) as honest:
        guesses = [
            attacker.post("/oauth/tokens", json=server.refresh(client_secret=f"guess-{n}"))
            for n in range(8)
        ]
        assert [answer.status_code for answer in guesses] == [401] * 3 + [429] * 5
        refused = guesses[-1]
        assert refused.json()["error"] == {
            "type": "too_many_requests",
            "message": "Too many failed client authentications. Try again later.",
        }
        assert 1 <= int(refused.headers["retry-after"]) <= 900
        assert refused.json()["meta"]["code"] == 429
        # Even the right secret is refused at the attacker's address, before any check...
        assert attacker.post("/oauth/tokens", json=server.refresh()).status_code == 429
        # ...while the real client, at its own address, refreshes as usual.
        served = honest.post("/oauth/tokens", json=server.refresh())
        assert served.status_code == 201, served.text


def test_password_guessing_is_throttled_at_the_attackers_address_only(server: Server) -> None:
    with server.client("127.0.0.4") as attacker, server.client(HONEST) as honest:
        guesses = [
            attacker.post("/auth/login", json=server.login(f"guess-{n}")).status_code
            for n in range(6)
        ]
        assert guesses == [401] * 3 + [429] * 3
        assert attacker.post("/auth/login", json=server.login("password1")).status_code == 429
        served = honest.post("/auth/login", json=server.login("password1"))
        assert served.status_code == 201, served.text


def test_one_address_guessing_many_accounts_hits_its_own_limit(server: Server) -> None:
    with server.client("127.0.0.5") as attacker, server.client(HONEST) as honest:
        statuses = []
        for n in range(22):
            body = server.login("guess")
            body["token"]["email"] = f"someone{n}@x.org"
            statuses.append(attacker.post("/auth/login", json=body).status_code)
        assert statuses == [401] * 20 + [429] * 2
        assert honest.post("/auth/login", json=server.login("password1")).status_code == 201
