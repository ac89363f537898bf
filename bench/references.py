"""Reference targets measured in the same run as the service and its floor.

- `reference`: the project's reference floor (bench/reference_floor/floor_app.py, a verbatim copy
  of the one the performance targets are stated against): three round trips per refresh, one
  read per verify, far fewer checks. PostgreSQL only, in a database of its own.
- `oidc-provider`: node's oidc-provider (bench/oidc_provider/, installed with npm by
  `make bench`, never part of the service), in-memory storage, client_secret_basic, refresh
  without rotation; its verify counterpart is token introspection (RFC 7662).
- `ceiling`: a constant-answer ASGI app on the same HTTP stack (bench/ceiling_app.py).
- `ceiling-granian` and `ours-granian`, measured only when BENCH_REFERENCES names them: the same
  ceiling app, and the service itself (`ehealth_auth.wiring:app_from_env`, the scenario's
  settings), served by granian (ASGI, uvloop, one worker) rather than uvicorn. granian is not a
  dependency of the project: install it into the virtualenv to run them.

Each is served by one process on loopback, under the same wrk load as the service.
"""

from __future__ import annotations

import base64
import importlib.util
import shutil
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

from bench.scenarios import BENCH_DIR, Scenario
from bench.seed import Seed
from bench.servers import HOST, ServerSpec

REFERENCE = "reference"
OIDC = "oidc-provider"
CEILING = "ceiling"
CEILING_GRANIAN = "ceiling-granian"
OURS_GRANIAN = "ours-granian"
NAMES = (REFERENCE, OIDC, CEILING, CEILING_GRANIAN, OURS_GRANIAN)

OIDC_DIR = BENCH_DIR / "oidc_provider"
REFERENCE_DIR = BENCH_DIR / "reference_floor"
REFRESH_SCRIPT = BENCH_DIR / "refresh.lua"


class ReferenceError(RuntimeError):
    pass


@dataclass(frozen=True)
class ReferenceSeed:
    """What the references serve: the service's seed, the database of the reference floor
    (None when there is none, e.g. on SQLite), and the values of oidc-provider's two tokens."""

    seed: Seed
    reference_dsn: str | None
    oidc_refresh_token: str
    oidc_access_token: str


@dataclass(frozen=True)
class Reference:
    """One reference target of a scenario: how to serve it and what to send it.

    `path`, `script` and `lines` are None where the target takes the service's own requests.
    """

    name: str
    spec: ServerSpec
    path: str | None = None
    script: Path | None = None
    lines: Sequence[str] | None = None
    load_env: Mapping[str, str] = field(default_factory=dict)


def uvicorn_command(app: str, *extra: str) -> list[str]:
    """One uvicorn worker on uvloop and httptools, quiet, on the port the runner picks."""
    return [
        sys.executable,
        "-m",
        "uvicorn",
        app,
        *extra,
        "--host",
        HOST,
        "--port",
        "{port}",
        "--workers",
        "1",
        "--http",
        "httptools",
        "--loop",
        "uvloop",
        "--no-access-log",
        "--no-server-header",
        "--log-level",
        "warning",
    ]


def granian_command(app: str, *extra: str) -> list[str]:
    """One granian worker (ASGI, uvloop, one runtime thread), quiet, on the runner's port."""
    return [
        sys.executable,
        "-m",
        "granian",
        "--interface",
        "asgi",
        *extra,
        "--host",
        HOST,
        "--port",
        "{port}",
        "--workers",
        "1",
        "--runtime-threads",
        "1",
        "--loop",
        "uvloop",
        "--http",
        "1",
        "--no-ws",
        "--no-access-log",
        "--log-level",
        "warning",
        app,
    ]


def ensure_granian() -> None:
    if importlib.util.find_spec("granian") is None:
        raise ReferenceError(
            "granian is not installed: `.venv/bin/python -m pip install granian` to measure it"
        )


def _basic(seed: Seed) -> str:
    # RFC 6749 §2.3.1: client id and secret are form-encoded before the Basic encoding.
    pair = f"{urlencode({'': seed.client_id})[1:]}:{urlencode({'': seed.client_secret})[1:]}"
    return "Basic " + base64.b64encode(pair.encode()).decode()


def ensure_oidc_provider() -> None:
    if shutil.which("node") is None:
        raise ReferenceError("node is not installed")
    if not (OIDC_DIR / "node_modules" / "oidc-provider" / "package.json").exists():
        raise ReferenceError(
            f"oidc-provider is not installed in {OIDC_DIR} (`make bench` installs it with npm)"
        )


def reference(
    name: str,
    scenario: Scenario,
    values: ReferenceSeed,
    base_env: Mapping[str, str],
    service_env: Mapping[str, str],
) -> Reference | None:
    """The target `name` for `scenario`, or None where it has no counterpart. `service_env` is
    the service's environment for the scenario (what `ours-granian` serves with)."""
    seed = values.seed
    if name == CEILING_GRANIAN:
        ensure_granian()
        command = granian_command("bench.ceiling_app:app")
        return Reference(name, ServerSpec(name, command, dict(base_env), BENCH_DIR.parent))
    if name == OURS_GRANIAN:
        ensure_granian()
        command = granian_command("ehealth_auth.wiring:app_from_env", "--factory")
        return Reference(name, ServerSpec(name, command, dict(service_env), BENCH_DIR.parent))
    if name == CEILING:
        return Reference(
            CEILING,
            ServerSpec(
                CEILING, uvicorn_command("bench.ceiling_app:app"), dict(base_env), BENCH_DIR.parent
            ),
        )
    if name == REFERENCE:
        if values.reference_dsn is None or scenario.kind not in ("refresh", "verify"):
            return None
        env = {
            **base_env,
            "FLOOR_DSN": values.reference_dsn,
            "FLOOR_CLIENT_ID": seed.client_id,
            "FLOOR_SECRET": seed.client_secret,
            "FLOOR_REFRESH": seed.refresh_token,
            "FLOOR_ACCESS": seed.access_token,
        }
        spec = ServerSpec(REFERENCE, uvicorn_command("floor_app:app"), env, REFERENCE_DIR)
        return Reference(REFERENCE, spec)
    if name == OIDC:
        if scenario.kind == "refresh":
            path = "/token"
            body = urlencode(
                {"grant_type": "refresh_token", "refresh_token": values.oidc_refresh_token}
            )
        elif scenario.kind == "verify":
            path = "/token/introspection"
            body = urlencode({"token": values.oidc_access_token})
        else:
            return None
        env = {
            **base_env,
            "NODE_ENV": "production",
            "OIDC_CLIENT_ID": seed.client_id,
            "OIDC_CLIENT_SECRET": seed.client_secret,
            "OIDC_REFRESH_TOKEN": values.oidc_refresh_token,
            "OIDC_ACCESS_TOKEN": values.oidc_access_token,
        }
        spec = ServerSpec(OIDC, ["node", str(OIDC_DIR / "server.mjs"), "{port}"], env, OIDC_DIR)
        return Reference(
            OIDC,
            spec,
            path=path,
            script=REFRESH_SCRIPT,
            lines=[body],
            load_env={
                "BENCH_CONTENT_TYPE": "application/x-www-form-urlencoded",
                "BENCH_AUTHORIZATION": _basic(seed),
            },
        )
    raise ValueError(f"unknown reference {name!r}; known: {NAMES}")
