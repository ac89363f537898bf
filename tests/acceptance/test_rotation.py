"""CONTRACT §6 over HTTP: rotation, reuse detection, the grace window, revoking earlier access."""

from __future__ import annotations

import asyncio
from typing import Any
from uuid import UUID

import httpx
import pytest
import sqlalchemy as sa

from ehealth_auth.crypto import HmacSecretHasher
from ehealth_auth.storage.tables import connections, tokens
from ehealth_auth.wiring import Services
from tests.fakes import FakeClock
from tests.support import SCOPE, TEST_SECRET_KEY, World

HASHER = HmacSecretHasher(TEST_SECRET_KEY.encode())

ROTATION = {"refresh_rotation": "on", "refresh_reuse_grace": 0}
GRACE = {"refresh_rotation": "on", "refresh_reuse_grace": 5}
ALREADY_USED = {"type": "invalid_grant", "message": "Token has already been used."}
REVOKED_FOR_REUSE = {
    "type": "invalid_grant",
    "message": "Token revoked: reuse of a token of the same authorization was detected.",
}


async def refresh(http: httpx.AsyncClient, world: World, token: str) -> httpx.Response:
    return await http.post("/oauth/tokens", json=world.refresh_body(refresh_token=token))


async def family_rows(services: Services, world: World) -> list[Any]:
    async with services.engine.connect() as conn:
        result = await conn.execute(
            sa.select(tokens).where(tokens.c.family_id == world.refresh_token_id)
        )
        return list(result)


@pytest.mark.parametrize("setting_overrides", [ROTATION])
async def test_rotation_issues_a_successor_and_retires_the_old_token(
    http: httpx.AsyncClient, world: World, services: Services
) -> None:
    first = await refresh(http, world, world.refresh_token)
    assert first.status_code == 201
    details = first.json()["data"]["details"]
    successor = details.pop("refresh_token")
    assert successor != world.refresh_token
    assert set(details) == {"client_id", "grant_type", "scope"}

    second = await refresh(http, world, successor)
    assert second.status_code == 201
    assert second.json()["data"]["details"]["refresh_token"] not in (successor, world.refresh_token)
    # Stored details never hold the refresh token value.
    assert all("refresh_token" not in row.details for row in await family_rows(services, world))


@pytest.mark.parametrize("setting_overrides", [GRACE, ROTATION])
async def test_the_rotations_rows_descend_from_the_presented_token(
    http: httpx.AsyncClient, world: World, services: Services, clock: FakeClock
) -> None:
    # On PostgreSQL the read and the rotation are one statement; on SQLite, a read and then a
    # transaction: the rows are alike.
    response = await refresh(http, world, world.refresh_token)
    assert response.status_code == 201
    data = response.json()["data"]
    successor_value = data["details"].pop("refresh_token")

    rows = {row.id: row for row in await family_rows(services, world)}
    async with services.engine.connect() as conn:
        # The world's one connection, whose secret was presented.
        connection_id = (
            await conn.execute(
                sa.select(connections.c.id).where(connections.c.client_id == world.client_id)
            )
        ).scalar_one()
    retired = rows.pop(world.refresh_token_id)
    successor = rows.pop(retired.successor_id)
    access = rows.pop(UUID(data["id"]))
    assert rows == {}
    assert bytes(successor.value_hash) == HASHER.digest(successor_value)
    assert bytes(access.value_hash) == HASHER.digest(data["value"])
    assert clock.now() * 1000 <= retired.retired_at_ms < clock.now_ms()
    assert retired.revoked_at is None
    for row, name in ((successor, "refresh_token"), (access, "access_token")):
        assert (row.name, row.user_id, row.client_id, row.scope) == (
            name,
            world.user_id,
            world.client_id,
            SCOPE,
        )
        assert (row.issued_at, row.parent_id, row.connection_id) == (
            clock.now(),
            retired.id,
            connection_id,
        )
        assert row.revoked_at is row.retired_at_ms is row.successor_id is None
    assert access.expires_at == data["expires_at"]
    assert successor.expires_at > access.expires_at
    assert access.details == data["details"]
    assert successor.details == {"client_id": str(world.client_id), "scope": SCOPE}


