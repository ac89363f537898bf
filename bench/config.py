"""Benchmark settings, read from BENCH_* environment variables with defaults for a full run."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

BACKENDS = ("postgresql", "sqlite")
# The reference targets of bench/references.py, measured where a scenario has a counterpart.
REFERENCES = ("reference", "oidc-provider", "ceiling")
# Measured only when named: the ceiling app and the service served by granian, not uvicorn (an
# experiment on the HTTP server; granian is not among the project's dependencies).
OPTIONAL_REFERENCES = ("ceiling-granian", "ours-granian")


class ConfigError(ValueError):
    pass


def _int(env: Mapping[str, str], name: str, default: int, minimum: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, not {raw!r}") from None
    if value < minimum:
        raise ConfigError(f"{name} must be >= {minimum}, not {value}")
    return value


def _names(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in env.get(name, "").split(",") if item.strip())


def _sizes(env: Mapping[str, str], name: str) -> tuple[int, ...]:
    sizes = []
    for item in _names(env, name):
        try:
            sizes.append(int(item.replace("_", "")))
        except ValueError:
            raise ConfigError(f"{name}: {item!r} is not an integer") from None
    if sizes and (len(sizes) < 2 or sizes != sorted(set(sizes))):
        raise ConfigError(f"{name} must list at least two increasing sizes, not {sizes}")
    return tuple(sizes)


@dataclass(frozen=True)
class BenchConfig:
    """BENCH_DURATION and BENCH_WARMUP are seconds; BENCH_ROUNDS alternates the targets that many
    times and reports medians (for noisy hosts); BENCH_BACKENDS and BENCH_SCENARIOS are
    comma-separated subsets (default: all); BENCH_PG_ADMIN_URL is where databases are created.

    BENCH_SINGLE_USE_RATE is the request rate (req/s) the single-use refresh tokens of a rotation
    run are provisioned for: that many per second of warm-up and of measurement. BENCH_PURGE_ROWS
    is how many expired tokens the purge run deletes; BENCH_PURGE_WINDOW (seconds) is the longest
    that run may last: it ends when the purge does, or at this limit if the purge is slower.

    BENCH_FLAT_COST_SIZES are the stored token counts the flat-cost scenario measures at
    (comma-separated, increasing; the first is the baseline); BENCH_FLAT_COST_PROBES is how many
    distinct live refresh and access tokens, spread through each load, the requests present.

    BENCH_REFERENCES picks the reference targets measured beside the service and its floor
    (comma-separated, default the three of REFERENCES; `none` for none); the OPTIONAL_REFERENCES
    are measured only when named."""

    # The reference floor's method (bench/reference_floor/README.md): wrk -t1 -c32, a 2 s warm-up,
    # 10 s measured, two alternating rounds, medians.
    duration: int = 10
    warmup: int = 2
    rounds: int = 2
    connections: int = 32
    threads: int = 1
    request_timeout: int = 5
    backends: tuple[str, ...] = BACKENDS
    scenarios: tuple[str, ...] = ()
    single_use_rate: int = 3000
    purge_rows: int = 100_000
    purge_window: int = 90
    pg_admin_url: str = "postgresql://root@127.0.0.1:5432/postgres"
    references: tuple[str, ...] = REFERENCES
    flat_cost_sizes: tuple[int, ...] = (10_000, 10_000_000)
    flat_cost_probes: int = 200

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> BenchConfig:
        backends = _names(env, "BENCH_BACKENDS") or BACKENDS
        unknown = sorted(set(backends) - set(BACKENDS))
        if unknown:
            raise ConfigError(f"BENCH_BACKENDS: unknown backend(s) {unknown}; known: {BACKENDS}")
        references = _names(env, "BENCH_REFERENCES") or REFERENCES
        if references == ("none",):
            references = ()
        unknown = sorted(set(references) - set(REFERENCES) - set(OPTIONAL_REFERENCES))
        if unknown:
            raise ConfigError(
                f"BENCH_REFERENCES: unknown reference(s) {unknown}; "
                f"known: {REFERENCES + OPTIONAL_REFERENCES}"
            )
        sizes = _sizes(env, "BENCH_FLAT_COST_SIZES") or cls.flat_cost_sizes
        probes = _int(env, "BENCH_FLAT_COST_PROBES", cls.flat_cost_probes, 1)
        if sizes[0] < 2 * probes:
            raise ConfigError(
                "BENCH_FLAT_COST_SIZES: the smallest size must hold at least twice "
                f"BENCH_FLAT_COST_PROBES ({2 * probes}) rows"
            )
        return cls(
            duration=_int(env, "BENCH_DURATION", cls.duration, 1),
            warmup=_int(env, "BENCH_WARMUP", cls.warmup, 0),
            rounds=_int(env, "BENCH_ROUNDS", cls.rounds, 1),
            connections=_int(env, "BENCH_CONNECTIONS", cls.connections, 1),
            threads=_int(env, "BENCH_THREADS", cls.threads, 1),
            request_timeout=_int(env, "BENCH_REQUEST_TIMEOUT", cls.request_timeout, 1),
            backends=backends,
            scenarios=_names(env, "BENCH_SCENARIOS"),
            single_use_rate=_int(env, "BENCH_SINGLE_USE_RATE", cls.single_use_rate, 1),
            purge_rows=_int(env, "BENCH_PURGE_ROWS", cls.purge_rows, 1),
            purge_window=_int(env, "BENCH_PURGE_WINDOW", cls.purge_window, 5),
            pg_admin_url=env.get("BENCH_PG_ADMIN_URL", "").strip() or cls.pg_admin_url,
            references=references,
            flat_cost_sizes=sizes,
            flat_cost_probes=probes,
        )

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["backends"] = list(self.backends)
        data["scenarios"] = list(self.scenarios)
        data["references"] = list(self.references)
        data["flat_cost_sizes"] = list(self.flat_cost_sizes)
        return data
