"""The printed tables, the goal check and the JSON summary.

A Comparison sets the service against its floor; a PurgeComparison sets the service's refresh
figures during a purge against the same refresh without one.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.purge import PurgeOutcome
from bench.wrk import LoadResult

OURS = "ours"
FLOOR = "floor"


@dataclass(frozen=True)
class Goal:
    """The project's performance goal, relative to the floor on the same backend and load."""

    backends: tuple[str, ...] = ("postgresql",)
    min_throughput: float = 0.7
    target_throughput: float = 0.8
    max_p99: float = 1.5

    def verdict(self, comparison: Comparison) -> str | None:
        """'met', 'met (target reached)', 'not met: ...' or None when the goal does not apply."""
        if comparison.backend not in self.backends:
            return None
        misses = []
        if comparison.throughput_ratio < self.min_throughput:
            misses.append(f"throughput {comparison.throughput_ratio:.2f}x < {self.min_throughput}x")
        if comparison.p99_ratio > self.max_p99:
            misses.append(f"p99 {comparison.p99_ratio:.2f}x > {self.max_p99}x")
        errors = comparison.ours.errors + comparison.floor.errors
        if errors:
            misses.append(f"{errors} errors")
        if comparison.ours.exhausted or comparison.floor.exhausted:
            misses.append("single-use inputs exhausted")
        if misses:
            return "not met: " + ", ".join(misses)
        if comparison.throughput_ratio >= self.target_throughput:
            return "met (target reached)"
        return "met"


GOAL = Goal()


@dataclass(frozen=True)
class Comparison:
    backend: str
    backend_label: str
    scenario: str
    title: str
    ours: LoadResult
    floor: LoadResult
    # Reference targets measured in the same run (bench/references.py), by name.
    references: Mapping[str, LoadResult] = field(default_factory=dict)
    rounds: Mapping[str, tuple[LoadResult, ...]] = field(default_factory=dict)

    def ratios_to(self, other: LoadResult) -> tuple[float | None, float | None]:
        """ours / other: throughput and p99 (None where `other` has nothing to divide by)."""
        return (
            _ratio(self.ours.requests_per_s, other.requests_per_s),
            _ratio(self.ours.p99_ms, other.p99_ms),
        )

    @property
    def throughput_ratio(self) -> float:
        if self.floor.requests_per_s == 0:
            return 0.0
        return self.ours.requests_per_s / self.floor.requests_per_s

    @property
    def p99_ratio(self) -> float:
        if self.floor.p99_ms == 0:
            return float("inf")
        return self.ours.p99_ms / self.floor.p99_ms

    def as_dict(self) -> dict[str, Any]:
        return {
            "backend": self.backend,
            "scenario": self.scenario,
            "title": self.title,
            "targets": {
                OURS: self.ours.as_dict(),
                FLOOR: self.floor.as_dict(),
                **{name: result.as_dict() for name, result in self.references.items()},
            },
            "ratios": {
                "throughput": round(self.throughput_ratio, 3),
                "p99": round(self.p99_ratio, 3) if math.isfinite(self.p99_ratio) else None,
            },
            "ratios_to_references": {
                name: {
                    "throughput": _rounded(self.ratios_to(result)[0]),
                    "p99": _rounded(self.ratios_to(result)[1]),
                }
                for name, result in self.references.items()
            },
            "goal": GOAL.verdict(self),
            "rounds": {
                target: [result.as_dict() for result in results]
                for target, results in self.rounds.items()
            },
        }


def render(comparison: Comparison, load: str) -> str:
    header = (
        f"{'target':<15}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'non-2xx':>10}{'sock err':>10}"
        f"{'CPU us/req':>12}{'PG us/req':>11}"
        + (f"{'ours/x req/s':>14}{'ours/x p99':>12}" if comparison.references else "")
    )
    lines = [
        f"{comparison.backend_label} / {comparison.scenario}: {comparison.title}",
        f"({load})",
        header,
        "-" * len(header),
    ]
    targets = ((OURS, comparison.ours), (FLOOR, comparison.floor), *comparison.references.items())
    for name, result in targets:
        line = (
            f"{name:<15}{result.requests_per_s:>10.1f}{result.p50_ms:>10.2f}{result.p99_ms:>10.2f}"
            f"{result.non_2xx:>10d}{result.socket_errors:>10d}{cpu_per_request(result):>12}"
            f"{database_cpu_per_request(result):>11}"
        )
        if comparison.references:
            throughput, p99 = comparison.ratios_to(result)
            line += f"{_times(throughput):>14}{_times(p99):>12}"
        lines.append(line)
    lines.append(
        f"ours/floor: throughput {comparison.throughput_ratio:.2f}x, "
        f"p99 {comparison.p99_ratio:.2f}x"
    )
    verdict = GOAL.verdict(comparison)
    if verdict is not None:
        lines.append(
            f"goal: throughput >= {GOAL.min_throughput}x (target {GOAL.target_throughput}x), "
            f"p99 <= {GOAL.max_p99}x, 0 errors -> {verdict}"
        )
    for name, result in targets:
        lines.extend(_input_notes(name, result))
        if result.first_error:
            lines.append(f"first failure ({name}): {result.first_error[:300]}")
    return "\n".join(lines)


def _microseconds(figure: float | None) -> str:
    return "-" if figure is None else f"{figure:.0f}"


