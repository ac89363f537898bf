"""Comparing the service with its floor: the printed tables, the goal check, the JSON summary."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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
    rounds: Mapping[str, tuple[LoadResult, ...]] = field(default_factory=dict)

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
            "targets": {OURS: self.ours.as_dict(), FLOOR: self.floor.as_dict()},
            "ratios": {
                "throughput": round(self.throughput_ratio, 3),
                "p99": round(self.p99_ratio, 3) if math.isfinite(self.p99_ratio) else None,
            },
            "goal": GOAL.verdict(self),
            "rounds": {
                target: [result.as_dict() for result in results]
                for target, results in self.rounds.items()
            },
        }


def render(comparison: Comparison, load: str) -> str:
    header = (
        f"{'target':<8}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'non-2xx':>10}{'sock err':>10}"
    )
    lines = [
        f"{comparison.backend_label} / {comparison.scenario}: {comparison.title}",
        f"({load})",
        header,
        "-" * len(header),
    ]
    for name, result in ((OURS, comparison.ours), (FLOOR, comparison.floor)):
        lines.append(
            f"{name:<8}{result.requests_per_s:>10.1f}{result.p50_ms:>10.2f}{result.p99_ms:>10.2f}"
            f"{result.non_2xx:>10d}{result.socket_errors:>10d}"
        )
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
    for name, result in ((OURS, comparison.ours), (FLOOR, comparison.floor)):
        if result.first_error:
            lines.append(f"first failure ({name}): {result.first_error[:300]}")
    return "\n".join(lines)


def write_summary(directory: Path, stamp: str, summary: Mapping[str, Any]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"bench-{stamp}.json"
    path.write_text(json.dumps(summary, indent=2) + "\n")
    return path
