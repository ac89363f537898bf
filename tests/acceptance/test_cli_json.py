"""`--json` before or after every command: one JSON object on stdout on success, one on stderr
(and a non-zero exit) on failure; `migrate` says what it did; `--version`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from ehealth_auth import __version__
from ehealth_auth.cli.main import cli
from ehealth_auth.storage.migrate import head_revision
from tests.support import TEST_SECRET_KEY


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {
        "EHEALTH_AUTH_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
        "EHEALTH_AUTH_SECRET_KEY": TEST_SECRET_KEY,
    }


def invoke(env: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)


def one_object(text: str) -> dict[str, Any]:
    lines = text.strip().splitlines()
    assert len(lines) == 1, text
    value: dict[str, Any] = json.loads(lines[0])
    return value


def test_migrate_says_it_created_the_schema_then_that_it_is_current(
    env: dict[str, str],
) -> None:
    first = invoke(env, "migrate", "--json")
    again = invoke(env, "--json", "migrate")

    assert first.exit_code == 0, first.stderr
    head = head_revision()
    assert head is not None
    assert one_object(first.stdout) == {"from_revision": None, "to_revision": head, "changed": True}
    assert one_object(again.stdout) == {
        "from_revision": head,
        "to_revision": head,
        "changed": False,
    }


def test_migrate_without_json_names_the_revision_it_created(env: dict[str, str]) -> None:
    result = invoke(env, "migrate")
    assert result.exit_code == 0
    assert result.stdout == ""
    assert f"database schema created at revision {head_revision()}" in result.stderr
    assert "already at revision" in invoke(env, "migrate").stderr


@pytest.mark.parametrize("position", ["before", "after"])
@pytest.mark.parametrize(
    "command",
    [
        ("client-types", "list"),
        ("clients", "list"),
        ("users", "list"),
        ("approvals", "list"),
        ("tokens", "list"),
        ("tokens", "purge-expired"),
        ("demo",),
    ],
)
def test_json_before_or_after_a_command_prints_exactly_one_object(
    env: dict[str, str], command: tuple[str, ...], position: str
) -> None:
    assert invoke(env, "migrate").exit_code == 0
    args = ["--json", *command] if position == "before" else [*command, "--json"]

    result = invoke(env, *args)

    assert result.exit_code == 0, result.stderr
    assert isinstance(one_object(result.stdout), dict)


def test_demo_under_json_says_why_it_seeded_nothing(env: dict[str, str]) -> None:
    result = invoke(env, "demo", "--json")
    assert one_object(result.stdout) == {
        "seeded": False,
        "reason": "not the embedded default database; nothing seeded",
    }


@pytest.mark.parametrize(
    ("args", "error_type", "exit_code"),
    [
        (("--json", "clients", "get", "not-a-uuid"), "usage_error", 2),
        (("clients", "get", "00000000-0000-4000-8000-000000000000", "--json"), "not_found", 1),
        (
            ("--json", "client-types", "create", "--name", " ", "--scope", "a"),
            "validation_failed",
            1,
        ),
        (("--json", "no-such-command"), "usage_error", 2),
    ],
)
def test_errors_under_json_are_one_object_on_stderr(
    env: dict[str, str], args: tuple[str, ...], error_type: str, exit_code: int
) -> None:
    assert invoke(env, "migrate").exit_code == 0

    result = invoke(env, *args)

    assert result.exit_code == exit_code
    assert result.stdout == ""
    error = one_object(result.stderr)["error"]
    assert error["type"] == error_type
    assert error["message"]


def test_validation_error_under_json_lists_the_bad_field(env: dict[str, str]) -> None:
    assert invoke(env, "migrate").exit_code == 0
    result = invoke(
        env,
        "--json",
        "clients",
        "create",
        "--name",
        "C",
        "--client-type",
        "T",
        "--redirect-uri",
        "not a uri",
    )
    error = one_object(result.stderr)["error"]
    assert [entry["entry"] for entry in error["invalid"]] == ["$.client.redirect_uri"]


def test_configuration_errors_under_json_are_objects_too(tmp_path: Path) -> None:
    bad_url = {
        "EHEALTH_AUTH_DATABASE_URL": "mysql://db/x",
        "EHEALTH_AUTH_SECRET_KEY": TEST_SECRET_KEY,
    }
    migrate = invoke(bad_url, "migrate", "--json")
    assert migrate.exit_code == 1
    assert one_object(migrate.stderr)["error"]["type"] == "configuration_invalid"

    placeholder = {"EHEALTH_AUTH_DATABASE_URL": f"sqlite:///{tmp_path / 'prod.db'}"}
    serve = invoke(placeholder, "--json", "serve")
    assert serve.exit_code == 1
    error = one_object(serve.stderr)["error"]
    assert error["type"] == "insecure_settings"
    assert "EHEALTH_AUTH_SECRET_KEY" in error["message"]


def test_a_refused_setting_is_one_line_naming_its_variable_and_never_its_value() -> None:
    short = {"EHEALTH_AUTH_SECRET_KEY": "short-Key-77", "EHEALTH_AUTH_CODE_TTL": "soon"}
    result = invoke(short, "migrate")
    assert result.exit_code == 1
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("Error: invalid configuration: ")
    assert "EHEALTH_AUTH_SECRET_KEY: must be at least 16 characters" in line
    assert "EHEALTH_AUTH_CODE_TTL: " in line
    assert "short-Key-77" not in result.stderr


def test_errors_without_json_stay_plain_text(env: dict[str, str]) -> None:
    assert invoke(env, "migrate").exit_code == 0
    result = invoke(env, "clients", "get", "00000000-0000-4000-8000-000000000000")
    assert result.exit_code == 1
    assert result.stderr == "Error: Client not found.\n"


def test_version_prints_the_package_version(env: dict[str, str]) -> None:
    plain = invoke(env, "--version")
    as_json = invoke(env, "--json", "--version")

    assert plain.stdout == f"ehealth-auth {__version__}\n"
    assert one_object(as_json.stdout) == {"name": "ehealth-auth", "version": __version__}
