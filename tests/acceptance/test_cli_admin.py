"""The operator commands added with the admin API, through the CLI runner, on both backends.

They call the same service methods as the API; here they are checked for their output.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from click.testing import CliRunner, Result

from ehealth_auth.cli.main import cli
from ehealth_auth.settings import Settings
from ehealth_auth.wiring import Services
from tests.support import TEST_SECRET_KEY, World


@pytest.fixture
def invoke(settings: Settings, services: Services) -> Any:
    env = {
        "EHEALTH_AUTH_DATABASE_URL": settings.database_url,
        "EHEALTH_AUTH_SECRET_KEY": TEST_SECRET_KEY,
    }

    def _invoke(*args: str) -> Result:
        return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)

    return _invoke


def ok_json(result: Result) -> Any:
    assert result.exit_code == 0, result.output + result.stderr
    return json.loads(result.stdout)


def test_cli_lists_are_data_and_paging(invoke: Any, world: World) -> None:
    kinds = ok_json(invoke("--json", "client-types", "list"))
    assert [kind["name"] for kind in kinds["data"]] == [world.client_type]
    assert kinds["paging"] == {
        "page_number": 1,
        "page_size": 50,
        "total_pages": 1,
        "total_entries": 1,
    }
    clients = ok_json(invoke("--json", "clients", "list", "--page-size", "1"))
    assert clients["data"][0]["id"] == str(world.client_id)
    users = ok_json(invoke("--json", "users", "list"))
    assert users["data"] == [
        {"id": str(world.user_id), "email": world.user_email, "is_blocked": False}
    ]
    approvals = ok_json(invoke("--json", "approvals", "list", "--user-id", str(world.user_id)))
    assert approvals["paging"]["total_entries"] == 1
    tokens = ok_json(invoke("--json", "tokens", "list", "--client-id", str(world.client_id)))
    assert [token["id"] for token in tokens["data"]] == [str(world.refresh_token_id)]
    assert world.refresh_token not in json.dumps(tokens)


def test_cli_list_table(invoke: Any, world: World) -> None:
    result = invoke("clients", "list")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["id", "name", "client_type", "is_blocked", "connections"]
    assert lines[1].split()[0] == str(world.client_id)
    assert lines[-1] == "page 1 of 1, 1 in all"
    assert invoke("users", "list", "--page-size", "301").exit_code == 2


def test_cli_get_block_unblock_and_rotate(invoke: Any, world: World) -> None:
    client = ok_json(invoke("--json", "clients", "get", str(world.client_id)))
    assert client["is_blocked"] is False
    assert ok_json(invoke("--json", "clients", "unblock", str(world.client_id)))["id"] == str(
        world.client_id
    )
    connection_id = client["connections"][0]["id"]
    rotated = ok_json(
        invoke("--json", "clients", "rotate-secret", str(world.client_id), connection_id)
    )
    assert rotated["id"] == connection_id
    assert rotated["secret"] != world.client_secret
    assert ok_json(invoke("--json", "users", "get", str(world.user_id)))["email"] == (
        world.user_email
    )
    assert ok_json(invoke("--json", "users", "block", str(world.user_id)))["is_blocked"] is True
    unblocked = ok_json(invoke("--json", "users", "unblock", str(world.user_id)))
    assert unblocked["is_blocked"] is False


def test_cli_logout_and_token_delete(invoke: Any, world: World) -> None:
    deleted = ok_json(invoke("--json", "tokens", "delete", str(world.refresh_token_id)))
    assert deleted["revoked_at"] is not None
    assert "value" not in deleted
    logout = ok_json(
        invoke("--json", "users", "logout", str(world.user_id), "--client-id", str(world.client_id))
    )
    assert logout == {
        "user_id": str(world.user_id),
        "client_id": str(world.client_id),
        "revoked_tokens": 0,
    }


def test_cli_prints_every_bad_field_by_name(invoke: Any, world: World) -> None:
    result = invoke(
        "clients",
        "create",
        "--name",
        " ",
        "--client-type",
        world.client_type,
        "--redirect-uri",
        "ftp://x.org/cb",
    )
    assert result.exit_code == 1
    assert "name: can't be blank" in result.stderr
    assert "redirect_uri: must be an absolute http(s) URI" in result.stderr
    assert "Validation failed" not in result.stderr
    short = invoke("users", "create", "--email", "a@b.org", "--password", "short")
    assert "password: should be at least 8 characters" in short.stderr
    unknown = invoke("tokens", "delete", "00000000-0000-0000-0000-000000000000")
    assert unknown.exit_code == 1
    assert "Token not found." in unknown.stderr
