"""A connection's consumer (the MIS client using it), set by the admin API or the CLI, is what
verify answers as `urgent.mis_client_id`."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from ehealth_auth.cli.main import cli
from ehealth_auth.settings import Settings
from ehealth_auth.wiring import Services
from tests.admin_support import AUTH, admin_overrides, checked_client
from tests.support import TEST_SECRET_KEY, World, seed_world


@pytest.fixture
def setting_overrides() -> dict[str, Any]:
    return admin_overrides()


@pytest.fixture
async def admin(settings: Settings, services: Services) -> AsyncIterator[httpx.AsyncClient]:
    async with checked_client(settings, services, AUTH) as (client, _answers):
        yield client


async def connection_of(admin: httpx.AsyncClient, client_id: object) -> dict[str, Any]:
    response = await admin.get(f"/admin/clients/{client_id}")
    assert response.status_code == 200
    connection: dict[str, Any] = response.json()["data"]["connections"][0]
    return connection


async def mis_client_of_a_refreshed_token(
    admin: httpx.AsyncClient, http: httpx.AsyncClient, world: World
) -> Any:
    issued = await http.post("/oauth/tokens", json=world.refresh_body())
    assert issued.status_code == 201
    verified = await admin.get(f"/admin/tokens/{issued.json()['data']['value']}/verify")
    assert verified.status_code == 200
    return verified.json()["urgent"]["mis_client_id"]


async def test_admin_sets_and_clears_the_consumer_that_verify_reports(
    admin: httpx.AsyncClient, http: httpx.AsyncClient, world: World, services: Services
) -> None:
    mis = await seed_world(services.admin, tag="mis", client_type=world.client_type)
    connection = await connection_of(admin, world.client_id)
    path = f"/admin/clients/{world.client_id}/connections/{connection['id']}"
    assert await mis_client_of_a_refreshed_token(admin, http, world) is None

    response = await admin.patch(path, json={"connection": {"consumer_id": str(mis.client_id)}})

    assert response.status_code == 200
    assert response.json()["data"] == {**connection, "consumer_id": str(mis.client_id)}
    assert await mis_client_of_a_refreshed_token(admin, http, world) == str(mis.client_id)

    cleared = await admin.patch(path, json={"connection": {"consumer_id": None}})
    assert cleared.json()["data"]["consumer_id"] is None
    assert await mis_client_of_a_refreshed_token(admin, http, world) is None


@pytest.mark.parametrize(
    ("body", "status", "error_type"),
    [
        ({"connection": {}}, 422, "validation_failed"),
        ({"connection": {"consumer_id": "not-a-uuid"}}, 422, "validation_failed"),
        ({"connection": {"consumer_id": 7}}, 422, "validation_failed"),
        ({"connection": {"consumer_id": "00000000-0000-4000-8000-000000000000"}}, 404, "not_found"),
        ({"consumer_id": None}, 400, "request_malformed"),
    ],
)
async def test_setting_a_consumer_refuses_bad_or_unknown_ids_and_changes_nothing(
    admin: httpx.AsyncClient, world: World, body: dict[str, Any], status: int, error_type: str
) -> None:
    connection = await connection_of(admin, world.client_id)
    path = f"/admin/clients/{world.client_id}/connections/{connection['id']}"

    response = await admin.patch(path, json=body)

    assert response.status_code == status
    assert response.json()["error"]["type"] == error_type
    assert await connection_of(admin, world.client_id) == connection


async def test_consumer_of_an_unknown_connection_is_not_found(
    admin: httpx.AsyncClient, world: World
) -> None:
    path = f"/admin/clients/{world.client_id}/connections/00000000-0000-4000-8000-000000000000"
    response = await admin.patch(path, json={"connection": {"consumer_id": None}})
    assert response.status_code == 404


def test_cli_creates_a_client_with_its_consumer_and_sets_it_later(
    settings: Settings, world: World
) -> None:
    env = {
        "EHEALTH_AUTH_DATABASE_URL": settings.database_url,
        "EHEALTH_AUTH_SECRET_KEY": TEST_SECRET_KEY,
    }

    def run(*args: str) -> dict[str, Any]:
        result = CliRunner().invoke(cli, ["--json", *args], env=env, catch_exceptions=False)
        assert result.exit_code == 0, result.stderr
        value: dict[str, Any] = json.loads(result.stdout)
        return value

    created = run(
        "clients",
        "create",
        "--name",
        "Pharmacy",
        "--client-type",
        world.client_type,
        "--redirect-uri",
        "https://pharmacy.example.org/cb",
        "--consumer-id",
        str(world.client_id),
    )
    assert created["connection"]["consumer_id"] == str(world.client_id)
    stored = run("clients", "get", created["id"])["connections"][0]
    assert stored["consumer_id"] == str(world.client_id)

    connection = run("clients", "get", str(world.client_id))["connections"][0]
    assert connection["consumer_id"] is None
    changed = run(
        "clients",
        "set-consumer",
        str(world.client_id),
        connection["id"],
        "--consumer-id",
        created["id"],
    )
    assert changed == {**connection, "consumer_id": created["id"]}
    assert run("clients", "get", str(world.client_id))["connections"][0] == changed
    cleared = run("clients", "set-consumer", str(world.client_id), connection["id"])
    assert cleared["consumer_id"] is None
