"""Entry point (`python -m bench.run`, `make bench`): the service against its floor, per backend.

For each backend (PostgreSQL, SQLite) it creates a throwaway database, seeds it with the
`ehealth-auth` CLI, then runs the scenarios in order on it:

- `refresh` and `refresh-rotation`: the service and the floor are served in turn (uvicorn, one
  worker, loopback only), each warmed up and measured with wrk from a separate process. With
  rotation every request spends a fresh refresh token, seeded in bulk beforehand.
- `refresh` and `verify` also measure the reference targets of bench/references.py in the same
  run, under the same load: the reference floor (PostgreSQL), oidc-provider and the HTTP ceiling.
  The targets take turns in one order in odd rounds and in the reverse order in even rounds, so
  a drift of the host over the run weighs on each alike.
- `purge`: with BENCH_PURGE_ROWS expired tokens seeded, the service's refresh is measured
  without a purge, then while `ehealth-auth tokens purge-expired` deletes them.
- `login-flood`: the service's refresh is measured alone, then during a flood of wrong-password
  logins (bench/login_flood.py), the two alternating for BENCH_ROUNDS rounds; then guessing
  from one address is counted.
- `flat-cost` (PostgreSQL only): the service's refresh and uncached verify with each of
  BENCH_FLAT_COST_SIZES stored tokens, one database per size loaded with COPY
  (bench/token_load.py), the sizes alternating within each round (the smallest first in odd
  rounds, last in even ones); the databases are dropped at the end.

Before each measurement the database is put back to its seeded state. It prints one table per
backend and scenario and writes a JSON summary to bench/results/. Servers, databases and
temporary files are removed whatever happens.

Environment: BENCH_DURATION (measured seconds, default 10), BENCH_WARMUP (seconds, 2),
BENCH_ROUNDS (2; rounds alternate the targets and report medians), BENCH_CONNECTIONS (32),
BENCH_THREADS (1), BENCH_REQUEST_TIMEOUT (seconds, 5), BENCH_BACKENDS
and BENCH_SCENARIOS (comma-separated, default all), BENCH_PG_ADMIN_URL (a loopback PostgreSQL
URL with the right to create databases), BENCH_SINGLE_USE_RATE (req/s the rotation's tokens are
provisioned for, 3000), BENCH_PURGE_ROWS (100000), BENCH_PURGE_WINDOW (seconds, 90),
BENCH_REFERENCES (comma-separated reference targets, default all; `none` for none),
BENCH_FLAT_COST_SIZES (10000,10000000), BENCH_FLAT_COST_PROBES (200).

Exit status: 0 when every measurement completed without errors, 1 when some request failed
(non-2xx or socket error), a rotation run ran out of tokens or a purge failed or overran its
window, 2 when the benchmark itself could not run.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import platform
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any, TypeVar

from bench import bulk, token_load
from bench.backends import Backend, BackendError, make_backend
from bench.config import BenchConfig, ConfigError
from bench.flat_cost import FlatCostResult, Stage, render_flat_cost
from bench.login_flood import (
    Flood,
    FloodOutcome,
    GuessOutcome,
    LoginFloodResult,
    combine_floods,
    measure_guessing,
    render_login_flood,
)
from bench.purge import PurgeOutcome, purge_beside
from bench.references import (
    OIDC,
    REFERENCE,
    Reference,
    ReferenceError,
    ReferenceSeed,
    ensure_oidc_provider,
    reference,
    uvicorn_command,
)
from bench.report import (
    FLOOR,
    OURS,
    Comparison,
    PurgeComparison,
    render,
    render_purge,
    write_summary,
)
from bench.scenarios import (
    BENCH_ADMIN_KEY,
    BENCH_DIR,
    AnyScenario,
    FlatCostScenario,
    LoginFloodScenario,
    PurgeScenario,
    Scenario,
    Selectable,
    select,
)
from bench.seed import Cli, Seed, SeedError, seed_database
from bench.servers import HOST, ServerError, ServerSpec, running
from bench.wrk import LoadError, LoadResult, LoadSpec, WrkRun, combine, run_wrk, wrk_version

REPO_DIR = BENCH_DIR.parent
RESULTS_DIR = BENCH_DIR / "results"
T = TypeVar("T")


def in_round_order(items: Sequence[T], number: int) -> list[T]:
    """`items` in their order in odd rounds (`number` counts from 1), reversed in even ones: a
    drift of the host over the run (a slow minute, a checkpoint or an autovacuum set off by one
    target's writes) weighs on the first and on the last alike."""
    return list(items) if number % 2 else list(reversed(items))


BIN_DIR = Path(sys.executable).parent

# Failures that stop one backend's run with a message rather than a traceback.
_RUN_ERRORS = (
    BackendError,
    SeedError,
    ServerError,
    LoadError,
    ReferenceError,
    token_load.LoadError,
    OSError,
    subprocess.SubprocessError,
)


def _log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def base_env() -> dict[str, str]:
    """The inherited environment without any EHEALTH_AUTH_* or BENCH_* setting."""
    return {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("EHEALTH_AUTH_", "BENCH_"))
    }


