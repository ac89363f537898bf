"""The admin CLI through its runner, on both backends: --json output, tables, errors on stderr."""

from __future__ import annotations

import json
from typing import Any

import pytest
from click.testing import CliRunner, Result

from ehealth_auth.cli.main import cli
from ehealth_auth.settings import Settings
from ehealth_auth.wiring import Services
from tests.support import TEST_SECRET_KEY


@pytest.fixture
def invoke(settings: Settings, services: Services) -> Any:
    env = {
        "EHEALTH_AUTH_DATABASE_URL": settings.database_url,
        "EHEALTH_AUTH_SECRET_KEY": TEST_SECRET_KEY,
    }

    def _invoke(*args: str) -> Result:
        return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)

    return _invoke


def ok_json(result: Result) -> dict[str, Any]:
    assert result.exit_code == 0, result.output + result.stderr
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def test_cli_builds_a_world_that_refreshes(invoke: Any) -> None:
    kind = ok_json(invoke("--json", "client-types", "create", "--name", "MIS", "--scope", "a b"))
    assert kind["name"] == "MIS"
    assert kind["scope"] == "a b"
    client = ok_json(
        invoke(
            "clients",
            "create",
            "--name",
            "Clinic",
            "--client-type",
            "MIS",
            "--redirect-uri",
            "https://mis.example.org/cb",
            "--json",
        )
    )
    assert set(client) == {"id", "name", "client_type", "is_blocked", "connection"}
    assert set(client["connection"]) == {"id", "redirect_uri", "consumer_id", "secret"}
    assert len(client["connection"]["secret"]) >= 43  # 256 bits, base64url
    user = ok_json(
        invoke("--json", "users", "create", "--email", "A@x.org", "--password", "p4ssw0rd!")
    )
    assert user == {"id": user["id"], "email": "A@x.org", "is_blocked": False}
    approval = ok_json(
        invoke(
            "--json",
            "approvals",
            "create",
            "--user-id",
            user["id"],
            "--client-id",
            client["id"],
            "--scope",
            "b",
        )
    )
    widened = ok_json(
        invoke(
            "--json",
            "approvals",
            "create",
            "--user-id",
            user["id"],
            "--client-id",
            client["id"],
            "--scope",
            "a",
        )
    )
    assert widened["id"] == approval["id"]
    assert widened["scope"] == "a b"
    token = ok_json(
        invoke(
            "--json",
            "tokens",
            "create",
            "--name",
            "refresh_token",
            "--user-id",
            user["id"],
            "--client-id",
            client["id"],
        )
    )
    assert set(token) == {"id", "name", "value", "expires_at", "user_id", "details"}
    assert token["details"] == {"client_id": client["id"], "scope": "a b"}


def test_cli_table_output_without_json(invoke: Any) -> None:
    result = invoke("client-types", "create", "--name", "MIS", "--scope", "a")
    assert result.exit_code == 0
    assert "name" in result.stdout
    assert "MIS" in result.stdout
    with pytest.raises(json.JSONDecodeError):
        json.loads(result.stdout)


def test_cli_errors_go_to_stderr_with_nonzero_exit(invoke: Any) -> None:
    invoke("client-types", "create", "--name", "MIS", "--scope", "a")
    duplicate = invoke("--json", "client-types", "create", "--name", "MIS", "--scope", "a")
    assert duplicate.exit_code != 0
    assert duplicate.stdout == ""
    assert "already exists" in duplicate.stderr
    unknown = invoke("clients", "block", "00000000-0000-0000-0000-000000000000")
    assert unknown.exit_code != 0
    assert "Client not found." in unknown.stderr
    bad_uuid = invoke("users", "block", "not-a-uuid")
    assert bad_uuid.exit_code == 2


def client_and_user(invoke: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """Through the CLI: a client type with scope `a`, one client of it, one user."""
    invoke("client-types", "create", "--name", "MIS", "--scope", "a")
    client = ok_json(
        invoke(
            "--json",
            "clients",
            "create",
            "--name",
            "C",
            "--client-type",
            "MIS",
            "--redirect-uri",
            "https://x.org/cb",
        )
    )
    user = ok_json(
        invoke("--json", "users", "create", "--email", "u@x.org", "--password", "password1")
    )
    return client, user


def test_cli_scope_beyond_client_type_is_refused(invoke: Any) -> None:
    client, user = client_and_user(invoke)
    result = invoke(
        "approvals",
        "create",
        "--user-id",
        user["id"],
        "--client-id",
        client["id"],
        "--scope",
        "a z",
    )
    assert result.exit_code == 1
    assert "Scope is not allowed by client type." in result.stderr


def test_cli_block_and_revoke_commands(invoke: Any, services: Services) -> None:
    client, user = client_and_user(invoke)
    ok_json(
        invoke(
            "--json",
            "approvals",
            "create",
            "--user-id",
            user["id"],
            "--client-id",
            client["id"],
            "--scope",
            "a",
        )
    )
    ok_json(
        invoke(
            "--json",
            "tokens",
            "create",
            "--name",
            "refresh_token",
            "--user-id",
            user["id"],
            "--client-id",
            client["id"],
        )
    )
    assert (
        ok_json(invoke("--json", "clients", "deactivate-tokens", client["id"]))["revoked_tokens"]
        == 1
    )
    assert ok_json(invoke("--json", "clients", "block", client["id"]))["is_blocked"] is True
    assert ok_json(invoke("--json", "users", "block", user["id"]))["is_blocked"] is True
    deleted = ok_json(
        invoke(
            "--json", "approvals", "delete", "--user-id", user["id"], "--client-id", client["id"]
        )
    )
    assert deleted["deleted"] is True
    again = invoke("approvals", "delete", "--user-id", user["id"], "--client-id", client["id"])
    assert again.exit_code == 1
    assert "Approval not found." in again.stderr
