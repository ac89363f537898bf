"""Admin API, token listings and revocation, on both backends; every answer is checked against
/openapi.json."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from ehealth_auth.protocol.model import TokenName
from ehealth_auth.settings import Settings
from ehealth_auth.wiring import Services
from tests.admin_support import AUTH, admin_overrides, checked_client
from tests.fakes import FakeClock
from tests.support import World, seed_world

TOKEN_FIELDS = {
    "id",
    "name",
    "user_id",
    "client_id",
    "scope",
    "issued_at",
    "expires_at",
    "revoked_at",
}


@pytest.fixture
def setting_overrides() -> dict[str, Any]:
    return admin_overrides()


@pytest.fixture
async def admin(settings: Settings, services: Services) -> AsyncIterator[httpx.AsyncClient]:
    async with checked_client(settings, services, AUTH) as (client, _answers):
        yield client


async def test_list_tokens_by_user_and_client_without_values(
    admin: httpx.AsyncClient,
    http: httpx.AsyncClient,
    world: World,
    services: Services,
    clock: FakeClock,
) -> None:
    other = await seed_world(services.admin, tag="b", client_type=world.client_type)
    clock.advance(5)
    access = (await http.post("/oauth/tokens", json=world.refresh_body())).json()["data"]

    mine = (await admin.get("/admin/tokens", params={"user_id": str(world.user_id)})).json()

    assert [(t["id"], t["name"]) for t in mine["data"]] == [
        (access["id"], "access_token"),  # newest first
        (str(world.refresh_token_id), "refresh_token"),
    ]
    assert all(set(token) == TOKEN_FIELDS for token in mine["data"])
    assert mine["data"][0]["expires_at"] == access["expires_at"]
    assert mine["data"][0]["revoked_at"] is None
    assert access["value"] not in str(mine)
    theirs = (await admin.get("/admin/tokens", params={"client_id": str(other.client_id)})).json()
    assert [t["id"] for t in theirs["data"]] == [str(other.refresh_token_id)]
    both = await admin.get(
        "/admin/tokens", params={"user_id": str(world.user_id), "client_id": str(other.client_id)}
    )
    assert both.json()["data"] == []
    every = (await admin.get("/admin/tokens", params={"page_size": 2, "page": 2})).json()
    assert every["paging"] == {
        "page_number": 2,
        "page_size": 2,
        "total_pages": 2,
        "total_entries": 3,
    }


async def test_list_tokens_validates_filters(admin: httpx.AsyncClient) -> None:
    response = await admin.get("/admin/tokens", params={"user_id": "me"})
    assert response.status_code == 422
    assert response.json()["error"]["invalid"] == [
        {
            "entry_type": "query_parameter",
            "entry": "$.user_id",
            "rules": [{"rule": "cast", "description": "is invalid", "params": ["uuid"]}],
        }
    ]


async def test_delete_token_revokes_it(
    admin: httpx.AsyncClient, world: World, services: Services, clock: FakeClock
) -> None:
    access = await services.admin.create_token(
        TokenName.ACCESS_TOKEN, world.user_id, world.client_id
    )

    response = await admin.delete(f"/admin/tokens/{access.id}")

    data = response.json()["data"]
    assert data["id"] == str(access.id)
    assert data["revoked_at"] == clock.now()
    verify = await admin.get(f"/admin/tokens/{access.value}/verify")
    assert verify.json()["error"]["type"] == "invalid_grant"
    # Revoking again keeps the first revocation time.
    clock.advance(60)
    again = await admin.delete(f"/admin/tokens/{access.id}")
    assert again.json()["data"]["revoked_at"] == data["revoked_at"]
    # Only that token.
    live = (await admin.get("/admin/tokens")).json()["data"]
    assert [t["id"] for t in live if t["revoked_at"] is None] == [str(world.refresh_token_id)]


@pytest.mark.parametrize("token_id", [str(uuid.uuid4()), "not-a-uuid"])
async def test_delete_unknown_token_is_404(admin: httpx.AsyncClient, token_id: str) -> None:
    response = await admin.delete(f"/admin/tokens/{token_id}")
    assert response.status_code == 404
    assert response.json()["error"] == {"type": "not_found", "message": "Token not found."}
