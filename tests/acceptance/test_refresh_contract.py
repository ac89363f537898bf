"""CONTRACT §2 over HTTP: the success answer and each of the eleven checks, on both backends."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import httpx
import sqlalchemy as sa

from ehealth_auth.crypto import HmacSecretHasher
from ehealth_auth.storage.tables import approvals, connections, tokens, users
from ehealth_auth.wiring import Services
from tests.fakes import FakeClock
from tests.support import SCOPE, World, seed_world, snapshot


async def post_tokens(http: httpx.AsyncClient, body: Any) -> httpx.Response:
    return await http.post("/oauth/tokens", json=body)


def assert_error(response: httpx.Response, status: int, type_: str, message: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["meta"]["code"] == status
    assert body["error"]["type"] == type_
    assert body["error"]["message"] == message
    assert "data" not in body


async def test_refresh_returns_new_access_token_in_envelope(
    http: httpx.AsyncClient, world: World, clock: FakeClock
) -> None:
    response = await post_tokens(http, world.refresh_body())

    assert response.status_code == 201
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["pragma"] == "no-cache"
    body = response.json()
    assert body["meta"] == {
        "code": 201,
        "url": "http://testserver/oauth/tokens",
        "type": "object",
        "request_id": response.headers["x-request-id"],
    }
    data = body["data"]
    assert set(data) == {"id", "name", "value", "expires_at", "user_id", "details"}
    assert data["name"] == "access_token"
    assert data["expires_at"] == clock.now() + 28_800
    assert data["user_id"] == str(world.user_id)
    assert data["details"] == {
        "client_id": str(world.client_id),
        "grant_type": "refresh_token",
        "scope": SCOPE,
    }
    assert len(data["value"]) >= 22
    assert data["value"] != world.refresh_token


async def test_the_stored_access_token_descends_from_the_presented_refresh_token(
    http: httpx.AsyncClient, world: World, services: Services, clock: FakeClock
) -> None:
    # On PostgreSQL the read and this write are one statement; on SQLite, two: the row is alike.
    response = await post_tokens(http, world.refresh_body())
    assert response.status_code == 201
    data = response.json()["data"]

    async with services.engine.connect() as conn:
        wanted = [UUID(data["id"]), world.refresh_token_id]
        rows = {
            row.id: row
            for row in (await conn.execute(sa.select(tokens).where(tokens.c.id.in_(wanted))))
        }
        # The world's one connection, whose secret was presented.
        connection_id = (
            await conn.execute(
                sa.select(connections.c.id).where(connections.c.client_id == world.client_id)
            )
        ).scalar_one()
    access, refresh = rows[UUID(data["id"])], rows[world.refresh_token_id]
    assert (access.name, access.user_id, access.client_id, access.scope) == (
        "access_token",
        world.user_id,
        world.client_id,
        SCOPE,
    )
    assert (access.issued_at, access.expires_at) == (clock.now(), data["expires_at"])
    assert (access.family_id, access.parent_id, access.connection_id) == (
        refresh.family_id,
        refresh.id,
        connection_id,
    )
    assert access.details == data["details"]
    assert (access.revoked_at, access.retired_at_ms, access.redirect_uri) == (None, None, None)
    assert access.value_hash == HmacSecretHasher(services.server_key).digest(data["value"])


async def test_refresh_token_stays_valid_with_rotation_off(
    http: httpx.AsyncClient, world: World
) -> None:
    first = await post_tokens(http, world.refresh_body())
    second = await post_tokens(http, world.refresh_body())
    assert first.status_code == second.status_code == 201
    assert first.json()["data"]["value"] != second.json()["data"]["value"]


async def test_refresh_scope_is_current_approval_scope(
    http: httpx.AsyncClient, world: World, services: Services
) -> None:
    await services.admin.approve(world.user_id, world.client_id, "employee:read")
    response = await post_tokens(http, world.refresh_body())
    assert response.json()["data"]["details"]["scope"] == SCOPE.replace(
        "app:authorize legal_entity:read employee:read",
        "employee:read app:authorize legal_entity:read",
    )


async def test_check1_body_not_an_object_is_malformed(http: httpx.AsyncClient) -> None:
    bodies: list[Any] = [[1, 2], "text", {"token": "x"}, {"other": {}}, {"token": None}]
    for body in bodies:
        response = await post_tokens(http, body)
        assert response.status_code == 400, body
        assert response.json()["error"]["type"] == "request_malformed"


async def test_check2_missing_grant_type(http: httpx.AsyncClient, world: World) -> None:
    response = await post_tokens(http, world.refresh_body(grant_type=...))
    assert_error(response, 422, "validation_failed", "Request must include grant_type.")


async def test_check3_grant_type_not_allowed(http: httpx.AsyncClient, world: World) -> None:
    for grant in ("password", "client_credentials", "nonsense"):
        response = await post_tokens(http, world.refresh_body(grant_type=grant))
        assert_error(response, 401, "invalid_grant", "Grant type not allowed.")


async def test_check4_missing_fields_listed_in_invalid(http: httpx.AsyncClient) -> None:
    response = await post_tokens(
        http, {"token": {"grant_type": "refresh_token", "client_id": "", "refresh_token": 5}}
    )
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["type"] == "validation_failed"
    assert error["invalid"] == [
        {
            "entry_type": "json_data_property",
            "entry": "$.token.client_id",
            "rules": [{"rule": "required", "description": "can't be blank", "params": []}],
        },
        {
            "entry_type": "json_data_property",
            "entry": "$.token.client_secret",
            "rules": [{"rule": "required", "description": "can't be blank", "params": []}],
        },
        {
            "entry_type": "json_data_property",
            "entry": "$.token.refresh_token",
            "rules": [{"rule": "cast", "description": "is invalid", "params": ["string"]}],
        },
    ]


async def test_check5_wrong_secret_is_invalid_client(http: httpx.AsyncClient, world: World) -> None:
    response = await post_tokens(http, world.refresh_body(client_secret="wrong"))
    assert_error(response, 401, "invalid_client", "Invalid client id or secret.")


async def test_check5_non_uuid_client_id_is_invalid_client(
    http: httpx.AsyncClient, world: World
) -> None:
    for client_id in ("not-a-uuid", "123", "00000000-0000-0000-0000-000000000000"):
        response = await post_tokens(http, world.refresh_body(client_id=client_id))
        assert_error(response, 401, "invalid_client", "Invalid client id or secret.")


async def test_check6_blocked_client(
    http: httpx.AsyncClient, world: World, services: Services
) -> None:
    await services.admin.set_client_blocked(world.client_id, True)
    response = await post_tokens(http, world.refresh_body())
    assert_error(response, 401, "invalid_client", "Client is blocked.")


async def test_check7_unknown_refresh_token(http: httpx.AsyncClient, world: World) -> None:
    response = await post_tokens(http, world.refresh_body(refresh_token="no-such-token"))
    assert_error(response, 401, "token_not_found", "Token not found.")


async def test_check7_access_token_is_not_a_refresh_token(
    http: httpx.AsyncClient, world: World
) -> None:
    access = (await post_tokens(http, world.refresh_body())).json()["data"]["value"]
    response = await post_tokens(http, world.refresh_body(refresh_token=access))
    assert_error(response, 401, "token_not_found", "Token not found.")


async def test_check8_token_of_another_client(
    http: httpx.AsyncClient, world: World, services: Services
) -> None:
    other = await seed_world(services.admin, tag="b", client_type=world.client_type)
    response = await post_tokens(http, world.refresh_body(refresh_token=other.refresh_token))
    assert_error(response, 401, "invalid_grant", "Token not found or expired.")


async def test_check9_expired_token(
    http: httpx.AsyncClient, world: World, clock: FakeClock
) -> None:
    clock.set(world.refresh_expires_at)  # expires_at <= now is expired
    response = await post_tokens(http, world.refresh_body())
    assert_error(response, 401, "token_expired", "Token expired.")


async def test_check9_revoked_token(
    http: httpx.AsyncClient, world: World, services: Services
) -> None:
    await services.admin.deactivate_client_tokens(world.client_id)
    response = await post_tokens(http, world.refresh_body())
    assert_error(response, 401, "token_expired", "Token expired.")


async def test_check10_blocked_user(
    http: httpx.AsyncClient, world: World, services: Services
) -> None:
    # Blocking through the service also revokes the tokens (check 9 would answer first), so
    # the flag is set alone, as a block written by another system would be.
    async with services.engine.begin() as conn:
        await conn.execute(users.update().values(is_blocked=True))
    response = await post_tokens(http, world.refresh_body())
    assert_error(response, 401, "user_blocked", "User blocked.")


async def test_check11_approval_gone(
    http: httpx.AsyncClient, world: World, services: Services
) -> None:
    async with services.engine.begin() as conn:
        await conn.execute(approvals.delete())
    response = await post_tokens(http, world.refresh_body())
    assert_error(response, 401, "access_denied", "Resource owner revoked access for the client.")


async def test_first_failing_check_decides(
    http: httpx.AsyncClient, world: World, services: Services, clock: FakeClock
) -> None:
    # Expired token of a blocked user without approval: check 9 answers, not 10 or 11.
    async with services.engine.begin() as conn:
        await conn.execute(users.update().values(is_blocked=True))
        await conn.execute(approvals.delete())
    clock.advance(31 * 86_400)
    response = await post_tokens(http, world.refresh_body())
    assert_error(response, 401, "token_expired", "Token expired.")
    # A blocked client answers before an unknown token (check 6 before 7).
    await services.admin.set_client_blocked(world.client_id, True)
    response = await post_tokens(http, world.refresh_body(refresh_token="unknown"))
    assert_error(response, 401, "invalid_client", "Client is blocked.")


async def test_rejected_requests_change_nothing(
    http: httpx.AsyncClient, world: World, services: Services
) -> None:
    before = await snapshot(services.engine)
    body: dict[str, Any]
    for body in (
        world.refresh_body(client_secret="wrong"),
        world.refresh_body(refresh_token="missing"),
        world.refresh_body(grant_type="password"),
        {"token": {}},
    ):
        assert (await post_tokens(http, body)).status_code >= 400
    assert await snapshot(services.engine) == before