def cpu_per_request(result: LoadResult) -> str:
    """The target's CPU time per request, all its threads and processes ("-" when unknown)."""
    return _microseconds(result.cpu_us_per_request)


def database_cpu_per_request(result: LoadResult) -> str:
    """PostgreSQL's CPU time per request, all its processes ("-" when not measured)."""
    return _microseconds(result.database_cpu_us_per_request)


def _input_notes(name: str, result: LoadResult) -> list[str]:
    if not result.inputs:
        return []
    notes = [f"single-use refresh tokens ({name}): {result.inputs_used} sent of {result.inputs}"]
    if result.exhausted:
        notes.append(
            f"INPUT EXHAUSTED ({name}): wrk threads ran out of tokens and stopped early "
            f"({result.exhausted} in all); these figures are not valid (raise "
            "BENCH_SINGLE_USE_RATE)"
        )
    return notes


def _ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator else None


def _rounded(ratio: float | None) -> float | None:
    return None if ratio is None else round(ratio, 3)


def _times(ratio: float | None) -> str:
    return "n/a" if ratio is None else f"{ratio:.2f}x"


@dataclass(frozen=True)
class PurgeComparison:
    """The service's refresh without a purge (`baseline`) and while one runs (`during`)."""

    backend: str
    backend_label: str
    scenario: str
    title: str
    baseline: LoadResult
    during: LoadResult
    purges: tuple[PurgeOutcome, ...]
    rounds: Mapping[str, tuple[LoadResult, ...]] = field(default_factory=dict)

    @property
    def problems(self) -> list[str]:
        """Why the figures cannot be taken as they are; empty when they can."""
        problems = []
        for number, purge in enumerate(self.purges, 1):
            which = f"purge {number}" if len(self.purges) > 1 else "purge"
            if purge.error:
                problems.append(f"{which} failed: {purge.error}")
            elif not purge.finished_in_window:
                problems.append(
                    f"{which} did not finish within the measured window (raise BENCH_PURGE_WINDOW)"
                )
            elif purge.deleted != purge.rows_seeded:
                problems.append(
                    f"{which} deleted {purge.deleted} rows, not the {purge.rows_seeded} seeded"
                )
        return problems

    def as_dict(self) -> dict[str, Any]:
        ratios = {
            "throughput": _ratio(self.during.requests_per_s, self.baseline.requests_per_s),
            "p50": _ratio(self.during.p50_ms, self.baseline.p50_ms),
            "p99": _ratio(self.during.p99_ms, self.baseline.p99_ms),
        }
        return {
            "backend": self.backend,
            "scenario": self.scenario,
            "title": self.title,
            "targets": {"no_purge": self.baseline.as_dict(), "during_purge": self.during.as_dict()},
            "ratios": {
                name: None if value is None else round(value, 3) for name, value in ratios.items()
            },
            "purges": [purge.as_dict() for purge in self.purges],
            "problems": self.problems,
            "rounds": {
                target: [result.as_dict() for result in results]
                for target, results in self.rounds.items()
            },
        }


def render_purge(comparison: PurgeComparison, load: str) -> str:
    header = (
        f"{'run':<14}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}{'non-2xx':>9}"
        f"{'sock err':>9}{'window s':>10}"
    )
    lines = [
        f"{comparison.backend_label} / {comparison.scenario}: {comparison.title}",
        f"({load})",
        header,
        "-" * len(header),
    ]
    for name, result in (("no purge", comparison.baseline), ("during purge", comparison.during)):
        lines.append(
            f"{name:<14}{result.requests_per_s:>9.1f}{result.p50_ms:>9.2f}{result.p99_ms:>9.2f}"
            f"{result.max_ms:>9.2f}{result.non_2xx:>9d}{result.socket_errors:>9d}"
            f"{result.duration_s:>10.2f}"
        )
    baseline, during = comparison.baseline, comparison.during
    lines.append(
        "during/no purge: "
        f"throughput {_times(_ratio(during.requests_per_s, baseline.requests_per_s))}, "
        f"p50 {_times(_ratio(during.p50_ms, baseline.p50_ms))}, "
        f"p99 {_times(_ratio(during.p99_ms, baseline.p99_ms))}, "
        f"max {_times(_ratio(during.max_ms, baseline.max_ms))}"
    )
    for number, purge in enumerate(comparison.purges, 1):
        which = f"purge {number}" if len(comparison.purges) > 1 else "purge"
        if purge.elapsed_s is None:
            continue  # never finished: see the problems below
        where = (
            "finished inside the window"
            if purge.finished_in_window
            else "DID NOT FINISH inside the window"
        )
        lines.append(
            f"{which}: deleted {purge.deleted} of {purge.rows_seeded} expired rows in "
            f"{purge.batches} batches, {purge.elapsed_s:.2f} s (process wall time), started "
            f"{purge.started_at_s:.2f} s into the window; {where}"
        )
    lines.extend(f"PROBLEM: {problem}" for problem in comparison.problems)
    for name, result in (("no purge", baseline), ("during purge", during)):
        if result.first_error:
            lines.append(f"first failure ({name}): {result.first_error[:300]}")
    return "\n".join(lines)


def write_summary(directory: Path, stamp: str, summary: Mapping[str, Any]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"bench-{stamp}.json"
    path.write_text(json.dumps(summary, indent=2) + "\n")
    return path