def service_env(database_url: str, secret_key: str) -> dict[str, str]:
    return {
        **base_env(),
        "EHEALTH_AUTH_DATABASE_URL": database_url,
        "EHEALTH_AUTH_SECRET_KEY": secret_key,
        "EHEALTH_AUTH_LOG_LEVEL": "WARNING",
    }


def service_spec(scenario: AnyScenario, env: Mapping[str, str]) -> ServerSpec:
    """The service, one uvicorn worker on uvloop and httptools."""
    return ServerSpec(
        name=OURS,
        command=[
            str(BIN_DIR / "ehealth-auth"),
            "serve",
            "--host",
            HOST,
            "--port",
            "{port}",
            "--workers",
            "1",
        ],
        env={**env, **scenario.service_env},
        cwd=REPO_DIR,
    )


def floor_spec(scenario: Scenario, env: Mapping[str, str]) -> ServerSpec:
    """The scenario's floor, one uvicorn worker on uvloop and httptools."""
    target_env = {**env, **scenario.service_env}
    floor = ServerSpec(
        name=FLOOR,
        command=uvicorn_command("bench.floor_app:create_app", "--factory", "--lifespan", "on"),
        env={**target_env, "BENCH_FLOOR_HANDLER": scenario.floor_handler},
        cwd=REPO_DIR,
    )
    return floor


@dataclass(frozen=True)
class Context:
    config: BenchConfig
    workdir: Path


@dataclass(frozen=True)
class Inputs:
    """The wrk input files of a scenario, for the warm-up and for the measurement.

    `slices` is set when each body may be sent once: wrk then cuts each file into that many
    disjoint slices, one per thread.
    """

    warmup: Path
    measure: Path
    slices: int | None = None


@dataclass(frozen=True)
class Target:
    """One server under load: how it is started, the path and script wrk uses, the inputs."""

    spec: ServerSpec
    path: str
    script: Path
    inputs: Inputs
    load_env: Mapping[str, str] = field(default_factory=dict)


def own_target(scenario: AnyScenario, spec: ServerSpec, inputs: Inputs) -> Target:
    """A target that takes the scenario's own requests (the service, its floor, the ceiling)."""
    return Target(spec, scenario.path, scenario.wrk_script, inputs)


def write_inputs(
    context: Context, backend: Backend, scenario: AnyScenario, seed: Seed, key: bytes
) -> Inputs:
    """The request bodies; a single-use scenario's refresh tokens are seeded here first."""
    stem = f"{backend.name}-{scenario.name}"
    if not (isinstance(scenario, Scenario) and scenario.single_use):
        path = context.workdir / f"{stem}.input"
        path.write_text("\n".join(scenario.inputs(seed, [seed.refresh_token])) + "\n")
        return Inputs(warmup=path, measure=path)
    config = context.config
    warmup_count = config.single_use_rate * config.warmup
    measure_count = config.single_use_rate * config.duration
    _log(f"{backend.name}/{scenario.name}: seeding {warmup_count + measure_count} refresh tokens")
    rows, values = bulk.refresh_tokens(seed, key, warmup_count + measure_count, int(time.time()))
    backend.insert_tokens(rows)
    inputs = Inputs(
        warmup=context.workdir / f"{stem}-warmup.input",
        measure=context.workdir / f"{stem}-measure.input",
        slices=config.threads,
    )
    for path, part in (
        (inputs.warmup, values[:warmup_count]),
        (inputs.measure, values[warmup_count:]),
    ):
        path.write_text("\n".join(scenario.inputs(seed, part)) + "\n")
    return inputs


