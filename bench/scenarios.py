"""The benchmark scenarios: what to request, how the service is configured, which floor answers.

A Scenario is measured on each backend against two targets, the service ("ours") and the floor
handler it names in bench/floor_app.py, under the same load. The PurgeScenario measures the
service alone, refreshing with and without `ehealth-auth tokens purge-expired` running beside it.
The FlatCostScenario measures the service alone with few and with many stored tokens.
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

    `inputs` builds, from refresh token values, the lines of the file handed to the wrk script as
    BENCH_INPUT_FILE (here, one JSON body per line); `service_env` is added to the service's
    environment only. A `single_use` scenario spends one fresh refresh token per request: the
    runner seeds enough of them for warm-up and measurement at BENCH_SINGLE_USE_RATE, and wrk
    sends each body once. Otherwise every request presents the seed's one refresh token.

    `kind` is the operation measured (`refresh`, `refresh-rotation`, `verify`); `references`
    names the reference targets (bench/references.py) measured beside the service and floor.
    """

    name: str
    title: str
    path: str
    wrk_script: Path
    floor_handler: str
    inputs: Callable[[Seed, Sequence[str]], Sequence[str]]
    service_env: Mapping[str, str] = field(default_factory=dict)
    single_use: bool = False
    kind: str = "refresh"
    references: tuple[str, ...] = ()


@dataclass(frozen=True)
class PurgeScenario:
    """Refresh (rotation off) while the purge deletes BENCH_PURGE_ROWS expired tokens.

    The tokens expired more than `older_than_days` + 1 days ago; the purge starts
    `purge_after_s` into the measured window, which ends when the purge does.
    """

    name: str
    title: str
    path: str
    wrk_script: Path
    inputs: Callable[[Seed, Sequence[str]], Sequence[str]]
    service_env: Mapping[str, str] = field(default_factory=dict)
    older_than_days: int = 7
    purge_after_s: float = 1.0


@dataclass(frozen=True)
class LoginFloodScenario:
    """Refresh (rotation off) alone, then during a flood of wrong-password logins for distinct
    emails from distinct forwarded addresses at `flood_rate` per second; then, on a fresh server,
    guessing from one address for `guess_s` seconds (client secrets, then passwords)."""

    name: str
    title: str
    path: str
    wrk_script: Path
    inputs: Callable[[Seed, Sequence[str]], Sequence[str]]
    service_env: Mapping[str, str] = field(default_factory=dict)
    flood_rate: int = 50
    guess_s: float = 10.0


@dataclass(frozen=True)
class FlatCostScenario:
    """Refresh and verify with few stored tokens and again with many (BENCH_FLAT_COST_SIZES), in
    a PostgreSQL database of the scenario's own, the tokens loaded with COPY (bench/token_load.py).

    `operations` are the measured scenarios (their path, script and service settings); each is
    given the probes' values rather than the seed's one token. `max_p99_ratio` is the target for
    the largest size's p99 over the smallest's.
    """

    name: str
    title: str
    operations: tuple[Scenario, ...]
    max_p99_ratio: float = 1.15


# The scenarios measured through one database of the backend's run; flat-cost has its own.
AnyScenario = Scenario | PurgeScenario | LoginFloodScenario
Selectable = AnyScenario | FlatCostScenario


def refresh_bodies(seed: Seed, refresh_tokens: Sequence[str]) -> list[str]:
    """One refresh request body per refresh token value."""
    bodies = []
    for refresh_token in refresh_tokens:
        body = {
            "token": {
                "grant_type": "refresh_token",
                "client_id": seed.client_id,
                "client_secret": seed.client_secret,
                "refresh_token": refresh_token,
            }
        }
        bodies.append(orjson.dumps(body).decode())
    return bodies


REFRESH = Scenario(
    name="refresh",
    title="POST /oauth/tokens grant_type=refresh_token, rotation off",
    path="/oauth/tokens",
    wrk_script=BENCH_DIR / "refresh.lua",
    floor_handler="refresh",
    inputs=refresh_bodies,
    service_env={"EHEALTH_AUTH_REFRESH_ROTATION": "off"},
    references=("reference", "oidc-provider", "ceiling", "ceiling-granian", "ours-granian"),
)

