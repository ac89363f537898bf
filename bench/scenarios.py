"""The benchmark scenarios: what to request, how the service is configured, which floor answers.

A scenario is measured on each backend against two targets, the service ("ours") and the floor
handler it names in bench/floor_app.py, under the same load.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from bench.seed import Seed

BENCH_DIR = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Scenario:
    """One measured request type.

    `inputs` builds the lines of the file handed to the wrk script as BENCH_INPUT_FILE (here,
    one JSON body per line); `service_env` is added to the service's environment only.
    """

    name: str
    title: str
    path: str
    wrk_script: Path
    floor_handler: str
    inputs: Callable[[Seed], Sequence[str]]
    service_env: Mapping[str, str] = field(default_factory=dict)


def refresh_bodies(seed: Seed) -> list[str]:
    body = {
        "token": {
            "grant_type": "refresh_token",
            "client_id": seed.client_id,
            "client_secret": seed.client_secret,
            "refresh_token": seed.refresh_token,
        }
    }
    return [orjson.dumps(body).decode()]


REFRESH = Scenario(
    name="refresh",
    title="POST /oauth/tokens grant_type=refresh_token, rotation off",
    path="/oauth/tokens",
    wrk_script=BENCH_DIR / "refresh.lua",
    floor_handler="refresh",
    inputs=refresh_bodies,
    service_env={"EHEALTH_AUTH_REFRESH_ROTATION": "off"},
)

# The gateway's key for the verify scenario; the service and the floor are both given it.
BENCH_ADMIN_KEY = "bench-admin-key-not-a-secret-0123456789"


def verify_requests(seed: Seed) -> list[str]:
    """`<path> <admin key>` lines for verify.lua."""
    return [f"/admin/tokens/{seed.access_token}/verify {BENCH_ADMIN_KEY}"]


VERIFY = Scenario(
    name="verify",
    title="GET /admin/tokens/{value}/verify, a live access token (the gateway's call)",
    path="/admin/tokens",
    wrk_script=BENCH_DIR / "verify.lua",
    floor_handler="verify",
    inputs=verify_requests,
    service_env={"EHEALTH_AUTH_ADMIN_KEYS": BENCH_ADMIN_KEY},
)

SCENARIOS: tuple[Scenario, ...] = (REFRESH, VERIFY)


def select(names: Sequence[str]) -> tuple[Scenario, ...]:
    """The scenarios named (all when none are), in their declared order."""
    if not names:
        return SCENARIOS
    known = {scenario.name for scenario in SCENARIOS}
    unknown = sorted(set(names) - known)
    if unknown:
        raise ValueError(f"BENCH_SCENARIOS: unknown scenario(s) {unknown}; known: {sorted(known)}")
    return tuple(scenario for scenario in SCENARIOS if scenario.name in names)