def _load_spec(
    context: Context, target: Target, port: int, input_file: Path, slices: int | None
) -> LoadSpec:
    env = {**base_env(), **target.load_env, "BENCH_INPUT_FILE": str(input_file)}
    if slices is not None:
        env["BENCH_INPUT_SLICES"] = str(slices)
    config = context.config
    return LoadSpec(
        url=f"http://{HOST}:{port}{target.path}",
        script=target.script,
        env=env,
        connections=config.connections,
        threads=config.threads,
        request_timeout=config.request_timeout,
    )


@contextmanager
def serving(
    context: Context,
    backend: Backend,
    scenario: AnyScenario,
    target: Target,
    label: str,
    reset: Callable[[], None] | None = None,
) -> Iterator[LoadSpec]:
    """Reset the database (with `reset` when given), start the target and warm it up; yields the
    measurement's load."""
    config = context.config
    if reset is None:
        backend.reset()
    else:
        reset()
    name = f"{backend.name}/{scenario.name}/{label}"
    log_path = context.workdir / f"{backend.name}-{scenario.name}-{label}.log"
    inputs = target.inputs
    with running(target.spec, log_path) as served:
        port = served.port
        if config.warmup and inputs.warmup.stat().st_size > 1:
            _log(f"{name}: warm-up {config.warmup} s")
            warm = _load_spec(context, target, port, inputs.warmup, inputs.slices)
            result, _output = run_wrk(warm, config.warmup)
            if result.exhausted:
                _log(f"{name}: the warm-up ran out of single-use tokens")
        load = _load_spec(context, target, port, inputs.measure, inputs.slices)
        # The bench's PostgreSQL is on this host (a loopback address): its CPU is measured too.
        yield dataclasses.replace(
            load, server_session=served.session, database_cpu=backend.name == "postgresql"
        )


def measure(
    context: Context,
    backend: Backend,
    scenario: AnyScenario,
    target: Target,
    label: str,
    reset: Callable[[], None] | None = None,
    wal_dsn: str | None = None,
) -> LoadResult:
    """Reset the database, start the target, warm it up, then measure it; with `wal_dsn` (a
    PostgreSQL server's), also what the server wrote to its write-ahead log meanwhile."""
    duration = context.config.duration
    with serving(context, backend, scenario, target, label, reset) as load:
        _log(f"{backend.name}/{scenario.name}/{label}: measuring {duration} s")
        wal_before = asyncio.run(token_load.wal_counters(wal_dsn)) if wal_dsn else None
        result, _output = run_wrk(load, duration)
        if wal_dsn and wal_before is not None:
            wal_after = asyncio.run(token_load.wal_counters(wal_dsn))
            result = dataclasses.replace(
                result,
                wal_bytes=wal_after[0] - wal_before[0],
                wal_fpi=wal_after[1] - wal_before[1],
            )
    if result.exhausted:
        _log(f"{backend.name}/{scenario.name}/{label}: ran out of single-use tokens")
    return result


def measure_purge(
    context: Context,
    backend: Backend,
    scenario: PurgeScenario,
    target: Target,
) -> tuple[LoadResult, PurgeOutcome]:
    """Like `measure`, with the purge started into the window, which ends when the purge does."""
    config = context.config
    command = [
        str(BIN_DIR / "ehealth-auth"),
        "tokens",
        "purge-expired",
        "--older-than-days",
        str(scenario.older_than_days),
        "--json",
    ]
    with serving(context, backend, scenario, target, "purge") as load:
        _log(
            f"{backend.name}/{scenario.name}/purge: measuring until the purge ends "
            f"(at most {config.purge_window} s)"
        )
        run = WrkRun(load, config.purge_window)
        try:
            outcome = purge_beside(
                run,
                command,
                target.spec.env,
                REPO_DIR,
                rows_seeded=config.purge_rows,
                start_after_s=scenario.purge_after_s,
                window_s=config.purge_window,
            )
            result, _output = run.wait()
        finally:
            run.close()
    return result, outcome


def reference_target(
    context: Context, backend: Backend, scenario: Scenario, ref: Reference, own: Inputs
) -> Target:
    if ref.lines is None:
        return Target(ref.spec, scenario.path, scenario.wrk_script, own, ref.load_env)
    path = context.workdir / f"{backend.name}-{scenario.name}-{ref.name}.input"
    path.write_text("\n".join(ref.lines) + "\n")
    return Target(
        ref.spec,
        ref.path or scenario.path,
        ref.script or scenario.wrk_script,
        Inputs(warmup=path, measure=path),
        ref.load_env,
    )