REFRESH_ROTATION = Scenario(
    name="refresh-rotation",
    title="POST /oauth/tokens grant_type=refresh_token, rotation on (grace 0), each token once",
    path="/oauth/tokens",
    wrk_script=BENCH_DIR / "refresh.lua",
    floor_handler="refresh-rotation",
    inputs=refresh_bodies,
    service_env={
        "EHEALTH_AUTH_REFRESH_ROTATION": "on",
        "EHEALTH_AUTH_REFRESH_REUSE_GRACE": "0",
    },
    single_use=True,
    kind="refresh-rotation",
)

PURGE = PurgeScenario(
    name="purge",
    title="POST /oauth/tokens grant_type=refresh_token, rotation off, during "
    "`tokens purge-expired --older-than-days 7`",
    path="/oauth/tokens",
    wrk_script=BENCH_DIR / "refresh.lua",
    inputs=refresh_bodies,
    service_env={"EHEALTH_AUTH_REFRESH_ROTATION": "off"},
)

# The gateway's key for the verify scenario; the service and the floor are both given it.
BENCH_ADMIN_KEY = "bench-admin-key-not-a-secret-0123456789"


def verify_requests(seed: Seed, _refresh_tokens: Sequence[str]) -> list[str]:
    """`<path> <admin key>` lines for verify.lua (the seeded access token, over and over)."""
    return [f"/admin/tokens/{seed.access_token}/verify {BENCH_ADMIN_KEY}"]


VERIFY = Scenario(
    name="verify",
    title="GET /admin/tokens/{value}/verify, a live access token (the gateway's call)",
    path="/admin/tokens",
    wrk_script=BENCH_DIR / "verify.lua",
    floor_handler="verify",
    inputs=verify_requests,
    service_env={"EHEALTH_AUTH_ADMIN_KEYS": BENCH_ADMIN_KEY},
    kind="verify",
    references=("reference", "oidc-provider", "ceiling", "ceiling-granian", "ours-granian"),
)

VERIFY_UNCACHED = Scenario(
    name="verify-uncached",
    title="GET /admin/tokens/{value}/verify with the verify cache off (every call reads)",
    path="/admin/tokens",
    wrk_script=BENCH_DIR / "verify.lua",
    floor_handler="verify",
    inputs=verify_requests,
    service_env={"EHEALTH_AUTH_ADMIN_KEYS": BENCH_ADMIN_KEY, "EHEALTH_AUTH_VERIFY_CACHE": "off"},
    kind="verify",
)

LOGIN_FLOOD = LoginFloodScenario(
    name="login-flood",
    title="POST /oauth/tokens grant_type=refresh_token, rotation off, during a flood of "
    "wrong-password logins (distinct emails, distinct addresses)",
    path="/oauth/tokens",
    wrk_script=BENCH_DIR / "refresh.lua",
    inputs=refresh_bodies,
    # The flood's distinct addresses arrive as X-Forwarded-For from the load generator.
    service_env={
        "EHEALTH_AUTH_REFRESH_ROTATION": "off",
        "EHEALTH_AUTH_TRUSTED_PROXIES": "127.0.0.1",
    },
)

FLAT_COST = FlatCostScenario(
    name="flat-cost",
    title="refresh (rotation off) and verify (cache off, every call reads) as stored tokens grow",
    operations=(REFRESH, VERIFY_UNCACHED),
)

SCENARIOS: tuple[Selectable, ...] = (
    REFRESH,
    REFRESH_ROTATION,
    PURGE,
    VERIFY,
    VERIFY_UNCACHED,
    LOGIN_FLOOD,
    FLAT_COST,
)


def select(names: Sequence[str]) -> tuple[Selectable, ...]:
    """The scenarios named (all when none are), in their declared order."""
    if not names:
        return SCENARIOS
    known = {scenario.name for scenario in SCENARIOS}
    unknown = sorted(set(names) - known)
    if unknown:
        raise ValueError(f"BENCH_SCENARIOS: unknown scenario(s) {unknown}; known: {sorted(known)}")
    return tuple(scenario for scenario in SCENARIOS if scenario.name in names)
