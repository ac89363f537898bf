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

SCENARIOS: tuple[Scenario, ...] = (REFRESH,)


def select(names: Sequence[str]) -> tuple[Scenario, ...]:
    """The scenarios named (all when none are), in their declared order."""
    if not names:
        return SCENARIOS
    known = {scenario.name for scenario in SCENARIOS}
    unknown = sorted(set(names) - known)
    if unknown:
        raise ValueError(f"BENCH_SCENARIOS: unknown scenario(s) {unknown}; known: {sorted(known)}")
    return tuple(scenario for scenario in SCENARIOS if scenario.name in names)