def run_comparison(
    context: Context,
    backend: Backend,
    scenario: Scenario,
    env: Mapping[str, str],
    references: ReferenceSeed,
) -> Comparison:
    seed = references.seed
    inputs = write_inputs(context, backend, scenario, seed, env["EHEALTH_AUTH_SECRET_KEY"].encode())
    targets = {
        OURS: own_target(scenario, service_spec(scenario, env), inputs),
        FLOOR: own_target(scenario, floor_spec(scenario, env), inputs),
    }
    for name in context.config.references:
        ref = (
            reference(name, scenario, references, base_env(), {**env, **scenario.service_env})
            if name in scenario.references
            else None
        )
        if ref is not None:
            targets[name] = reference_target(context, backend, scenario, ref, inputs)
    rounds: dict[str, list[LoadResult]] = {name: [] for name in targets}
    for number in range(1, context.config.rounds + 1):
        if context.config.rounds > 1:
            _log(f"{backend.name}/{scenario.name}: round {number} of {context.config.rounds}")
        for name in in_round_order(list(targets), number):
            rounds[name].append(measure(context, backend, scenario, targets[name], name))
    return Comparison(
        backend=backend.name,
        backend_label=backend.label,
        scenario=scenario.name,
        title=scenario.title,
        ours=combine(rounds[OURS]),
        floor=combine(rounds[FLOOR]),
        references={
            name: combine(results) for name, results in rounds.items() if name not in (OURS, FLOOR)
        },
        rounds={name: tuple(results) for name, results in rounds.items()},
    )


def run_purge(
    context: Context,
    backend: Backend,
    scenario: PurgeScenario,
    env: Mapping[str, str],
    seed: Seed,
) -> PurgeComparison:
    config = context.config
    key = env["EHEALTH_AUTH_SECRET_KEY"].encode()
    target = own_target(
        scenario, service_spec(scenario, env), write_inputs(context, backend, scenario, seed, key)
    )
    baselines: list[LoadResult] = []
    durings: list[LoadResult] = []
    purges: list[PurgeOutcome] = []
    for number in range(1, config.rounds + 1):
        if config.rounds > 1:
            _log(f"{backend.name}/{scenario.name}: round {number} of {config.rounds}")
        now = int(time.time())
        # Rows left by an earlier purge that did not finish are replaced, not added to.
        backend.delete_dead(now - scenario.older_than_days * bulk.DAY)
        _log(f"{backend.name}/{scenario.name}: seeding {config.purge_rows} expired tokens")
        backend.insert_tokens(
            bulk.expired_tokens(seed, key, config.purge_rows, now, scenario.older_than_days)
        )
        baselines.append(measure(context, backend, scenario, target, "no-purge"))
        during, outcome = measure_purge(context, backend, scenario, target)
        durings.append(during)
        purges.append(outcome)
    return PurgeComparison(
        backend=backend.name,
        backend_label=backend.label,
        scenario=scenario.name,
        title=scenario.title,
        baseline=combine(baselines),
        during=combine(durings),
        purges=tuple(purges),
        rounds={"no_purge": tuple(baselines), "during_purge": tuple(durings)},
    )


def measure_beside_flood(
    context: Context,
    backend: Backend,
    scenario: LoginFloodScenario,
    target: Target,
    seed: Seed,
) -> tuple[LoadResult, FloodOutcome]:
    """Like `measure`, with the flood running from a second before the measurement to its end."""
    name = f"{backend.name}/{scenario.name}/flood"
    duration = context.config.duration
    with serving(context, backend, scenario, target, "flood") as load:
        base_url = load.url.removesuffix(scenario.path)
        flood = Flood(base_url, seed.client_id, scenario.flood_rate)
        flood.start()
        try:
            time.sleep(1.0)  # the flood reaches its rate before the measurement starts
            _log(f"{name}: measuring {duration} s beside {scenario.flood_rate} logins/s")
            during, _output = run_wrk(load, duration)
        finally:
            outcome = flood.stop()
    return during, outcome


