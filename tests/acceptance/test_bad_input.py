"""CONTRACT §1 and §4: request ids, envelopes for every kind of bad input, no internals in a 500."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from ehealth_auth.settings import Settings
from ehealth_auth.wiring import Services, build_app, build_services
from tests.support import TEST_SECRET_KEY, World, snapshot


async def test_body_that_is_not_json_is_malformed(http: httpx.AsyncClient) -> None:
    response = await http.post(
        "/oauth/tokens", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["error"] == {
        "type": "request_malformed",
        "message": "Request body is not valid JSON.",
    }


async def test_body_over_limit_is_413(http: httpx.AsyncClient, settings: Settings) -> None:
    big = b'{"token": {"x": "' + b"a" * settings.max_body_bytes + b'"}}'
    response = await http.post(
        "/oauth/tokens", content=big, headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json()["error"]["type"] == "request_too_large"
    assert response.json()["meta"]["code"] == 413


async def test_streamed_body_over_limit_is_413(http: httpx.AsyncClient, settings: Settings) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(settings.max_body_bytes // 1024 + 2):
            yield b"a" * 1024

    response = await http.post(
        "/oauth/tokens", content=chunks(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413


# application/x-www-form-urlencoded is the standard OAuth 2.0 dialect (test_oauth2_token_form).
@pytest.mark.parametrize(
    "content_type", ["text/plain", "multipart/form-data", "", "application/xml"]
)
async def test_other_content_types_are_415(http: httpx.AsyncClient, content_type: str) -> None:
    headers = {"content-type": content_type} if content_type else {}
    response = await http.post("/oauth/tokens", content=b"{}", headers=headers)
    assert response.status_code == 415
    assert response.json()["error"]["type"] == "content_type_invalid"


async def test_json_with_charset_is_accepted(http: httpx.AsyncClient, world: World) -> None:
    import orjson

    response = await http.post(
        "/oauth/tokens",
        content=orjson.dumps(world.refresh_body()),
        headers={"content-type": "application/json; charset=utf-8"},
    )
    assert response.status_code == 201


async def test_unknown_extra_keys_are_ignored(http: httpx.AsyncClient, world: World) -> None:
    body = world.refresh_body(scope="ignored", extra={"nested": True})
    body["other"] = 1
    response = await http.post("/oauth/tokens", json=body)
    assert response.status_code == 201


async def test_request_id_is_echoed_when_well_formed(http: httpx.AsyncClient) -> None:
    rid = "mis-request-0123456789-abc"
    response = await http.get("/nowhere", headers={"x-request-id": rid})
    assert response.headers["x-request-id"] == rid
    assert response.json()["meta"]["request_id"] == rid


@pytest.mark.parametrize("rid", ["short", "x" * 201, "bad\x7fid-0123456789abcdefgh"])
async def test_request_id_is_replaced_when_malformed(http: httpx.AsyncClient, rid: str) -> None:
    response = await http.get("/nowhere", headers={"x-request-id": rid})
    new = response.headers["x-request-id"]
    assert new != rid
    assert response.json()["meta"]["request_id"] == new
    assert 20 <= len(new) <= 200


async def test_unknown_route_and_wrong_method_answer_in_envelope(
    http: httpx.AsyncClient,
) -> None:
    missing = await http.get("/no/such/route")
    assert missing.status_code == 404
    assert missing.json()["error"]["type"] == "not_found"
    wrong = await http.get("/oauth/tokens")
    assert wrong.status_code == 405
    assert wrong.json()["error"]["type"] == "method_not_allowed"
    assert wrong.headers["allow"] == "POST"
    # POST /oauth/tokens is answered ahead of the router (HotLanes); a near miss is not.
    slashed = await http.post("/oauth/tokens/", json={})
    assert slashed.status_code == 404
    assert slashed.json()["error"]["type"] == "not_found"


async def test_url_in_meta_keeps_non_default_port_and_drops_query(
    http: httpx.AsyncClient,
) -> None:
    response = await http.get("http://auth.example.org:8443/x?secret=1")
    assert response.json()["meta"]["url"] == "http://auth.example.org:8443/x"
    response = await http.get("https://auth.example.org:443/x")
    assert response.json()["meta"]["url"] == "https://auth.example.org/x"


async def test_rejected_bad_input_changes_nothing(
    http: httpx.AsyncClient, world: World, services: Services
) -> None:
    before = await snapshot(services.engine)
    await http.post("/oauth/tokens", content=b"[]", headers={"content-type": "application/json"})
    await http.post("/oauth/tokens", content=b"x", headers={"content-type": "text/plain"})
    await http.post("/oauth/tokens", json={"token": {"grant_type": 7}})
    assert await snapshot(services.engine) == before


async def test_unexpected_failure_is_a_500_without_internals(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, world: World
) -> None:
    # A database without the schema: every query fails inside the driver.
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'empty.db'}", secret_key=SecretStr(TEST_SECRET_KEY)
    )
    broken = build_services(settings)
    transport = httpx.ASGITransport(app=build_app(settings, broken))
    caplog.set_level(logging.INFO)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            response = await client.post("/oauth/tokens", json=world.refresh_body())
    finally:
        await broken.close()
    assert response.status_code == 500
    body = response.json()
    assert body["error"] == {"type": "internal_error", "message": "Internal server error."}
    assert body["meta"]["request_id"] == response.headers["x-request-id"]
    assert "no such table" not in response.text
    assert "sqlite" not in response.text.lower()
    # The details go to the log, with the request id, and without the secrets of the request.
    errors = [r for r in caplog.records if r.name == "ehealth_auth.error"]
    assert errors
    assert errors[0].exc_info is not None
    assert getattr(errors[0], "path", None) == "/oauth/tokens"
    logged = caplog.text
    assert world.client_secret not in logged
    assert world.refresh_token not in logged
