"""CONTRACT §7: headers or a body that do not arrive in time are a 408 with `Connection: close`;
a stalled client neither holds a request handler nor blocks shutdown; SIGTERM lets requests in
flight finish, within the shutdown limit."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import BACKENDS, create_pg_database, drop_pg_database
from tests.servers import clean_env, free_port, run_cli, serving_in_process, start_server
from tests.support import TEST_SECRET_KEY, World

SHORT = {"request_body_timeout": 0.5}


@pytest.mark.parametrize("setting_overrides", [SHORT])
async def test_a_body_that_stalls_is_answered_408_and_closes_the_connection(
    http: httpx.AsyncClient, world: World
) -> None:
    async def stalled_body() -> AsyncIterator[bytes]:
        yield b'{"token": {"grant_type": '
        await asyncio.sleep(30)
        yield b'"refresh_token"}}'  # pragma: no cover - never sent

    response = await asyncio.wait_for(
        http.post(
            "/oauth/tokens",
            content=stalled_body(),
            headers={"Content-Type": "application/json", "Content-Length": "43"},
        ),
        timeout=10,
    )
    assert response.status_code == 408
    assert response.headers["connection"] == "close"
    assert response.json()["error"] == {
        "type": "request_timeout",
        "message": "The request did not arrive in time.",
    }


@pytest.mark.parametrize("setting_overrides", [SHORT])
async def test_a_body_that_arrives_in_chunks_within_the_limit_is_served(
    http: httpx.AsyncClient, world: World
) -> None:
    raw = json.dumps(world.refresh_body()).encode()

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(raw), 40):
            await asyncio.sleep(0.01)
            yield raw[start : start + 40]

    response = await http.post(
        "/oauth/tokens", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 201


# --- the real server process -----------------------------------------------------------------


@pytest.fixture(params=BACKENDS)
def server_env(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, str]]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'slow.db'}"
        yield clean_env(EHEALTH_AUTH_DATABASE_URL=url, EHEALTH_AUTH_SECRET_KEY=TEST_SECRET_KEY)
        return
    url = create_pg_database()
    try:
        yield clean_env(EHEALTH_AUTH_DATABASE_URL=url, EHEALTH_AUTH_SECRET_KEY=TEST_SECRET_KEY)
    finally:
        drop_pg_database(url)


def _serve(tmp_path: Path, env: dict[str, str], **limits: str) -> tuple[Any, int]:
    assert run_cli(["migrate"], tmp_path, env).returncode == 0
    port = free_port()
    limited = {**env, **{f"EHEALTH_AUTH_{k.upper()}": v for k, v in limits.items()}}
    return start_server(tmp_path, limited, port, tmp_path / "server.log"), port


def _read_all(sock: socket.socket, limit: float = 15) -> bytes:
    """Everything the server sends until it closes the connection."""
    sock.settimeout(limit)
    received = b""
    while chunk := sock.recv(65_536):
        received += chunk
    return received


def _request_head(port: int, content_length: int) -> bytes:
    return (
        f"POST /oauth/tokens HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {content_length}\r\n\r\n"
    ).encode()


def _stop_and_time(process: Any) -> float:
    started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=40)
    finally:
        if process.poll() is None:  # pragma: no cover - only when the test fails
            process.kill()
            process.wait()
    return time.monotonic() - started


def test_headers_that_stall_are_answered_408_and_the_connection_closed(
    tmp_path: Path, server_env: dict[str, str]
) -> None:
    server, port = _serve(tmp_path, server_env, request_header_timeout="1")
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.sendall(b"POST /oauth/tokens HTTP/1.1\r\nHost: x\r\n")  # and nothing more
            answer = _read_all(sock)
        with socket.create_connection(("127.0.0.1", port), timeout=5) as idle:
            idle_answer = _read_all(idle)  # connected, never sent a byte
    finally:
        _stop_and_time(server)
    for received in (answer, idle_answer):
        head, body = received.split(b"\r\n\r\n", 1)
        assert head.startswith(b"HTTP/1.1 408 ")
        assert b"connection: close" in head.lower()
        assert json.loads(body)["error"]["type"] == "request_timeout"


def test_a_body_that_never_comes_is_answered_408(
    tmp_path: Path, server_env: dict[str, str]
) -> None:
    server, port = _serve(tmp_path, server_env, request_body_timeout="1")
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.sendall(_request_head(port, 10))  # Content-Length: 10, and no body
            answer = _read_all(sock)
        # The server is free for others meanwhile and afterwards.
        assert httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=5).status_code == 200
    finally:
        _stop_and_time(server)
    head, body = answer.split(b"\r\n\r\n", 1)
    assert head.startswith(b"HTTP/1.1 408 ")
    assert b"connection: close" in head.lower()
    assert json.loads(body)["error"]["type"] == "request_timeout"


def test_sigterm_with_a_stalled_client_exits_within_the_shutdown_limit(
    tmp_path: Path, server_env: dict[str, str]
) -> None:
    # The body limit is far away: only the shutdown limit can end the stalled request.
    server, port = _serve(tmp_path, server_env, request_body_timeout="120", shutdown_timeout="2")
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(_request_head(port, 10))
        time.sleep(0.3)
        took = _stop_and_time(server)
    # uvicorn exits by re-raising the SIGTERM it handled, once shutdown is complete.
    assert server.returncode in (0, -signal.SIGTERM)
    assert took < 10, f"shutdown took {took:.1f} s"


def test_sigterm_lets_a_request_in_flight_finish(
    tmp_path: Path, server_env: dict[str, str]
) -> None:
    server, port = _serve(tmp_path, server_env, shutdown_timeout="30")
    body = json.dumps({"token": {"grant_type": "refresh_token"}}).encode()
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(_request_head(port, len(body)) + body[:10])
        time.sleep(0.3)
        server.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        sock.sendall(body[10:])  # the rest arrives after SIGTERM
        answer = _read_all(sock)
    server.wait(timeout=30)
    head, payload = answer.split(b"\r\n\r\n", 1)
    assert head.startswith(b"HTTP/1.1 422 ")  # answered, not dropped
    assert json.loads(payload)["error"]["type"] == "validation_failed"
    assert server.returncode in (0, -signal.SIGTERM)


async def test_the_server_protocol_answers_late_headers_408_and_serves_timely_ones() -> None:
    """In process: uvicorn with the service's protocol, on a minimal app."""

    async def app(scope: Any, receive: Any, send: Any) -> None:
        headers = [(b"content-length", b"2")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"ok"})

    async with serving_in_process(app, header_timeout=0.3) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")  # in time: served, kept alive
        assert (await reader.readuntil(b"ok")).startswith(b"HTTP/1.1 200 ")
        # A connection busy for longer than the limit, each request's headers in time: served.
        for _ in range(8):
            await asyncio.sleep(0.1)
            writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            assert (await reader.readuntil(b"ok")).startswith(b"HTTP/1.1 200 ")
        writer.write(b"GET / HTTP/1.1\r\nHo")  # the next request stalls in its headers
        stalled = time.monotonic()
        late = await asyncio.wait_for(reader.read(), timeout=5)
        waited = time.monotonic() - stalled
        writer.close()
        head, body = late.split(b"\r\n\r\n", 1)
        assert head.startswith(b"HTTP/1.1 408 ")
        assert 0.25 <= waited < 2.0  # the stalled request's own limit (0.3 s), from its start
        assert json.loads(body)["error"]["type"] == "request_timeout"
