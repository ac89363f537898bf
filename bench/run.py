"""Entry point (`python -m bench.run`, `make bench`): the service against its floor, per backend.

For each backend (PostgreSQL, SQLite) it creates a throwaway database, seeds it with the
`ehealth-auth` CLI, then for each scenario serves the service and the floor in turn (uvicorn, one
worker, loopback only), warms each up and measures it with wrk from a separate process. It prints
one table per backend and scenario and writes a JSON summary to bench/results/. Servers,
databases and temporary files are removed whatever happens.

Environment: BENCH_DURATION (measured seconds, default 10), BENCH_WARMUP (seconds, 3),
BENCH_ROUNDS (1; more alternate the targets and report medians), BENCH_CONNECTIONS (32),
BENCH_THREADS (2), BENCH_REQUEST_TIMEOUT (seconds, 5), BENCH_BACKENDS
and BENCH_SCENARIOS (comma-separated, default all), BENCH_PG_ADMIN_URL (a loopback PostgreSQL
URL with the right to create databases).

Exit status: 0 when every measurement completed without errors, 1 when some request failed
(non-2xx or socket error), 2 when the benchmark itself could not run.
"""

from __future__ import annotations

import os
import platform
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

from bench.backends import Backend, BackendError, make_backend
from bench.config import BenchConfig, ConfigError
from bench.report import FLOOR, OURS, Comparison, render, write_summary
from bench.scenarios import BENCH_DIR, Scenario, select
from bench.seed import Cli, Seed, SeedError, seed_database
from bench.servers import HOST, ServerError, ServerSpec, running
from bench.wrk import LoadError, LoadResult, LoadSpec, combine, run_wrk, wrk_version

REPO_DIR = BENCH_DIR.parent
RESULTS_DIR = BENCH_DIR / "results"
BIN_DIR = Path(sys.executable).parent

# Failures that stop one backend's run with a message rather than a traceback.
_RUN_ERRORS = (
    BackendError,
    SeedError,
    ServerError,
    LoadError,
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


def server_specs(scenario: Scenario, env: Mapping[str, str]) -> dict[str, ServerSpec]:
    """The two targets of a scenario, both one uvicorn worker on uvloop and httptools."""
    target_env = {**env, **scenario.service_env}
    ours = ServerSpec(
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
        env=target_env,
        cwd=REPO_DIR,
    )
    floor = ServerSpec(
        name=FLOOR,
        command=[
            sys.executable,
            "-m",
            "uvicorn",
            "bench.floor_app:create_app",
            "--factory",
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
            "--lifespan",
            "on",
            "--no-access-log",
            "--no-server-header",
            "--log-level",
            "warning",
        ],
        env={**target_env, "BENCH_FLOOR_HANDLER": scenario.floor_handler},
        cwd=REPO_DIR,
    )
    return {OURS: ours, FLOOR: floor}


@dataclass(frozen=True)
class Context:
    config: BenchConfig
    workdir: Path


def measure(
    context: Context,
    backend: Backend,
    scenario: Scenario,
    spec: ServerSpec,
    input_file: Path,
) -> LoadResult:
    """Reset the database, start the target, warm it up, then measure it."""
    config = context.config
    backend.reset()
    log_path = context.workdir / f"{backend.name}-{scenario.name}-{spec.name}.log"
    with running(spec, log_path) as port:
        load = LoadSpec(
            url=f"http://{HOST}:{port}{scenario.path}",
            script=scenario.wrk_script,
            env={**base_env(), "BENCH_INPUT_FILE": str(input_file)},
            connections=config.connections,
            threads=config.threads,
            request_timeout=config.request_timeout,
        )
        if config.warmup:
            _log(f"{backend.name}/{scenario.name}/{spec.name}: warm-up {config.warmup} s")
            run_wrk(load, config.warmup)
        _log(f"{backend.name}/{scenario.name}/{spec.name}: measuring {config.duration} s")
        result, _output = run_wrk(load, config.duration)
    return result


def run_backend(context: Context, name: str, scenarios: tuple[Scenario, ...]) -> list[Comparison]:
    backend = make_backend(name, context.config.pg_admin_url)
    comparisons: list[Comparison] = []
    with ExitStack() as cleanup:
        cleanup.callback(backend.drop)
        _log(f"{name}: creating and seeding the database")
        env = service_env(backend.create(), secrets.token_urlsafe(32))
        seed: Seed = seed_database(Cli(BIN_DIR / "ehealth-auth", env))
        for scenario in scenarios:
            input_file = context.workdir / f"{name}-{scenario.name}.input"
            input_file.write_text("\n".join(scenario.inputs(seed)) + "\n")
            specs = server_specs(scenario, env)
            rounds: dict[str, list[LoadResult]] = {target: [] for target in specs}
            for number in range(1, context.config.rounds + 1):
                if context.config.rounds > 1:
                    _log(f"{name}/{scenario.name}: round {number} of {context.config.rounds}")
                for target, spec in specs.items():
                    rounds[target].append(measure(context, backend, scenario, spec, input_file))
            comparison = Comparison(
                backend=name,
                backend_label=backend.label,
                scenario=scenario.name,
                title=scenario.title,
                ours=combine(rounds[OURS]),
                floor=combine(rounds[FLOOR]),
                rounds={target: tuple(results) for target, results in rounds.items()},
            )
            comparisons.append(comparison)
            print(render(comparison, load_description(context.config)) + "\n", flush=True)
    return comparisons


def load_description(config: BenchConfig) -> str:
    rounds = f", median of {config.rounds} alternating rounds" if config.rounds > 1 else ""
    return (
        f"wrk: {config.connections} connections, {config.threads} threads, "
        f"{config.duration} s measured after {config.warmup} s warm-up{rounds}"
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
    comparisons: list[Comparison] = []
    try:
        for name in config.backends:
            try:
                done = run_backend(Context(config, workdir), name, scenarios)
            except _RUN_ERRORS as exc:
                _log(f"{name}: {exc}")
                summary["failures"].append({"backend": name, "error": str(exc)})
                continue
            comparisons.extend(done)
            summary["runs"].extend(comparison.as_dict() for comparison in done)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        summary["finished_at"] = datetime.now(UTC).isoformat(timespec="seconds")
        path = write_summary(RESULTS_DIR, started.strftime("%Y%m%dT%H%M%SZ"), summary)
        _log(f"summary written to {path.relative_to(REPO_DIR)}")

    if summary["failures"]:
        return 2
    if any(c.ours.errors or c.floor.errors for c in comparisons):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
