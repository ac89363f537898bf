"""GET /admin/tokens/{value}/verify, the API gateway's call (CONTRACT §3), on both backends.

Every answer goes through a client that checks it against /openapi.json.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from ehealth_auth.protocol.model import TokenName
from ehealth_auth.settings import Settings
from ehealth_auth.storage.tables import approvals, connections, users
from ehealth_auth.wiring import Services, build_app
from tests.admin_support import (
    ADMIN_KEY,
    AUTH,
    SECOND_ADMIN_KEY,
    admin_overrides,
    checked_client,
)
from tests.fakes import FakeClock
from tests.support import SCOPE, World, seed_world

DEAD = "Token expired or client approval was revoked."


@pytest.fixture
def setting_overrides() -> dict[str, Any]:
    return admin_overrides()


@pytest.fixture
async def gateway(settings: Settings, services: Services) -> AsyncIterator[httpx.AsyncClient]:
    async with checked_client(settings, services, AUTH) as (client, _answers):
        yield client


async def access_token(http: httpx.AsyncClient, world: World) -> dict[str, Any]:
    """An access token issued by a real refresh, so it records its connection."""
    response = await http.post("/oauth/tokens", json=world.refresh_body())
    assert response.status_code == 201
    data: dict[str, Any] = response.json()["data"]
    return data


async def verify(gateway: httpx.AsyncClient, value: str) -> httpx.Response:
    return await gateway.get(f"/admin/tokens/{value}/verify")


def assert_error(response: httpx.Response, status: int, type_: str, message: str) -> None:
    assert response.status_code == status, response.text
    assert response.json()["error"] == {"type": type_, "message": message}
    assert response.headers["cache-control"] == "no-store"


async def test_verify_live_access_token_returns_token_and_urgent(
    gateway: httpx.AsyncClient, http: httpx.AsyncClient, world: World
) -> None:
    token = await access_token(http, world)

    response = await verify(gateway, token["value"])

    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["meta"] == {
        "code": 200,
        "url": f"http://testserver/admin/tokens/{token['value']}/verify",
        "type": "object",
        "request_id": response.headers["x-request-id"],
    }
    assert body["data"] == token
    assert body["data"]["details"] == {
        "client_id": str(world.client_id),
        "grant_type": "refresh_token",
        "scope": SCOPE,
    }
    assert body["urgent"] == {"mis_client_id": None}


async def test_verify_reports_the_mis_client_of_the_connection(
    gateway: httpx.AsyncClient, http: httpx.AsyncClient, world: World, services: Services
) -> None:
    mis = await seed_world(services.admin, tag="mis", client_type=world.client_type)
    async with services.engine.begin() as conn:
        await conn.execute(
            connections.update()
            .where(connections.c.client_id == world.client_id)
            .values(consumer_id=mis.client_id)
        )
    token = await access_token(http, world)

    response = await verify(gateway, token["value"])

    assert response.json()["urgent"] == {"mis_client_id": str(mis.client_id)}


async def test_verify_operator_minted_token_has_no_mis_client(
    gateway: httpx.AsyncClient, world: World, services: Services
) -> None:
    minted = await services.admin.create_token(
        TokenName.ACCESS_TOKEN, world.user_id, world.client_id
    )

    response = await verify(gateway, minted.value)

    assert response.status_code == 200
    assert response.json()["data"]["id"] == str(minted.id)
    assert response.json()["urgent"] == {"mis_client_id": None}


async def test_verify_unknown_token_is_404(gateway: httpx.AsyncClient, world: World) -> None:
    response = await verify(gateway, "no-such-token")
    assert_error(response, 404, "not_found", "Token not found.")


async def test_verify_rejects_refresh_token_which_the_old_service_accepted(
    gateway: httpx.AsyncClient, world: World
) -> None:
    # Regression: the original service answered 200 for a refresh token here, so a leaked
    # long-lived refresh token opened every eHealth API through the gateway.
    response = await verify(gateway, world.refresh_token)
    assert_error(response, 401, "invalid_grant", "Token is not an access token.")


async def test_verify_rejects_expired_access_token(
    gateway: httpx.AsyncClient, http: httpx.AsyncClient, world: World, clock: FakeClock
) -> None:
    token = await access_token(http, world)
    clock.set(token["expires_at"] - 1)
    assert (await verify(gateway, token["value"])).status_code == 200

    clock.set(token["expires_at"])  # expires_at <= now is expired

    assert_error(await verify(gateway, token["value"]), 401, "invalid_grant", DEAD)


async def test_verify_rejects_revoked_access_token(
    gateway: httpx.AsyncClient, http: httpx.AsyncClient, world: World, services: Services
) -> None:
    token = await access_token(http, world)
    await services.admin.deactivate_client_tokens(world.client_id)

    assert_error(await verify(gateway, token["value"]), 401, "invalid_grant", DEAD)


async def test_verify_rejects_token_whose_approval_is_gone(
    gateway: httpx.AsyncClient, http: httpx.AsyncClient, world: World, services: Services
) -> None:
    token = await access_token(http, world)
    # Removed behind the service's back, so the token itself is not revoked.
    async with services.engine.begin() as conn:
        await conn.execute(approvals.delete())

    assert_error(await verify(gateway, token["value"]), 401, "invalid_grant", DEAD)


async def test_verify_rejects_token_of_blocked_client(
    gateway: httpx.AsyncClient, http: httpx.AsyncClient, world: World, services: Services
) -> None:
    token = await access_token(http, world)
    await services.admin.set_client_blocked(world.client_id, True)

    response = await verify(gateway, token["value"])

    assert_error(response, 401, "invalid_client", "Authentication failed.")


async def test_verify_rejects_token_of_blocked_user(
    gateway: httpx.AsyncClient, http: httpx.AsyncClient, world: World, services: Services
) -> None:
    token = await access_token(http, world)
    # Blocking through the service also revokes the token (an earlier check would answer);
    # the flag alone is what a block written by another system looks like.
    async with services.engine.begin() as conn:
        await conn.execute(users.update().values(is_blocked=True))

    response = await verify(gateway, token["value"])

    assert_error(response, 401, "invalid_user", "Authentication failed.")


async def test_verify_blocked_user_through_service_is_revoked(
    gateway: httpx.AsyncClient, http: httpx.AsyncClient, world: World, services: Services
) -> None:
    token = await access_token(http, world)
    await services.admin.block_user(world.user_id)

    assert_error(await verify(gateway, token["value"]), 401, "invalid_grant", DEAD)


async def test_verify_first_failing_check_decides(
    gateway: httpx.AsyncClient,
    http: httpx.AsyncClient,
    world: World,
    services: Services,
    clock: FakeClock,
) -> None:
    token = await access_token(http, world)
    async with services.engine.begin() as conn:
        await conn.execute(users.update().values(is_blocked=True))
    await services.admin.set_client_blocked(world.client_id, True)
    # Blocked client and blocked user: the client answers.
    response = await verify(gateway, token["value"])
    assert_error(response, 401, "invalid_client", "Authentication failed.")
    # Expired as well: the expiry answers.
    clock.advance(8 * 3600)
    assert_error(await verify(gateway, token["value"]), 401, "invalid_grant", DEAD)
    # A refresh token is refused as such, whatever else is wrong with it.
    response = await verify(gateway, world.refresh_token)
    assert_error(response, 401, "invalid_grant", "Token is not an access token.")


@pytest.mark.parametrize(
    "authorization",
    [None, "", "Bearer", "Bearer ", "Bearer wrong-key", f"Basic {ADMIN_KEY}", ADMIN_KEY],
)
async def test_verify_requires_an_admin_key(
    http: httpx.AsyncClient, world: World, authorization: str | None
) -> None:
    token = await access_token(http, world)
    headers = {} if authorization is None else {"Authorization": authorization}

    response = await http.get(f"/admin/tokens/{token['value']}/verify", headers=headers)

    assert_error(response, 401, "access_denied", "Missing or invalid admin key.")
    assert response.headers["www-authenticate"].startswith("Bearer")


async def test_verify_accepts_every_configured_key(http: httpx.AsyncClient, world: World) -> None:
    token = await access_token(http, world)
    for key in (ADMIN_KEY, SECOND_ADMIN_KEY):
        response = await http.get(
            f"/admin/tokens/{token['value']}/verify", headers={"Authorization": f"bearer {key}"}
        )
        assert response.status_code == 200


async def test_admin_routes_refuse_everyone_when_no_key_is_configured(
    settings: Settings, services: Services, world: World
) -> None:
    bare = settings.model_copy(update={"admin_keys": ()})
    transport = httpx.ASGITransport(app=build_app(bare, services))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        for headers in ({}, AUTH, {"Authorization": "Bearer "}):
            response = await client.get("/admin/tokens/x/verify", headers=headers)
            assert_error(response, 401, "access_denied", "Missing or invalid admin key.")


async def test_verify_never_logs_the_token(
    gateway: httpx.AsyncClient,
    http: httpx.AsyncClient,
    world: World,
    caplog: pytest.LogCaptureFixture,
) -> None:
    token = await access_token(http, world)
    caplog.set_level(logging.DEBUG)

    for value in (token["value"], world.refresh_token, "unknown-token-value"):
        await verify(gateway, value)
    await http.get(f"/admin/tokens/{token['value']}/verify")  # without a key

    # The test's own HTTP client logs its URLs; everything the service logs is checked.
    records = [r for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))]
    paths = [getattr(r, "path", None) for r in records if r.name == "ehealth_auth.access"]
    assert paths == ["/admin/tokens/[REDACTED]/verify"] * 4
    for record in records:
        logged = repr(record.__dict__) + record.getMessage()
        for secret in (token["value"], world.refresh_token, "unknown-token-value", ADMIN_KEY):
            assert secret not in logged


async def test_verify_leaves_the_sqlalchemy_pool_alone(
    gateway: httpx.AsyncClient, http: httpx.AsyncClient, world: World, services: Services
) -> None:
    token = await access_token(http, world)
    events: list[str] = []

    def checkout(*_args: Any) -> None:
        events.append("checkout")

    def statement(*_args: Any) -> None:
        events.append("statement")

    sa.event.listen(services.engine.sync_engine.pool, "checkout", checkout)
    sa.event.listen(services.engine.sync_engine, "before_cursor_execute", statement)
    try:
        for _ in range(3):
            assert (await verify(gateway, token["value"])).status_code == 200
    finally:
        sa.event.remove(services.engine.sync_engine.pool, "checkout", checkout)
        sa.event.remove(services.engine.sync_engine, "before_cursor_execute", statement)
    # Its one read runs on the driver pool of the hot paths (storage/driver.py), so a burst of
    # gateway calls never queues behind admin work on the engine, nor admin work behind it.
    assert events == []


async def test_verify_path_answers_other_methods_and_shapes_like_any_route(
    gateway: httpx.AsyncClient, http: httpx.AsyncClient, world: World
) -> None:
    token = await access_token(http, world)
    path = f"/admin/tokens/{token['value']}/verify"
    # GET is answered ahead of the router (HotLanes); the rest goes through it.
    wrong = await http.post(path, headers=AUTH)
    assert wrong.status_code == 405
    assert wrong.json()["error"]["type"] == "method_not_allowed"
    assert set(wrong.headers["allow"].split(", ")) == {"GET", "HEAD"}
    head = await http.head(path, headers=AUTH)
    assert head.status_code == 200
    assert head.content == b""
    nested = await http.get(f"/admin/tokens/a/{token['value']}/verify", headers=AUTH)
    assert nested.status_code == 404
    assert nested.json()["error"] == {"type": "not_found", "message": "Not found."}
