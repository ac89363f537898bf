"""Admin API, client types and clients, on both backends; every answer is checked against
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
from tests.support import World

REDIRECT = "https://mis.example.org/cb"


@pytest.fixture
def setting_overrides() -> dict[str, Any]:
    return admin_overrides()


@pytest.fixture
async def admin(settings: Settings, services: Services) -> AsyncIterator[httpx.AsyncClient]:
    async with checked_client(settings, services, AUTH) as (client, _answers):
        yield client


def required(path: str) -> dict[str, Any]:
    return {
        "entry_type": "json_data_property",
        "entry": path,
        "rules": [{"rule": "required", "description": "can't be blank", "params": []}],
    }


def assert_error(response: httpx.Response, status: int, type_: str, message: str) -> None:
    assert response.status_code == status, response.text
    assert response.json()["error"]["type"] == type_
    assert response.json()["error"]["message"] == message


async def new_client(
    admin: httpx.AsyncClient, client_type: str = "MIS", name: str = "Clinic"
) -> dict[str, Any]:
    response = await admin.post(
        "/admin/clients",
        json={"client": {"name": name, "client_type": client_type, "redirect_uri": REDIRECT}},
    )
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


async def refresh(
    http: httpx.AsyncClient, client_id: str, secret: str, token: str
) -> httpx.Response:
    body = {
        "token": {
            "grant_type": "refresh_token",
            "client_id": client_id,
            "client_secret": secret,
            "refresh_token": token,
        }
    }
    return await http.post("/oauth/tokens", json=body)


# ------------------------------------------------------------------------------ client types


async def test_create_client_type(admin: httpx.AsyncClient) -> None:
    response = await admin.post(
        "/admin/client_types", json={"client_type": {"name": " MIS ", "scope": "b  a b"}}
    )

    assert response.status_code == 201
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["meta"]["url"] == "http://testserver/admin/client_types"
    assert body["meta"]["type"] == "object"
    assert body["data"] == {"id": body["data"]["id"], "name": "MIS", "scope": "b a"}


async def test_create_client_type_validation(admin: httpx.AsyncClient) -> None:
    blank = await admin.post("/admin/client_types", json={"client_type": {"scope": "a"}})
    assert blank.status_code == 422
    assert blank.json()["error"]["invalid"] == [required("$.client_type.name")]

    cast = await admin.post("/admin/client_types", json={"client_type": {"name": 1, "scope": []}})
    assert cast.status_code == 422
    assert [entry["entry"] for entry in cast.json()["error"]["invalid"]] == [
        "$.client_type.name",
        "$.client_type.scope",
    ]
    assert cast.json()["error"]["invalid"][0]["rules"] == [
        {"rule": "cast", "description": "is invalid", "params": ["string"]}
    ]

    long = await admin.post("/admin/client_types", json={"client_type": {"name": "x" * 256}})
    assert long.json()["error"]["invalid"][0]["rules"][0]["rule"] == "length"


async def test_create_client_type_bad_bodies(admin: httpx.AsyncClient) -> None:
    not_json = await admin.post(
        "/admin/client_types", content=b"{", headers={"content-type": "application/json"}
    )
    assert_error(not_json, 400, "request_malformed", "Request body is not valid JSON.")
    unwrapped = await admin.post("/admin/client_types", json={"name": "MIS"})
    assert unwrapped.status_code == 400
    text = await admin.post("/admin/client_types", content=b"{}")
    assert text.status_code == 415
    big = await admin.post(
        "/admin/client_types",
        content=b'{"client_type": {"name": "' + b"a" * 70_000 + b'"}}',
        headers={"content-type": "application/json"},
    )
    assert big.status_code == 413


async def test_create_client_type_name_taken_is_409(admin: httpx.AsyncClient) -> None:
    body = {"client_type": {"name": "MIS", "scope": "a"}}
    assert (await admin.post("/admin/client_types", json=body)).status_code == 201
    assert_error(
        await admin.post("/admin/client_types", json=body),
        409,
        "conflict",
        "Client type 'MIS' already exists.",
    )


async def test_list_client_types_pages(admin: httpx.AsyncClient) -> None:
    for name in ("C", "A", "B"):
        await admin.post("/admin/client_types", json={"client_type": {"name": name, "scope": ""}})

    response = await admin.get("/admin/client_types", params={"page": 2, "page_size": 2})

    body = response.json()
    assert body["meta"]["type"] == "list"
    assert body["meta"]["url"] == "http://testserver/admin/client_types"
    assert [entry["name"] for entry in body["data"]] == ["C"]
    assert body["paging"] == {
        "page_number": 2,
        "page_size": 2,
        "total_pages": 2,
        "total_entries": 3,
    }


async def test_list_query_validation(admin: httpx.AsyncClient) -> None:
    response = await admin.get("/admin/client_types", params={"page": "x", "page_size": "301"})

    assert response.status_code == 422
    assert response.json()["error"]["invalid"] == [
        {
            "entry_type": "query_parameter",
            "entry": "$.page",
            "rules": [{"rule": "cast", "description": "is invalid", "params": ["integer"]}],
        },
        {
            "entry_type": "query_parameter",
            "entry": "$.page_size",
            "rules": [
                {
                    "rule": "number",
                    "description": "must be less than or equal to 300",
                    "params": ["300"],
                }
            ],
        },
    ]
    for params in ({"page": "0"}, {"page_size": "-1"}, {"page": "9" * 5000}):
        assert (await admin.get("/admin/client_types", params=params)).status_code == 422


async def test_empty_list_is_one_empty_page(admin: httpx.AsyncClient) -> None:
    body = (await admin.get("/admin/clients")).json()
    assert body["data"] == []
    assert body["paging"] == {
        "page_number": 1,
        "page_size": 50,
        "total_pages": 1,
        "total_entries": 0,
    }


# ----------------------------------------------------------------------------------- clients


async def test_create_client_shows_its_secret_once_and_the_secret_works(
    admin: httpx.AsyncClient, http: httpx.AsyncClient, services: Services
) -> None:
    await admin.post("/admin/client_types", json={"client_type": {"name": "MIS", "scope": "a"}})

    created = await new_client(admin)

    assert created["client_type"] == "MIS"
    assert created["is_blocked"] is False
    assert created["connection"]["redirect_uri"] == REDIRECT
    secret = created["connection"]["secret"]
    assert len(secret) >= 43
    user = await services.admin.create_user("u@example.org", "password-1")
    client_id = uuid.UUID(created["id"])
    await services.admin.approve(user.id, client_id, "a")
    token = await services.admin.create_token(TokenName.REFRESH_TOKEN, user.id, client_id)
    assert (await refresh(http, created["id"], secret, token.value)).status_code == 201
    shown = (await admin.get(f"/admin/clients/{created['id']}")).json()["data"]
    assert secret not in str(shown)


async def test_create_client_lists_every_bad_field(admin: httpx.AsyncClient) -> None:
    response = await admin.post(
        "/admin/clients", json={"client": {"name": " ", "redirect_uri": "ftp://x.org/cb"}}
    )

    assert response.status_code == 422
    error = response.json()["error"]
    assert error["message"].startswith("Validation failed.")
    assert error["invalid"] == [
        required("$.client.name"),
        required("$.client.client_type"),
        {
            "entry_type": "json_data_property",
            "entry": "$.client.redirect_uri",
            "rules": [
                {
                    "rule": "format",
                    "description": (
                        "must be an absolute http(s) URI without user info or a fragment"
                    ),
                    "params": [],
                }
            ],
        },
    ]


async def test_create_client_of_unknown_type_is_404(admin: httpx.AsyncClient) -> None:
    response = await admin.post(
        "/admin/clients",
        json={"client": {"name": "C", "client_type": "Nope", "redirect_uri": REDIRECT}},
    )
    assert_error(response, 404, "not_found", "Client type 'Nope' not found.")


async def test_get_and_list_clients(admin: httpx.AsyncClient, world: World) -> None:
    got = await admin.get(f"/admin/clients/{world.client_id}")

    data = got.json()["data"]
    assert data["id"] == str(world.client_id)
    assert data["client_type"] == world.client_type
    assert [set(c) for c in data["connections"]] == [{"id", "redirect_uri", "consumer_id"}]
    listed = (await admin.get("/admin/clients")).json()
    assert listed["data"] == [data]
    assert listed["paging"]["total_entries"] == 1


@pytest.mark.parametrize("client_id", [str(uuid.uuid4()), "not-a-uuid"])
@pytest.mark.parametrize(
    ("method", "suffix"),
    [
        ("GET", ""),
        ("PATCH", "/actions/block"),
        ("PATCH", "/actions/unblock"),
        ("PATCH", "/actions/deactivate_tokens"),
    ],
)
async def test_unknown_client_is_404(
    admin: httpx.AsyncClient, world: World, client_id: str, method: str, suffix: str
) -> None:
    response = await admin.request(method, f"/admin/clients/{client_id}{suffix}")
    assert_error(response, 404, "not_found", "Client not found.")


async def test_block_and_unblock_client(
    admin: httpx.AsyncClient, http: httpx.AsyncClient, world: World
) -> None:
    blocked = await admin.patch(f"/admin/clients/{world.client_id}/actions/block")
    assert blocked.status_code == 200
    assert blocked.json()["data"]["is_blocked"] is True
    refused = await refresh(http, str(world.client_id), world.client_secret, world.refresh_token)
    assert_error(refused, 401, "invalid_client", "Client is blocked.")

    unblocked = await admin.patch(f"/admin/clients/{world.client_id}/actions/unblock")
    assert unblocked.json()["data"]["is_blocked"] is False
    again = await refresh(http, str(world.client_id), world.client_secret, world.refresh_token)
    assert again.status_code == 201


async def test_deactivate_client_tokens(
    admin: httpx.AsyncClient, http: httpx.AsyncClient, world: World
) -> None:
    response = await admin.patch(f"/admin/clients/{world.client_id}/actions/deactivate_tokens")

    assert response.json()["data"] == {"id": str(world.client_id), "revoked_tokens": 1}
    refused = await refresh(http, str(world.client_id), world.client_secret, world.refresh_token)
    assert_error(refused, 401, "token_expired", "Token expired.")


async def test_rotate_connection_secret(
    admin: httpx.AsyncClient, http: httpx.AsyncClient, world: World
) -> None:
    client = (await admin.get(f"/admin/clients/{world.client_id}")).json()["data"]
    connection_id = client["connections"][0]["id"]

    response = await admin.patch(
        f"/admin/clients/{world.client_id}/connections/{connection_id}/actions/rotate_secret"
    )

    assert response.status_code == 200
    data = response.json()["data"]
    assert data["id"] == connection_id
    assert data["client_id"] == str(world.client_id)
    assert data["secret"] != world.client_secret
    old = await refresh(http, str(world.client_id), world.client_secret, world.refresh_token)
    assert_error(old, 401, "invalid_client", "Invalid client id or secret.")
    new = await refresh(http, str(world.client_id), data["secret"], world.refresh_token)
    assert new.status_code == 201


async def test_rotate_secret_of_unknown_connection_is_404(
    admin: httpx.AsyncClient, world: World, services: Services
) -> None:
    other = await new_client_of_type(admin, world.client_type)
    connection_id = other["connection"]["id"]
    for client_id, conn_id in (
        (world.client_id, connection_id),  # a connection of another client
        (world.client_id, uuid.uuid4()),
        (uuid.uuid4(), connection_id),
        ("x", "y"),
    ):
        response = await admin.patch(
            f"/admin/clients/{client_id}/connections/{conn_id}/actions/rotate_secret"
        )
        assert_error(response, 404, "not_found", "Connection not found.")


async def new_client_of_type(admin: httpx.AsyncClient, client_type: str) -> dict[str, Any]:
    return await new_client(admin, client_type, name="Other")
