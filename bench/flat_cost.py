"""The flat-cost scenario's figures: each operation at each stored token count, the p99 ratio of
the largest count to the smallest, and what loading the tokens cost in time and disk."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from bench.report import cpu_per_request, database_cpu_per_request
from bench.token_load import LoadTimes
from bench.wrk import LoadResult

GIB = 1024**3
MIB = 1024**2


@dataclass(frozen=True)
class Stage:
    """One stored token count (a database of its own): how it was loaded and the operations
    measured on it."""

    tokens: int
    load: LoadTimes
    table_bytes: int
    database_bytes: int
    results: Mapping[str, LoadResult]
    rounds: Mapping[str, tuple[LoadResult, ...]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "tokens": self.tokens,
            "load": {**asdict(self.load), "total_s": round(self.load.total_s, 1)},
            "table_bytes": self.table_bytes,
            "database_bytes": self.database_bytes,
            "results": {name: result.as_dict() for name, result in self.results.items()},
            "rounds": {
                name: [result.as_dict() for result in results]
                for name, results in self.rounds.items()
            },
        }


@dataclass(frozen=True)
class FlatCostResult:
    backend: str
    backend_label: str
    scenario: str
    title: str
    max_p99_ratio: float
    stages: Sequence[Stage]
    disk_free_before_bytes: int
    disk_free_loaded_bytes: int
    disk_free_after_bytes: int
    load_average: tuple[float, float, float]  # the host's when the measurements ended

    def p99_ratio(self, operation: str) -> float | None:
        """The largest count's p99 over the smallest's."""
        first = self.stages[0].results[operation].p99_ms
        last = self.stages[-1].results[operation].p99_ms
        return last / first if first else None

    @property
    def operations(self) -> list[str]:
        return list(self.stages[0].results)

    @property
    def problems(self) -> list[str]:
        problems = []
        for stage in self.stages:
            for name, result in stage.results.items():
                if result.errors:
                    problems.append(f"{name} at {stage.tokens:,} tokens: {result.errors} errors")
        return problems

    def verdict(self, operation: str) -> str:
        ratio = self.p99_ratio(operation)
        if ratio is None:
            return "no figure"
        if ratio <= self.max_p99_ratio:
            return "met"
        return f"not met (> {self.max_p99_ratio})"

    def as_dict(self) -> dict[str, Any]:
        return {
            "backend": self.backend,
            "scenario": self.scenario,
            "title": self.title,
            "stages": [stage.as_dict() for stage in self.stages],
            "p99_ratios": {name: _rounded(self.p99_ratio(name)) for name in self.operations},
            "max_p99_ratio": self.max_p99_ratio,
            "verdicts": {name: self.verdict(name) for name in self.operations},
            "disk_free_before_bytes": self.disk_free_before_bytes,
            "disk_free_loaded_bytes": self.disk_free_loaded_bytes,
            "load_average": list(self.load_average),
            "disk_free_after_bytes": self.disk_free_after_bytes,
            "problems": self.problems,
        }


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def _gib(size: int) -> str:
    if size < GIB:
        return f"{size / MIB:.0f} MiB"
    return f"{size / GIB:.2f} GiB"


def _wal(figure: float | None, spec: str) -> str:
    return "-" if figure is None else format(figure, spec)


def render_flat_cost(result: FlatCostResult, load: str) -> str:
    lines = [
        f"== {result.backend_label} / {result.scenario}: {result.title}",
        f"   {load}; the service, one worker",
        f"{'operation':<18}{'tokens':>14}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}"
        f"{'non-2xx':>10}{'sock err':>10}{'CPU us/req':>12}{'PG us/req':>11}{'WAL B/req':>11}"
        f"{'FPI/req':>9}",
    ]
    for name in result.operations:
        for stage in result.stages:
            figures = stage.results[name]
            lines.append(
                f"{name:<18}{stage.tokens:>14,}{figures.requests_per_s:>10.1f}"
                f"{figures.p50_ms:>10.2f}{figures.p99_ms:>10.2f}{figures.non_2xx:>10}"
                f"{figures.socket_errors:>10}{cpu_per_request(figures):>12}"
                f"{database_cpu_per_request(figures):>11}"
                f"{_wal(figures.wal_bytes_per_request, '.0f'):>11}"
                f"{_wal(figures.wal_fpi_per_request, '.2f'):>9}"
            )
    first, last = result.stages[0].tokens, result.stages[-1].tokens
    for name in result.operations:
        ratio = result.p99_ratio(name)
        shown = "-" if ratio is None else f"{ratio:.2f}"
        lines.append(
            f"p99 {last:,} / {first:,} tokens, {name}: {shown} "
            f"(target <= {result.max_p99_ratio}): {result.verdict(name)}"
        )
    for stage in result.stages:
        times = stage.load
        rebuilt = ", indexes dropped and rebuilt" if times.rebuilt_indexes else ", indexes kept"
        lines.append(
            f"load to {stage.tokens:,}: {times.rows:,} rows in {times.total_s:.0f} s "
            f"(COPY {times.copy_s:.0f} s{rebuilt} {times.indexes_s:.0f} s, "
            f"VACUUM ANALYZE {times.vacuum_s:.0f} s, CHECKPOINT {times.checkpoint_s:.0f} s); "
            f"tokens table {_gib(stage.table_bytes)}, database {_gib(stage.database_bytes)}"
        )
    lines.append(
        f"disk free: {_gib(result.disk_free_before_bytes)} before, "
        f"{_gib(result.disk_free_loaded_bytes)} loaded, {_gib(result.disk_free_after_bytes)} "
        f"after the databases were dropped; host load average at the end "
        f"{result.load_average[0]:.1f} (1 min), {result.load_average[1]:.1f} (5 min), "
        f"{result.load_average[2]:.1f} (15 min) on {os.cpu_count()} CPUs"
    )
    lines.extend(f"problem: {problem}" for problem in result.problems)
    return "\n".join(lines)
