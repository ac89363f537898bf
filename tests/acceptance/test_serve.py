"""The real server process: the `make run` demo path, workers, the placeholder-key guard."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import create_pg_database, drop_pg_database
from tests.servers import clean_env, free_port, run_cli, start_server, stop
from tests.support import TEST_SECRET_KEY


@pytest.fixture
def pg_url() -> Iterator[str]:
    url = create_pg_database()
    yield url
    drop_pg_database(url)


def test_demo_prints_a_curl_refresh_that_the_server_answers_with_201(tmp_path: Path) -> None:
    port = free_port()
    env = clean_env()  # the embedded default: ./var/ehealth-auth.db, placeholder key
    assert run_cli(["migrate"], tmp_path, env).returncode == 0
    seeded = run_cli(["demo", "--url", f"http://127.0.0.1:{port}"], tmp_path, env)
    assert seeded.returncode == 0, seeded.stderr
    assert "DEMO DATA" in seeded.stdout
    curl = next(line for line in seeded.stdout.splitlines() if line.startswith("curl "))
    assert (tmp_path / "var" / "ehealth-auth.db").exists()

    again = run_cli(["demo"], tmp_path, env)
    assert again.returncode == 0
    assert "curl" not in again.stdout

    server = start_server(tmp_path, env, port, tmp_path / "server.log")
    try:
        answer = subprocess.run(
            [*shlex.split(curl), "-w", "\n%{http_code}"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    finally:
        stop(server)
    body, status = answer.stdout.rsplit("\n", 1)
    assert status == "201", body
    assert '"name":"access_token"' in body
    # Access logs carry the request, never its secrets.
    log = (tmp_path / "server.log").read_text()
    secret = re.search(r'"client_secret":"([^"]+)"', curl)
    assert secret
    assert secret.group(1) not in log
    assert '"path":"/oauth/tokens"' in log


@pytest.mark.parametrize(
    "command",
    [["serve", "--port", "1"], ["migrate"], ["clients", "list"], ["client-types", "list"]],
    ids=lambda command: command[0],
)
def test_every_command_refuses_to_run_without_a_key_outside_the_demo(
    tmp_path: Path, command: list[str]
) -> None:
    env = clean_env(EHEALTH_AUTH_DATABASE_URL=f"sqlite:///{tmp_path / 'prod.db'}")
    result = run_cli(command, tmp_path, env)
    assert result.returncode != 0
    assert "EHEALTH_AUTH_SECRET_KEY" in result.stderr
    assert not (tmp_path / "prod.db").exists()


def test_the_demo_makes_a_random_server_key_once_and_keeps_it_beside_its_database(
    tmp_path: Path,
) -> None:
    env = clean_env()
    assert run_cli(["migrate"], tmp_path, env).returncode == 0
    assert run_cli(["demo"], tmp_path, env).returncode == 0
    key_file = tmp_path / "var" / "secret-key"
    key = key_file.read_text()
    assert len(key) >= 48
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert run_cli(["--json", "clients", "list"], tmp_path, env).returncode == 0
    assert key_file.read_text() == key
    other = tmp_path / "elsewhere"
    other.mkdir()
    assert run_cli(["migrate"], other, env).returncode == 0
    assert run_cli(["demo"], other, env).returncode == 0
    assert (other / "var" / "secret-key").read_text() != key


def test_keys_shorter_than_32_characters_stop_the_server_with_a_clear_message(
    tmp_path: Path,
) -> None:
    env = clean_env(EHEALTH_AUTH_GATEWAY_KEYS="short-gateway-key")
    result = run_cli(["serve", "--port", str(free_port())], tmp_path, env)
    assert result.returncode != 0
    assert "EHEALTH_AUTH_GATEWAY_KEYS:" in result.stderr
    assert "at least 32 characters" in result.stderr
    assert "short-gateway-key" not in result.stderr


def test_workers_share_one_postgresql_database(tmp_path: Path, pg_url: str) -> None:
    env = clean_env(EHEALTH_AUTH_DATABASE_URL=pg_url, EHEALTH_AUTH_SECRET_KEY=TEST_SECRET_KEY)
    assert run_cli(["migrate"], tmp_path, env).returncode == 0

    def made(*args: str) -> dict[str, Any]:
        result = run_cli(["--json", *args], tmp_path, env)
        assert result.returncode == 0, result.stderr
        value: dict[str, Any] = json.loads(result.stdout)
        return value

    made("client-types", "create", "--name", "MIS", "--scope", "a")
    client = made(
        "clients",
        "create",
        "--name",
        "C",
        "--client-type",
        "MIS",
        "--redirect-uri",
        "https://x.org/cb",
    )
    user = made("users", "create", "--email", "u@x.org", "--password", "password1")
    made(
        "approvals", "create", "--user-id", user["id"], "--client-id", client["id"], "--scope", "a"
    )
    token = made(
        "tokens",
        "create",
        "--name",
        "refresh_token",
        "--user-id",
        user["id"],
        "--client-id",
        client["id"],
    )
    port = free_port()
    server = start_server(tmp_path, env, port, tmp_path / "server.log", workers=2)
    try:
        body = {
            "token": {
                "grant_type": "refresh_token",
                "client_id": client["id"],
                "client_secret": client["connection"]["secret"],
                "refresh_token": token["value"],
            }
        }
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as http:
            statuses = {http.post("/oauth/tokens", json=body).status_code for _ in range(20)}
    finally:
        stop(server)
    assert statuses == {201}
