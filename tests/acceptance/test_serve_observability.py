"""The real server with two worker processes: every line it writes is JSON, the startup line says
what runs, /metrics adds up every worker, security events are logged without secrets."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx

from ehealth_auth import __version__
from tests.servers import clean_env, free_port, seed_with_cli, start_server, stop
from tests.support import TEST_SECRET_KEY

ADMIN_KEY = "admin-key-for-the-served-observability-test"
REQUESTS = 40


def test_two_workers_log_json_and_count_every_request_in_metrics(tmp_path: Path) -> None:
    database = tmp_path / "served.db"
    env = clean_env(
        EHEALTH_AUTH_DATABASE_URL=f"sqlite:///{database}",
        EHEALTH_AUTH_SECRET_KEY=TEST_SECRET_KEY,
        EHEALTH_AUTH_ADMIN_KEYS=ADMIN_KEY,
        EHEALTH_AUTH_REFRESH_ROTATION="on",
        EHEALTH_AUTH_REFRESH_REUSE_GRACE="0",
        EHEALTH_AUTH_REFRESH_RACE_WINDOW_MS="0",
    )
    seeded = seed_with_cli(tmp_path, env)
    port = free_port()
    log = tmp_path / "server.log"
    server = start_server(tmp_path, env, port, log, workers=2)
    body = {
        "token": {
            "grant_type": "refresh_token",
            "client_id": seeded.client_id,
            "client_secret": seeded.client_secret,
            "refresh_token": seeded.refresh_token,
        }
    }
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as http:
            rotated = http.post("/oauth/tokens", json=body)
            reused = http.post("/oauth/tokens", json=body)
            # New connections, so that the kernel spreads them over both workers.
            statuses = [
                httpx.get(f"http://127.0.0.1:{port}/health/live").status_code
                for _ in range(REQUESTS)
            ]
            ready = http.get("/health/ready")
            scrapes = [
                http.get("/metrics", headers={"Authorization": f"Bearer {ADMIN_KEY}"}).text
                for _ in range(4)
            ]
    finally:
        stop(server)

    assert rotated.status_code == 201
    assert reused.status_code == 401
    assert statuses == [200] * REQUESTS
    assert ready.status_code == 200
    live = re.compile(
        r'^ehealth_auth_http_requests_total\{method="GET",route="/health/live",status="200"\} '
        r"(\S+)$",
        re.MULTILINE,
    )
    # Whichever worker answers the scrape, it reports every worker's requests.
    for text in scrapes:
        match = live.search(text)
        assert match is not None
        assert float(match.group(1)) == REQUESTS
        assert (
            'ehealth_auth_token_events_total{event="reuse_detected",grant="refresh_token"} 1.0'
            in (text)
        )

    entries: list[dict[str, Any]] = [json.loads(line) for line in log.read_text().splitlines()]
    [startup] = [entry for entry in entries if entry.get("event") == "startup"]
    assert startup["version"] == __version__
    assert startup["workers"] == 2
    assert startup["database"] == f"sqlite:///{database}"
    assert startup["refresh_policy"]["rotation"] == "on"
    assert startup["keys_set"]["admin_keys"] is True
    assert startup["keys_set"]["metrics_keys"] is False
    pids = {entry["message"] for entry in entries if entry["message"].startswith("Started server")}
    assert len(pids) == 2
    assert any(entry.get("event") == "reuse_detected" for entry in entries)
    access = [entry for entry in entries if entry["logger"] == "ehealth_auth.access"]
    assert {entry["path"] for entry in access} >= {"/oauth/tokens", "/metrics"}
    assert all(entry["path"] != "/health/live" for entry in access)
    assert all("request_id" in entry for entry in access)
    assert not [entry for entry in entries if entry["logger"] == "uvicorn.access"]
    text = log.read_text()
    successor = rotated.json()["data"]["details"]["refresh_token"]
    for secret in (seeded.client_secret, seeded.refresh_token, successor, ADMIN_KEY):
        assert secret not in text