@pytest.mark.parametrize("setting_overrides", [ROTATION])
async def test_refresh_revokes_family_when_old_token_is_reused(
    http: httpx.AsyncClient, world: World, services: Services, clock: FakeClock
) -> None:
    successor = (await refresh(http, world, world.refresh_token)).json()["data"]["details"][
        "refresh_token"
    ]
    clock.advance(1)  # past the race window
    reused = await refresh(http, world, world.refresh_token)
    assert reused.status_code == 401
    assert reused.json()["error"] == ALREADY_USED

    rows = await family_rows(services, world)
    assert len(rows) == 3  # the original, its successor, one access token
    assert all(row.revoked_at is not None for row in rows)
    # Both the successor and the reused token now say why they are dead.
    for token in (successor, world.refresh_token):
        after = await refresh(http, world, token)
        assert after.status_code == 401
        assert after.json()["error"] == REVOKED_FOR_REUSE


@pytest.mark.parametrize("setting_overrides", [ROTATION])
async def test_a_family_revoked_for_another_reason_still_says_expired(
    http: httpx.AsyncClient, world: World, services: Services
) -> None:
    successor = (await refresh(http, world, world.refresh_token)).json()["data"]["details"][
        "refresh_token"
    ]
    await services.admin.revoke_user_tokens(world.user_id)
    after = await refresh(http, world, successor)
    assert after.json()["error"] == {"type": "token_expired", "message": "Token expired."}


@pytest.mark.parametrize("setting_overrides", [{"refresh_rotation": "on"}])
async def test_default_grace_lets_a_client_retry_a_response_lost_to_a_restart(
    http: httpx.AsyncClient, world: World, services: Services, clock: FakeClock
) -> None:
    first = (await refresh(http, world, world.refresh_token)).json()["data"]
    clock.advance(10)  # the answer was lost; the service restarted; the client retries
    retry = await refresh(http, world, world.refresh_token)
    assert retry.status_code == 201
    successor = first["details"]["refresh_token"]
    assert retry.json()["data"]["details"]["refresh_token"] == successor
    assert (await refresh(http, world, successor)).status_code == 201
    assert all(row.revoked_at is None for row in await family_rows(services, world))
    clock.advance(31)  # past the default window, the retired token is reuse again
    reused = await refresh(http, world, world.refresh_token)
    assert reused.json()["error"] == ALREADY_USED


@pytest.mark.parametrize("setting_overrides", [ROTATION])
async def test_retired_token_within_race_window_is_a_lost_race(
    http: httpx.AsyncClient, world: World, services: Services, clock: FakeClock
) -> None:
    assert (await refresh(http, world, world.refresh_token)).status_code == 201
    clock.advance(0.4)  # a straggler of the same burst, inside the 500 ms window
    late = await refresh(http, world, world.refresh_token)
    assert late.status_code == 401
    assert late.json()["error"] == ALREADY_USED
    assert all(row.revoked_at is None for row in await family_rows(services, world))


@pytest.mark.parametrize("setting_overrides", [{**ROTATION, "refresh_race_window_ms": 0}])
async def test_retired_token_after_zero_race_window_is_reuse(
    http: httpx.AsyncClient, world: World, services: Services
) -> None:
    assert (await refresh(http, world, world.refresh_token)).status_code == 201
    reused = await refresh(http, world, world.refresh_token)
    assert reused.json()["error"] == ALREADY_USED
    assert all(row.revoked_at is not None for row in await family_rows(services, world))


@pytest.mark.parametrize("setting_overrides", [ROTATION])
async def test_simultaneous_refreshes_have_one_winner_and_keep_the_family(
    http: httpx.AsyncClient, world: World, services: Services
) -> None:
    answers = await asyncio.gather(*(refresh(http, world, world.refresh_token) for _ in range(8)))
    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [201] + [401] * 7
    assert all(a.json()["error"] == ALREADY_USED for a in answers if a.status_code == 401)
    winner = next(a for a in answers if a.status_code == 201).json()["data"]
    # The losers revoked nothing: the winner's tokens live on.
    again = await refresh(http, world, winner["details"]["refresh_token"])
    assert again.status_code == 201
    live = [row for row in await family_rows(services, world) if row.revoked_at is None]
    current = [r for r in live if r.name == "refresh_token" and r.retired_at_ms is None]
    assert len(current) == 1


