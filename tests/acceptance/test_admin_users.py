"""Admin API, users, logout and approvals, on both backends; every answer is checked against
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
from tests.support import World, seed_world


@pytest.fixture
def setting_overrides() -> dict[str, Any]:
    return admin_overrides()


@pytest.fixture
async def admin(settings: Settings, services: Services) -> AsyncIterator[httpx.AsyncClient]:
    async with checked_client(settings, services, AUTH) as (client, _answers):
        yield client


def assert_error(response: httpx.Response, status: int, type_: str, message: str) -> None:
    assert response.status_code == status, response.text
    assert response.json()["error"]["type"] == type_
    assert response.json()["error"]["message"] == message


async def live_tokens(admin: httpx.AsyncClient, **filters: str) -> list[dict[str, Any]]:
    listed = (await admin.get("/admin/tokens", params=filters)).json()["data"]
    return [token for token in listed if token["revoked_at"] is None]


async def verify(admin: httpx.AsyncClient, value: str) -> int:
    return (await admin.get(f"/admin/tokens/{value}/verify")).status_code


# ------------------------------------------------------------------------------------- users


async def test_create_user(admin: httpx.AsyncClient) -> None:
    response = await admin.post(
        "/admin/users", json={"user": {"email": " Ann@Example.org ", "password": "long enough"}}
    )

    assert response.status_code == 201
    data = response.json()["data"]
    assert data == {"id": data["id"], "email": "Ann@Example.org", "is_blocked": False}
    assert "long enough" not in response.text


async def test_create_user_lists_every_bad_field(admin: httpx.AsyncClient) -> None:
    response = await admin.post("/admin/users", json={"user": {"email": "nobody", "password": "x"}})

    assert response.status_code == 422
    invalid = response.json()["error"]["invalid"]
    assert [(e["entry"], e["rules"][0]["rule"]) for e in invalid] == [
        ("$.user.email", "format"),
        ("$.user.password", "length"),
    ]
    assert invalid[1]["rules"][0]["params"] == ["8"]
    blank = await admin.post("/admin/users", json={"user": {"email": None}})
    assert [(e["entry"], e["rules"][0]["rule"]) for e in blank.json()["error"]["invalid"]] == [
        ("$.user.email", "required"),
        ("$.user.password", "required"),
    ]


async def test_create_user_with_taken_email_is_409(admin: httpx.AsyncClient, world: World) -> None:
    response = await admin.post(
        "/admin/users", json={"user": {"email": world.user_email.upper(), "password": "password1"}}
    )
    assert_error(response, 409, "conflict", "A user with this email already exists.")


async def test_get_and_list_users(admin: httpx.AsyncClient, world: World) -> None:
    got = (await admin.get(f"/admin/users/{world.user_id}")).json()["data"]
    assert got == {"id": str(world.user_id), "email": world.user_email, "is_blocked": False}
    await admin.post("/admin/users", json={"user": {"email": "a@x.org", "password": "password1"}})
    listed = (await admin.get("/admin/users", params={"page_size": 1})).json()
    assert [user["email"] for user in listed["data"]] == ["a@x.org"]
    assert listed["paging"]["total_entries"] == 2
    assert listed["paging"]["total_pages"] == 2


@pytest.mark.parametrize("user_id", [str(uuid.uuid4()), "not-a-uuid"])
@pytest.mark.parametrize(
    ("method", "suffix"),
    [
        ("GET", ""),
        ("PATCH", "/actions/block"),
        ("PATCH", "/actions/unblock"),
        ("DELETE", "/tokens"),
    ],
)
async def test_unknown_user_is_404(
    admin: httpx.AsyncClient, world: World, user_id: str, method: str, suffix: str
) -> None:
    response = await admin.request(method, f"/admin/users/{user_id}{suffix}")
    assert_error(response, 404, "not_found", "User not found.")


async def test_block_user_revokes_tokens_and_unblock_does_not_revive_them(
    admin: httpx.AsyncClient, world: World, services: Services
) -> None:
    access = await services.admin.create_token(
        TokenName.ACCESS_TOKEN, world.user_id, world.client_id
    )
    assert await verify(admin, access.value) == 200

    blocked = await admin.patch(f"/admin/users/{world.user_id}/actions/block")

    assert blocked.json()["data"]["is_blocked"] is True
    assert await live_tokens(admin, user_id=str(world.user_id)) == []
    assert await verify(admin, access.value) == 401
    unblocked = await admin.patch(f"/admin/users/{world.user_id}/actions/unblock")
    assert unblocked.json()["data"]["is_blocked"] is False
    assert await verify(admin, access.value) == 401


async def test_logout_revokes_the_users_tokens(
    admin: httpx.AsyncClient, world: World, services: Services
) -> None:
    other = await seed_world(services.admin, tag="b", client_type=world.client_type)
    # The same user approved for a second client, with a token there too.
    await services.admin.approve(world.user_id, other.client_id, "employee:read")
    await services.admin.create_token(TokenName.ACCESS_TOKEN, world.user_id, other.client_id)

    one = await admin.delete(
        f"/admin/users/{world.user_id}/tokens", params={"client_id": str(other.client_id)}
    )

    assert one.json()["data"] == {
        "user_id": str(world.user_id),
        "client_id": str(other.client_id),
        "revoked_tokens": 1,
    }
    assert [t["client_id"] for t in await live_tokens(admin, user_id=str(world.user_id))] == [
        str(world.client_id)
    ]
    every = await admin.delete(f"/admin/users/{world.user_id}/tokens")
    assert every.json()["data"]["revoked_tokens"] == 1
    assert every.json()["data"]["client_id"] is None
    assert await live_tokens(admin, user_id=str(world.user_id)) == []
    # Another user's token is untouched.
    assert len(await live_tokens(admin, user_id=str(other.user_id))) == 1


async def test_logout_query_validation_and_unknown_client(
    admin: httpx.AsyncClient, world: World
) -> None:
    bad = await admin.delete(f"/admin/users/{world.user_id}/tokens", params={"client_id": "x"})
    assert bad.status_code == 422
    assert bad.json()["error"]["invalid"][0]["entry"] == "$.client_id"
    assert bad.json()["error"]["invalid"][0]["entry_type"] == "query_parameter"
    unknown = await admin.delete(
        f"/admin/users/{world.user_id}/tokens", params={"client_id": str(uuid.uuid4())}
    )
    assert_error(unknown, 404, "not_found", "Client not found.")


# ------------------------------------------------------------------------------- approvals


async def test_list_approvals_by_user_and_client(
    admin: httpx.AsyncClient, world: World, services: Services
) -> None:
    other = await seed_world(services.admin, tag="b", client_type=world.client_type)

    everything = (await admin.get("/admin/approvals")).json()
    by_user = (await admin.get("/admin/approvals", params={"user_id": str(other.user_id)})).json()
    by_client = (
        await admin.get("/admin/approvals", params={"client_id": str(world.client_id)})
    ).json()

    assert everything["paging"]["total_entries"] == 2
    assert [a["user_id"] for a in by_user["data"]] == [str(other.user_id)]
    assert [a["client_id"] for a in by_client["data"]] == [str(world.client_id)]
    assert set(by_client["data"][0]) == {"id", "user_id", "client_id", "scope"}
    bad = await admin.get("/admin/approvals", params={"user_id": "1", "client_id": "2"})
    assert [e["entry"] for e in bad.json()["error"]["invalid"]] == ["$.user_id", "$.client_id"]


async def test_delete_approval_revokes_its_tokens(
    admin: httpx.AsyncClient, world: World, services: Services
) -> None:
    approval = (await admin.get("/admin/approvals")).json()["data"][0]

    response = await admin.delete(f"/admin/approvals/{approval['id']}")

    assert response.json()["data"] == {"id": approval["id"], "deleted": True}
    assert (await admin.get("/admin/approvals")).json()["data"] == []
    assert await live_tokens(admin) == []
    again = await admin.delete(f"/admin/approvals/{approval['id']}")
    assert_error(again, 404, "not_found", "Approval not found.")
    malformed = await admin.delete("/admin/approvals/not-a-uuid")
    assert_error(malformed, 404, "not_found", "Approval not found.")
