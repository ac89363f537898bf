"""Seeding through the service's own CLI: schema, client type, client, user, approval, token."""

from __future__ import annotations

import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

CLI_TIMEOUT_S = 120
SCOPE = "a b"


class SeedError(RuntimeError):
    pass


@dataclass(frozen=True)
class Seed:
    """The identities and secrets a scenario's requests are built from."""

    client_id: str
    client_secret: str
    connection_id: str
    user_id: str
    refresh_token: str
    scope: str
    access_token: str = ""


class Cli:
    """Runs `ehealth-auth` with the benchmark's environment."""

    def __init__(self, executable: Path, env: Mapping[str, str]) -> None:
        self._executable = executable
        self._env = dict(env)

    def run(self, *args: str) -> str:
        command = [str(self._executable), *args]
        try:
            done = subprocess.run(
                command,
                env=self._env,
                capture_output=True,
                text=True,
                timeout=CLI_TIMEOUT_S,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise SeedError(f"`ehealth-auth {' '.join(args[:3])}` timed out") from None
        if done.returncode != 0:
            raise SeedError(
                f"`ehealth-auth {' '.join(args[:3])}` failed ({done.returncode}): "
                f"{done.stderr.strip()[-2000:]}"
            )
        return done.stdout

    def json(self, *args: str) -> dict[str, Any]:
        output = self.run("--json", *args)
        try:
            data = orjson.loads(output)
        except orjson.JSONDecodeError:
            raise SeedError(f"`ehealth-auth {' '.join(args[:2])}` printed no JSON") from None
        if not isinstance(data, dict):
            raise SeedError(f"`ehealth-auth {' '.join(args[:2])}` printed no JSON object")
        return data


def seed_database(cli: Cli, name: str = "bench") -> Seed:
    """Migrate an empty database and create one client with a user, approval and refresh token."""
    cli.run("migrate")
    cli.json("client-types", "create", "--name", name, "--scope", SCOPE)
    client = cli.json(
        "clients",
        "create",
        "--name",
        name,
        "--client-type",
        name,
        "--redirect-uri",
        "http://localhost/cb",
    )
    user = cli.json(
        "users", "create", "--email", f"{name}@example.org", "--password", "longpassword"
    )
    cli.json(
        "approvals",
        "create",
        "--user-id",
        user["id"],
        "--client-id",
        client["id"],
        "--scope",
        SCOPE,
    )
    token = cli.json(
        "tokens",
        "create",
        "--name",
        "refresh_token",
        "--user-id",
        user["id"],
        "--client-id",
        client["id"],
    )
    # What the gateway verifies; operator-minted, so it has no parent and survives resets.
    access = cli.json(
        "tokens",
        "create",
        "--name",
        "access_token",
        "--user-id",
        user["id"],
        "--client-id",
        client["id"],
    )
    return Seed(
        client_id=client["id"],
        client_secret=client["connection"]["secret"],
        connection_id=client["connection"]["id"],
        user_id=user["id"],
        refresh_token=token["value"],
        scope=SCOPE,
        access_token=access["value"],
    )
