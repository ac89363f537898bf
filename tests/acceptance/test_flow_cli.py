"""The operator commands of the authorization-code flow, through the CLI runner, on both
backends: set a password, lift a login lockout, list approvals."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
from click.testing import CliRunner, Result

from ehealth_auth.cli.main import cli
from ehealth_auth.settings import Settings
from ehealth_auth.wiring import Services
from tests.fakes import FakeClock
from tests.flow_support import login_body
from tests.support import SCOPE, TEST_SECRET_KEY, World, seed_world

LOCKOUT = {"login_max_failures": 2}


@pytest.fixture
def invoke(settings: Settings, services: Services) -> Any:
    env = {
        "EHEALTH_AUTH_DATABASE_URL": settings.database_url,
        "EHEALTH_AUTH_SECRET_KEY": TEST_SECRET_KEY,
        "EHEALTH_AUTH_LOGIN_MAX_FAILURES": str(settings.login_max_failures),
    }

    def _invoke(*args: str, input: str | None = None) -> Result:
        return CliRunner().invoke(cli, list(args), env=env, input=input, catch_exceptions=False)

    return _invoke


def ok_json(result: Result) -> Any:
    assert result.exit_code == 0, result.output + result.stderr
    return json.loads(result.stdout)


async def status_of_login(http: httpx.AsyncClient, world: World, **overrides: str) -> int:
    return (await http.post("/auth/login", json=login_body(world, **overrides))).status_code


async def test_set_password_replaces_the_password(
    invoke: Any, http: httpx.AsyncClient, world: World
) -> None:
    user = ok_json(
        await asyncio.to_thread(
            invoke,
            "--json",
            "users",
            "set-password",
            str(world.user_id),
            "--password",
            "n3w-secret!",
        )
    )
    assert user == {"id": str(world.user_id), "email": world.user_email, "is_blocked": False}
    assert await status_of_login(http, world) == 401
    assert await status_of_login(http, world, password="n3w-secret!") == 201


def test_set_password_prompts_twice_and_checks_length(invoke: Any, world: World) -> None:
    prompted = invoke(
        "users", "set-password", str(world.user_id), input="long-enough\nlong-enough\n"
    )
    assert prompted.exit_code == 0, prompted.output
    short = invoke("users", "set-password", str(world.user_id), "--password", "short")
    assert short.exit_code != 0
    assert "at least 8 characters" in short.stderr
    unknown = invoke(
        "users", "set-password", "00000000-0000-0000-0000-000000000000", "--password", "long-enough"
    )
    assert unknown.exit_code != 0
    assert "User not found." in unknown.stderr


@pytest.mark.parametrize("setting_overrides", [LOCKOUT])
async def test_unlock_and_set_password_lift_a_lockout(
    invoke: Any, http: httpx.AsyncClient, world: World, clock: FakeClock
) -> None:
    """Within EHEALTH_AUTH_THROTTLE_SYNC_MS: each process re-reads the counters that often."""
    for _ in range(2):
        assert await status_of_login(http, world, password="wrong-pass") == 401
    assert await status_of_login(http, world) == 429
    unlocked = ok_json(
        await asyncio.to_thread(
            invoke, "--json", "users", "unlock", "--email", world.user_email.upper()
        )
    )
    assert unlocked == {"email": world.user_email.upper(), "unlocked": True}
    clock.advance(1)
    assert await status_of_login(http, world) == 201
    assert (
        ok_json(
            await asyncio.to_thread(
                invoke, "--json", "users", "unlock", "--email", world.user_email
            )
        )["unlocked"]
        is False
    )

    for _ in range(2):
        await status_of_login(http, world, password="wrong-pass")
    assert await status_of_login(http, world) == 429
    await asyncio.to_thread(
        invoke, "users", "set-password", str(world.user_id), "--password", "an0ther-pass"
    )
    clock.advance(1)
    assert await status_of_login(http, world, password="an0ther-pass") == 201


async def test_approvals_list_filters_by_user_and_client(
    invoke: Any, world: World, services: Services
) -> None:
    other = await seed_world(services.admin, tag="b", client_type=world.client_type)
    everything = ok_json(await asyncio.to_thread(invoke, "--json", "approvals", "list"))["data"]
    assert {(a["user_id"], a["client_id"], a["scope"]) for a in everything} == {
        (str(world.user_id), str(world.client_id), SCOPE),
        (str(other.user_id), str(other.client_id), SCOPE),
    }
    mine = ok_json(
        await asyncio.to_thread(
            invoke, "approvals", "list", "--user-id", str(world.user_id), "--json"
        )
    )
    assert [a["client_id"] for a in mine["data"]] == [str(world.client_id)]
    by_client = ok_json(
        await asyncio.to_thread(
            invoke, "--json", "approvals", "list", "--client-id", str(other.client_id)
        )
    )
    assert [a["user_id"] for a in by_client["data"]] == [str(other.user_id)]
    table = await asyncio.to_thread(invoke, "approvals", "list")
    assert table.exit_code == 0
    assert str(world.client_id) in table.stdout