def run_login_flood(
    context: Context,
    backend: Backend,
    scenario: LoginFloodScenario,
    env: Mapping[str, str],
    seed: Seed,
) -> LoginFloodResult:
    """Refresh alone, then beside the flood (each on a fresh server), alternating for the
    configured rounds; then the guessing."""
    key = env["EHEALTH_AUTH_SECRET_KEY"].encode()
    inputs = write_inputs(context, backend, scenario, seed, key)
    target = own_target(scenario, service_spec(scenario, env), inputs)
    config = context.config
    alones: list[LoadResult] = []
    durings: list[LoadResult] = []
    floods: list[FloodOutcome] = []
    for number in range(1, config.rounds + 1):
        if config.rounds > 1:
            _log(f"{backend.name}/{scenario.name}: round {number} of {config.rounds}")
        alones.append(measure(context, backend, scenario, target, "alone"))
        during, outcome = measure_beside_flood(context, backend, scenario, target, seed)
        durings.append(during)
        floods.append(outcome)
    guesses: list[GuessOutcome] = []
    with serving(context, backend, scenario, target, "guessing") as load:
        base_url = load.url.removesuffix(scenario.path)
        wrong_secret = {
            "token": {
                "grant_type": "refresh_token",
                "client_id": seed.client_id,
                "client_secret": "not-the-secret",
                "refresh_token": seed.refresh_token,
            }
        }
        wrong_password = {
            "token": {
                "grant_type": "password",
                "email": "bench@example.org",
                "password": "not-the-password",
                "client_id": seed.client_id,
                "scope": "a",
            }
        }
        for what, path, body in (
            ("client secrets", "/oauth/tokens", wrong_secret),
            ("passwords", "/auth/login", wrong_password),
        ):
            _log(f"{backend.name}/{scenario.name}: guessing {what} for {scenario.guess_s:g} s")
            guesses.append(measure_guessing(what, base_url + path, body, scenario.guess_s))
    return LoginFloodResult(
        backend=backend.name,
        backend_label=backend.label,
        scenario=scenario.name,
        title=scenario.title,
        alone=combine(alones),
        during=combine(durings),
        flood=combine_floods(floods),
        guesses=tuple(guesses),
        rounds=tuple(zip(alones, durings, strict=True)),
    )


@dataclass
class _FlatDatabase:
    """One size of the flat-cost scenario: its database, loaded, and what is measured on it."""

    size: int
    backend: Backend
    dsn: str
    times: token_load.LoadTimes
    table_bytes: int
    database_bytes: int
    targets: dict[str, tuple[Scenario, Target]]
    since: int  # every loaded row was issued before this
    rounds: dict[str, list[LoadResult]] = field(default_factory=dict)

    def forget_run(self) -> None:
        asyncio.run(token_load.forget_run(self.dsn, self.since))