@pytest.mark.parametrize("setting_overrides", [GRACE])
async def test_retry_within_grace_gets_the_same_successor(
    http: httpx.AsyncClient, world: World, clock: FakeClock, services: Services
) -> None:
    first = (await refresh(http, world, world.refresh_token)).json()["data"]
    clock.advance(4)
    retry = await refresh(http, world, world.refresh_token)
    assert retry.status_code == 201
    data = retry.json()["data"]
    assert data["details"]["refresh_token"] == first["details"]["refresh_token"]
    assert data["value"] != first["value"]  # a fresh access token

    clock.advance(2)  # past the grace window: reuse
    reused = await refresh(http, world, world.refresh_token)
    assert reused.json()["error"] == ALREADY_USED
    assert all(row.revoked_at is not None for row in await family_rows(services, world))
    assert all(row.successor_value_enc is None for row in await family_rows(services, world))


@pytest.mark.parametrize("setting_overrides", [GRACE])
async def test_simultaneous_refreshes_with_grace_all_get_the_same_successor(
    http: httpx.AsyncClient, world: World
) -> None:
    answers = await asyncio.gather(*(refresh(http, world, world.refresh_token) for _ in range(6)))
    assert {answer.status_code for answer in answers} == {201}
    assert len({a.json()["data"]["details"]["refresh_token"] for a in answers}) == 1
    assert len({a.json()["data"]["value"] for a in answers}) == 6


@pytest.mark.parametrize("setting_overrides", [ROTATION])
async def test_no_successor_value_is_kept_without_grace(
    http: httpx.AsyncClient, world: World, services: Services
) -> None:
    await refresh(http, world, world.refresh_token)
    assert all(row.successor_value_enc is None for row in await family_rows(services, world))


@pytest.mark.parametrize(
    "setting_overrides",
    [
        {"refresh_revokes_previous_access": "on"},
        {**ROTATION, "refresh_revokes_previous_access": "on"},
    ],
)
async def test_refresh_revokes_earlier_access_tokens_when_configured(
    http: httpx.AsyncClient, world: World, services: Services
) -> None:
    token = world.refresh_token
    issued = []
    for _ in range(3):
        data = (await refresh(http, world, token)).json()["data"]
        issued.append(data["id"])
        token = data["details"].get("refresh_token", token)
    access = {
        str(row.id): row for row in await family_rows(services, world) if row.name == "access_token"
    }
    assert [access[i].revoked_at is None for i in issued] == [False, False, True]


async def test_rotation_off_keeps_earlier_access_tokens(
    http: httpx.AsyncClient, world: World, services: Services
) -> None:
    for _ in range(2):
        assert (await refresh(http, world, world.refresh_token)).status_code == 201
    assert all(row.revoked_at is None for row in await family_rows(services, world))


GATEWAY_KEY = "gateway-key-0123456789abcdef-0123456789"


@pytest.mark.parametrize("setting_overrides", [{**ROTATION, "gateway_keys": GATEWAY_KEY}])
async def test_reuse_kills_the_familys_access_tokens_at_verify_too(
    http: httpx.AsyncClient, world: World, clock: FakeClock
) -> None:
    first = (await refresh(http, world, world.refresh_token)).json()["data"]
    gateway = {"Authorization": f"Bearer {GATEWAY_KEY}"}
    verify = f"/admin/tokens/{first['value']}/verify"
    assert (await http.get(verify, headers=gateway)).status_code == 200

    clock.advance(1)  # past the race window: reuse
    assert (await refresh(http, world, world.refresh_token)).json()["error"] == ALREADY_USED

    dead = await http.get(verify, headers=gateway)
    assert dead.status_code == 401
    assert dead.json()["error"]["type"] == "invalid_grant"
