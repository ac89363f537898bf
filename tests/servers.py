"""Running the real `ehealth-auth` processes from tests: CLI calls and server processes."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from ehealth_auth.web.server import HeaderDeadlineProtocol, ServerConfig
from tests.support import CHEAP_PASSWORD_HASHING

CLI = str(Path(sys.executable).with_name("ehealth-auth"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def clean_env(**values: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EHEALTH_AUTH_")}
    env.update(
        {
            f"EHEALTH_AUTH_{name.upper()}": str(value)
            for name, value in CHEAP_PASSWORD_HASHING.items()
        }
    )
    env.update(values)
    return env


def run_cli(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CLI, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=60, check=False
    )


def wait_ready(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server exited with {process.returncode}")
        try:
            httpx.get(f"http://127.0.0.1:{port}/ready-probe", timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError("server did not start")


def start_server(
    cwd: Path, env: dict[str, str], port: int, log: Path, workers: int = 1
) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        process = subprocess.Popen(
            [CLI, "serve", "--port", str(port), "--workers", str(workers)],
            cwd=cwd,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    wait_ready(port, process)
    return process


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def cli_json(args: list[str], cwd: Path, env: dict[str, str]) -> dict[str, Any]:
    result = run_cli(["--json", *args], cwd, env)
    assert result.returncode == 0, result.stderr
    value: dict[str, Any] = json.loads(result.stdout)
    return value


@dataclass(frozen=True)
class SeededClient:
    client_id: str
    client_secret: str
    user_id: str
    refresh_token: str


def seed_with_cli(cwd: Path, env: dict[str, str], scope: str = "a b") -> SeededClient:
    """Migrate and create one client, user, approval and refresh token through the real CLI."""
    assert run_cli(["migrate"], cwd, env).returncode == 0
    cli_json(["client-types", "create", "--name", "MIS", "--scope", scope], cwd, env)
    client = cli_json(
        [
            "clients",
            "create",
            "--name",
            "C",
            "--client-type",
            "MIS",
            "--redirect-uri",
            "https://mis.example.org/cb",
        ],
        cwd,
        env,
    )
    user = cli_json(["users", "create", "--email", "u@x.org", "--password", "password1"], cwd, env)
    cli_json(
        [
            "approvals",
            "create",
            "--user-id",
            user["id"],
            "--client-id",
            client["id"],
            "--scope",
            scope,
        ],
        cwd,
        env,
    )
    token = cli_json(
        [
            "tokens",
            "create",
            "--name",
            "refresh_token",
            "--user-id",
            user["id"],
            "--client-id",
            client["id"],
        ],
        cwd,
        env,
    )
    return SeededClient(client["id"], client["connection"]["secret"], user["id"], token["value"])


@asynccontextmanager
async def serving_in_process(app: Any, header_timeout: float) -> AsyncIterator[int]:
    """uvicorn with the service's protocol (web/server.py) serving `app` in this process; yields
    its port once it listens, and stops it at the end."""
    config = ServerConfig(
        app,
        host="127.0.0.1",
        port=free_port(),
        http=HeaderDeadlineProtocol,
        header_timeout=header_timeout,
        lifespan="off",
        log_level="warning",
    )
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    try:
        for _ in range(200):  # up to 10 s
            if server.started:
                break
            await asyncio.sleep(0.05)
        yield config.port
    finally:
        server.should_exit = True
        await asyncio.wait_for(serving, timeout=10)