def _flat_database(
    context: Context, scenario: FlatCostScenario, size: int, cleanup: ExitStack
) -> _FlatDatabase:
    """Create, seed and load the database of one size; write its requests."""
    config = context.config
    backend = make_backend("postgresql", config.pg_admin_url)
    cleanup.callback(backend.drop)
    dsn = backend.create()
    key = secrets.token_urlsafe(32)
    env = service_env(dsn, key)
    _log(f"{scenario.name} at {size:,}: creating and seeding its database")
    seed = seed_database(Cli(BIN_DIR / "ehealth-auth", env))
    # The same number of users and clients at every size: only the number of tokens differs.
    users, clients = max(config.flat_cost_sizes[-1] // 50, 100), 100
    _log(f"{scenario.name} at {size:,}: adding {users:,} users and {clients} clients")
    population = asyncio.run(token_load.populate(dsn, seed, users, clients))
    _log(f"{scenario.name} at {size:,}: loading {size:,} tokens")
    probes, times = asyncio.run(
        token_load.load(
            dsn,
            key.encode(),
            seed,
            population,
            size,
            config.flat_cost_probes,
            rebuild_indexes=size > token_load.REBUILD_FROM,
        )
    )
    table_bytes, database_bytes = asyncio.run(token_load.sizes(dsn))
    _log(
        f"{scenario.name} at {size:,}: loaded in {times.total_s:.0f} s, "
        f"tokens table {table_bytes / 2**30:.2f} GiB"
    )
    targets: dict[str, tuple[Scenario, Target]] = {}
    for operation in scenario.operations:
        if operation.kind == "verify":
            lines = [
                f"/admin/tokens/{value}/verify {BENCH_ADMIN_KEY}" for value in probes.access_tokens
            ]
        else:
            lines = list(operation.inputs(seed, probes.refresh_tokens))
        path = context.workdir / f"{scenario.name}-{size}-{operation.name}.input"
        path.write_text("\n".join(lines) + "\n")
        spec = service_spec(operation, env)
        targets[operation.name] = (operation, own_target(operation, spec, Inputs(path, path)))
    return _FlatDatabase(
        size=size,
        backend=backend,
        dsn=dsn,
        times=times,
        table_bytes=table_bytes,
        database_bytes=database_bytes,
        targets=targets,
        since=int(time.time()) + 1,
        rounds={name: [] for name in targets},
    )


def run_flat_cost(context: Context, scenario: FlatCostScenario) -> FlatCostResult:
    """One database per size, each loaded in turn; then each operation is measured on each
    size, alternating sizes within every round (on a noisy host both sizes see the same noise;
    the order reverses from one round to the next),
    each measurement on a fresh server after the previous one's tokens were deleted. The
    databases are dropped before the result is returned."""
    config = context.config
    stages: list[Stage] = []
    with ExitStack() as cleanup:
        admin = make_backend("postgresql", config.pg_admin_url)
        directory = asyncio.run(token_load.data_directory(config.pg_admin_url))
        if not os.path.isdir(directory):
            directory = "/"
        free_before = shutil.disk_usage(directory).free
        databases = [
            _flat_database(context, scenario, size, cleanup) for size in config.flat_cost_sizes
        ]
        free_loaded = shutil.disk_usage(directory).free
        time.sleep(max(max(db.since for db in databases) - time.time(), 0))
        for number in range(1, config.rounds + 1):
            if config.rounds > 1:
                _log(f"{scenario.name}: round {number} of {config.rounds}")
            for operation in scenario.operations:
                for db in in_round_order(databases, number):
                    _, target = db.targets[operation.name]
                    label = f"{db.size}-{operation.name}"
                    db.rounds[operation.name].append(
                        measure(
                            context,
                            db.backend,
                            operation,
                            target,
                            label,
                            db.forget_run,
                            wal_dsn=db.dsn,
                        )
                    )
        for db in databases:
            stages.append(
                Stage(
                    tokens=db.size,
                    load=db.times,
                    table_bytes=db.table_bytes,
                    database_bytes=db.database_bytes,
                    results={name: combine(results) for name, results in db.rounds.items()},
                    rounds={name: tuple(results) for name, results in db.rounds.items()},
                )
            )
        load_average = os.getloadavg()
    free_after = shutil.disk_usage(directory).free
    return FlatCostResult(
        backend=admin.name,
        backend_label=admin.label,
        scenario=scenario.name,
        title=scenario.title,
        max_p99_ratio=scenario.max_p99_ratio,
        stages=tuple(stages),
        disk_free_before_bytes=free_before,
        disk_free_loaded_bytes=free_loaded,
        disk_free_after_bytes=free_after,
        load_average=load_average,
    )


Result = Comparison | PurgeComparison | LoginFloodResult | FlatCostResult


def run_backend(context: Context, name: str, scenarios: Sequence[Selectable]) -> list[Result]:
    backend = make_backend(name, context.config.pg_admin_url)
    results: list[Result] = []
    with ExitStack() as cleanup:
        cleanup.callback(backend.drop)
        _log(f"{name}: creating and seeding the database")
        env = service_env(backend.create(), secrets.token_urlsafe(32))
        seed: Seed = seed_database(Cli(BIN_DIR / "ehealth-auth", env))
        references = reference_seed(context, name, scenarios, seed, cleanup)
        for scenario in scenarios:
            if isinstance(scenario, FlatCostScenario):
                if name != "postgresql":
                    _log(f"{name}: {scenario.name} runs on PostgreSQL only")
                    continue
                flat = run_flat_cost(context, scenario)
                results.append(flat)
                text = render_flat_cost(flat, load_description(context.config))
            elif isinstance(scenario, PurgeScenario):
                purge = run_purge(context, backend, scenario, env, seed)
                results.append(purge)
                text = render_purge(purge, purge_description(context.config, scenario))
            elif isinstance(scenario, LoginFloodScenario):
                flood = run_login_flood(context, backend, scenario, env, seed)
                results.append(flood)
                text = render_login_flood(flood, load_description(context.config))
            else:
                comparison = run_comparison(context, backend, scenario, env, references)
                results.append(comparison)
                text = render(comparison, load_description(context.config))
            print(text + "\n", flush=True)
    return results


def reference_seed(
    context: Context,
    backend_name: str,
    scenarios: Sequence[Selectable],
    seed: Seed,
    cleanup: ExitStack,
) -> ReferenceSeed:
    """The reference targets' inputs: the reference floor's own database (PostgreSQL only) and
    the values oidc-provider stores at start."""
    wanted = {
        name
        for scenario in scenarios
        if isinstance(scenario, Scenario)
        for name in scenario.references
        if name in context.config.references
    }
    if OIDC in wanted:
        ensure_oidc_provider()
    reference_dsn = None
    if REFERENCE in wanted and backend_name == "postgresql":
        database = make_backend("postgresql", context.config.pg_admin_url)
        cleanup.callback(database.drop)
        reference_dsn = database.create()
    return ReferenceSeed(
        seed=seed,
        reference_dsn=reference_dsn,
        oidc_refresh_token=secrets.token_urlsafe(32),
        oidc_access_token=secrets.token_urlsafe(32),
    )


def failed(result: Result) -> bool:
    """Whether some request failed or the run's figures are not valid."""
    if isinstance(result, PurgeComparison):
        return bool(result.problems or result.baseline.errors or result.during.errors)
    if isinstance(result, LoginFloodResult | FlatCostResult):
        return bool(result.problems)
    targets = (result.ours, result.floor, *result.references.values())
    return any(target.errors or target.exhausted for target in targets)


def load_description(config: BenchConfig) -> str:
    rounds = f", median of {config.rounds} alternating rounds" if config.rounds > 1 else ""
    return (
        f"wrk: {config.connections} connections, {config.threads} threads, "
        f"{config.duration} s measured after {config.warmup} s warm-up{rounds}"
    )


def purge_description(config: BenchConfig, scenario: PurgeScenario) -> str:
    rounds = f", median of {config.rounds} rounds" if config.rounds > 1 else ""
    return (
        f"wrk: {config.connections} connections, {config.threads} threads, each run after "
        f"{config.warmup} s warm-up; no purge: {config.duration} s; during purge: from "
        f"{scenario.purge_after_s:g} s before the purge starts until it exits (at most "
        f"{config.purge_window} s){rounds}"
    )


def _git(*args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", *args],
            cwd=REPO_DIR,
            env={**os.environ, "GIT_OPTIONAL_LOCKS": "0"},  # never touch the index
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def host_info() -> dict[str, Any]:
    try:
        wrk = wrk_version()
    except (LoadError, OSError, subprocess.SubprocessError):
        wrk = None
    return {
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "wrk": wrk,
        "commit": _git("rev-parse", "HEAD"),
        "src_modified": bool(_git("status", "--porcelain", "--", "src")),
    }


def _terminate(signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def main() -> int:
    signal.signal(signal.SIGTERM, _terminate)  # unwinds through the cleanup below
    try:
        config = BenchConfig.from_env()
        scenarios = select(config.scenarios)
    except (ConfigError, ValueError) as exc:
        _log(str(exc))
        return 2

    started = datetime.now(UTC)
    summary: dict[str, Any] = {
        "started_at": started.isoformat(timespec="seconds"),
        "config": config.as_dict(),
        "host": host_info(),
        "runs": [],
        "failures": [],
    }
    workdir = Path(tempfile.mkdtemp(prefix="ehealth_auth_bench_work_"))
    results: list[Result] = []
    try:
        for name in config.backends:
            try:
                done = run_backend(Context(config, workdir), name, scenarios)
            except _RUN_ERRORS as exc:
                _log(f"{name}: {exc}")
                summary["failures"].append({"backend": name, "error": str(exc)})
                continue
            results.extend(done)
            summary["runs"].extend(result.as_dict() for result in done)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        summary["finished_at"] = datetime.now(UTC).isoformat(timespec="seconds")
        path = write_summary(RESULTS_DIR, started.strftime("%Y%m%dT%H%M%SZ"), summary)
        _log(f"summary written to {path.relative_to(REPO_DIR)}")

    if summary["failures"]:
        return 2
    if any(failed(result) for result in results):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
