"""Health probes, /metrics, and what the access and security log lines say (in-process app,
both backends)."""

from __future__ import annotations

import asyncio
import json
import logging
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from ehealth_auth.logs import JsonFormatter
from ehealth_auth.settings import Settings
from ehealth_auth.storage import migrate
from ehealth_auth.wiring import Services, build_app, build_services
from tests.admin_support import AUTH, admin_overrides
from tests.fakes import FakeClock
from tests.support import CHEAP_PASSWORD_HASHING, TEST_SECRET_KEY, World

METRICS_KEY = "metrics-key-0123456789abcdef-xyz"


@pytest.fixture
def setting_overrides() -> dict[str, Any]:
    return {
        **admin_overrides(),
        "metrics_keys": (METRICS_KEY,),
        "refresh_rotation": "on",
        "refresh_reuse_grace": 0,
        "refresh_race_window_ms": 0,
    }


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one sample of the Prometheus text, 0 when it is absent."""
    wanted = ",".join(f'{key}="{value}"' for key, value in labels.items())
    for line in text.splitlines():
        if line.startswith(f"{name}{{{wanted}}} ") or (not labels and line.startswith(f"{name} ")):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


async def scrape(http: httpx.AsyncClient) -> str:
    response = await http.get("/metrics", headers={"Authorization": f"Bearer {METRICS_KEY}"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return response.text


def lines(caplog: pytest.LogCaptureFixture, logger: str) -> list[dict[str, Any]]:
    formatter = JsonFormatter()
    return [
        json.loads(formatter.format(record)) for record in caplog.records if record.name == logger
    ]


# ---------------------------------------------------------------------------------- health


async def test_liveness_answers_without_a_key(http: httpx.AsyncClient) -> None:
    response = await http.get("/health/live")
    assert response.status_code == 200
    assert response.json()["data"] == {"status": "live"}


async def test_readiness_answers_ready_on_a_migrated_database(http: httpx.AsyncClient) -> None:
    response = await http.get("/health/ready")
    assert response.status_code == 200
    assert response.json()["data"] == {"status": "ready"}


async def ready_answer(settings: Settings) -> httpx.Response:
    services = build_services(settings, FakeClock())
    try:
        transport = httpx.ASGITransport(app=build_app(settings, services))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            return await http.get("/health/ready")
    finally:
        await services.close()


def plain_settings(database_url: str) -> Settings:
    hashing: dict[str, Any] = dict(CHEAP_PASSWORD_HASHING)
    return Settings(database_url=database_url, secret_key=SecretStr(TEST_SECRET_KEY), **hashing)


async def test_readiness_is_503_before_migrations_reach_head(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    empty = await ready_answer(plain_settings(url))
    await asyncio.to_thread(migrate.upgrade, url, "0002")
    behind = await ready_answer(plain_settings(url))
    await asyncio.to_thread(migrate.upgrade, url)
    current = await ready_answer(plain_settings(url))

    for response in (empty, behind):
        assert response.status_code == 503
        assert response.json()["error"]["type"] == "service_unavailable"
        assert "migrate" in response.json()["error"]["message"]
        assert response.headers["retry-after"] == "5"
    assert current.status_code == 200


async def test_readiness_is_503_when_the_database_cannot_be_reached() -> None:
    # Nothing listens on port 1 of the loopback: the connection is refused at once.
    unreachable = "postgresql://nobody:secret-password@127.0.0.1:1/none"
    response = await ready_answer(plain_settings(unreachable))

    assert response.status_code == 503
    assert response.json()["error"]["message"] == "The database cannot be reached."
    assert "secret-password" not in response.text


async def test_health_probes_stay_out_of_the_access_log_unless_asked(
    settings: Settings, services: Services, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="ehealth_auth.access")
    for log_health in (False, True):
        app = build_app(settings.model_copy(update={"log_health_requests": log_health}), services)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            await http.get("/health/live")
            await http.get("/health/ready")
            await http.get("/openapi.json")

    paths = [line["path"] for line in lines(caplog, "ehealth_auth.access")]
    assert paths == ["/openapi.json", "/health/live", "/health/ready", "/openapi.json"]


# --------------------------------------------------------------------------------- metrics


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer not-a-key"}],
    ids=["missing", "wrong"],
)
async def test_metrics_need_an_admin_or_metrics_key(
    http: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    refused = await http.get("/metrics", headers=headers)
    assert refused.status_code == 401
    assert (await http.get("/metrics", headers=AUTH)).status_code == 200


async def test_a_metrics_key_opens_only_metrics(http: httpx.AsyncClient) -> None:
    response = await http.get("/admin/clients", headers={"Authorization": f"Bearer {METRICS_KEY}"})
    assert response.status_code == 401


async def test_metrics_count_requests_by_route_status_and_token_events(
    http: httpx.AsyncClient, world: World
) -> None:
    first = await http.post("/oauth/tokens", json=world.refresh_body())
    assert first.status_code == 201
    reused = await http.post("/oauth/tokens", json=world.refresh_body())
    assert reused.status_code == 401
    wrong = await http.post("/oauth/tokens", json=world.refresh_body(client_secret="wrong"))
    assert wrong.status_code == 401
    verify = await http.get(f"/admin/tokens/{first.json()['data']['value']}/verify", headers=AUTH)
    assert verify.status_code == 401  # its family was revoked by the reuse

    text = await scrape(http)

    requests = "ehealth_auth_http_requests_total"
    assert sample(text, requests, method="POST", route="/oauth/tokens", status="201") == 1
    assert sample(text, requests, method="POST", route="/oauth/tokens", status="401") == 2
    verify_route = "/admin/tokens/{value}/verify"
    assert sample(text, requests, method="GET", route=verify_route, status="401") == 1
    latency = "ehealth_auth_http_request_duration_seconds_count"
    assert sample(text, latency, method="POST", route="/oauth/tokens") == 3
    events = "ehealth_auth_token_events_total"
    assert sample(text, events, event="issued", grant="refresh_token") == 1
    assert sample(text, events, event="rotated", grant="refresh_token") == 1
    assert sample(text, events, event="reuse_detected", grant="refresh_token") == 1
    assert sample(text, events, event="family_revoked", grant="refresh_token") == 1
    failures = "ehealth_auth_client_authentication_failures_total"
    assert sample(text, failures, route="/oauth/tokens") == 1
    assert "ehealth_auth_database_connections_in_use" in text
    # Neither token values nor raw paths are labels.
    assert first.json()["data"]["value"] not in text
    assert world.refresh_token not in text


@pytest.mark.parametrize(
    "setting_overrides",
    [{**admin_overrides(), "metrics_keys": (METRICS_KEY,)}],
    ids=["rotation-off"],
)
async def test_the_refreshes_each_batched_statement_carried_are_counted(
    http: httpx.AsyncClient, world: World, settings: Settings
) -> None:
    answers = await asyncio.gather(
        *(http.post("/oauth/tokens", json=world.refresh_body()) for _ in range(6))
    )
    assert [answer.status_code for answer in answers] == [201] * 6

    text = await scrape(http)

    statements = sample(text, "ehealth_auth_refresh_batch_items_count")
    carried = sample(text, "ehealth_auth_refresh_batch_items_sum")
    if settings.database_url.startswith("postgresql"):
        assert carried == 6
        assert 1 <= statements <= 6
    else:  # SQLite reads, then writes: nothing is batched
        assert (statements, carried) == (0, 0)


async def test_login_failures_and_throttling_are_counted(
    http: httpx.AsyncClient, world: World
) -> None:
    body = {
        "grant_type": "password",
        "email": world.user_email,
        "password": "wrong password",
        "client_id": str(world.client_id),
        "scope": "app:authorize",
    }
    statuses = [
        (await http.post("/auth/login", json={"token": body})).status_code for _ in range(6)
    ]
    assert statuses == [401] * 5 + [429]

    text = await scrape(http)

    assert sample(text, "ehealth_auth_login_failures_total", reason="access_denied") == 5
    assert sample(text, "ehealth_auth_login_failures_total", reason="too_many_requests") == 1
    assert sample(text, "ehealth_auth_throttled_requests_total", route="/auth/login") == 1


# ------------------------------------------------------------------------------------ logs


async def test_access_lines_carry_the_error_type_and_the_client_id(
    http: httpx.AsyncClient, world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="ehealth_auth")
    await http.post("/oauth/tokens", json=world.refresh_body(client_secret="wrong"))
    issued = await http.post("/oauth/tokens", json=world.refresh_body())
    value = issued.json()["data"]["value"]
    await http.get(f"/admin/tokens/{value}/verify", headers=AUTH)

    refused, granted, verified = lines(caplog, "ehealth_auth.access")

    assert refused["error"] == {"type": "invalid_client"}
    assert refused["client_id"] == str(world.client_id)
    assert refused["route"] == "/oauth/tokens"
    assert "error" not in granted
    assert granted["client_id"] == str(world.client_id)
    assert verified["path"] == "/admin/tokens/[REDACTED]/verify"
    assert verified["client_id"] == str(world.client_id)
    everything = caplog.text + "".join(str(line) for line in lines(caplog, "ehealth_auth.access"))
    for secret in (world.client_secret, world.refresh_token, value):
        assert secret not in everything


async def test_a_client_id_that_is_not_a_uuid_is_not_logged(
    http: httpx.AsyncClient, world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="ehealth_auth")
    pasted = "a-secret-pasted-into-the-wrong-field"
    await http.post("/oauth/tokens", json=world.refresh_body(client_id=pasted))
    [line] = lines(caplog, "ehealth_auth.access")
    assert "client_id" not in line
    assert pasted not in str(line)


async def test_reuse_writes_security_lines_naming_the_family_but_no_token(
    http: httpx.AsyncClient, world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="ehealth_auth")
    rotated = await http.post("/oauth/tokens", json=world.refresh_body())
    await http.post("/oauth/tokens", json=world.refresh_body())

    security = lines(caplog, "ehealth_auth.security")

    assert [line["event"] for line in security] == ["reuse_detected", "family_revoked"]
    for line in security:
        assert line["level"] == "warning"
        assert line["client_id"] == str(world.client_id)
        assert line["user_id"] == str(world.user_id)
        assert re.fullmatch(r"[0-9a-f-]{36}", line["family_id"])
    assert security[1]["revoked_tokens"] >= 3
    successor = rotated.json()["data"]["details"]["refresh_token"]
    for secret in (world.refresh_token, successor, world.client_secret):
        assert secret not in caplog.text
        assert secret not in str(security)


async def test_admin_actions_write_a_security_line_with_the_key_used(
    http: httpx.AsyncClient, world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="ehealth_auth")
    second_key = {"Authorization": f"Bearer {admin_overrides()['admin_keys'][1]}"}
    await http.get(f"/admin/clients/{world.client_id}", headers=AUTH)
    await http.patch(f"/admin/clients/{world.client_id}/actions/block", headers=second_key)
    await http.patch(f"/admin/users/{world.user_id}/actions/block", headers=AUTH)

    security = lines(caplog, "ehealth_auth.security")
    actions = [line for line in security if line["event"] == "admin_action"]

    assert [(line["action"], line["admin_key"], line["status"]) for line in actions] == [
        ("blockClient", "#2", 200),
        ("blockUser", "#1", 200),
    ]
    assert actions[0]["client_id"] == str(world.client_id)
    assert actions[1]["user_id"] == str(world.user_id)
    revoked = [line for line in security if line["event"] == "revoked_by_operator"]
    assert [line["action"] for line in revoked] == ["block_user"]
    for key in admin_overrides()["admin_keys"]:
        assert key not in caplog.text


async def test_unknown_methods_and_paths_do_not_grow_the_metric_labels(
    http: httpx.AsyncClient,
) -> None:
    for index in range(5):
        await http.request(f"BREW{index}", f"/no/such/path/{index}")

    text = await scrape(http)

    requests = "ehealth_auth_http_requests_total"
    assert sample(text, requests, method="OTHER", route="unmatched", status="404") == 5
    assert "BREW" not in text
    assert "/no/such/path" not in text
