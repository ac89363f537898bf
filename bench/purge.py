"""Running `ehealth-auth tokens purge-expired` beside a wrk run, and reading what it reports.

The purge starts a set time after wrk and runs as a process of its own, as it would from cron;
when it exits, wrk is interrupted, so that the measured window is the purge's lifetime plus the
short lead-in before it. A purge still running when wrk's window closes is waited for (up to
OVERTIME_S more) only to learn how long it took.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import orjson

from bench.wrk import WrkRun

OVERTIME_S = 300.0


@dataclass(frozen=True)
class PurgeOutcome:
    """What one purge did; times are seconds from the start of the wrk run."""

    rows_seeded: int
    started_at_s: float
    elapsed_s: float | None  # the process's wall time, interpreter start-up included
    finished_in_window: bool
    deleted: int | None
    batches: int | None
    erased_successors: int | None
    error: str | None

    @property
    def ok(self) -> bool:
        return self.error is None and self.finished_in_window and self.deleted == self.rows_seeded

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok}


def _report(stdout: str) -> dict[str, Any]:
    lines = [line for line in stdout.splitlines() if line.strip()]
    if not lines:
        raise ValueError("the purge printed nothing")
    data = orjson.loads(lines[-1])
    if not isinstance(data, dict):
        raise ValueError("the purge printed no JSON object")
    return data


def purge_beside(
    load: WrkRun,
    command: Sequence[str],
    env: Mapping[str, str],
    cwd: Path,
    *,
    rows_seeded: int,
    start_after_s: float,
    window_s: float,
) -> PurgeOutcome:
    """Start the purge `start_after_s` into `load`'s window; interrupt `load` once it exits."""
    window_opened = time.monotonic()
    time.sleep(start_after_s)
    started = time.monotonic()
    process = subprocess.Popen(
        list(command),
        cwd=cwd,
        env=dict(env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    finished_in_window = True
    try:
        try:
            stdout, stderr = process.communicate(
                timeout=max(0.0, window_opened + window_s - time.monotonic())
            )
        except subprocess.TimeoutExpired:
            finished_in_window = False
            stdout, stderr = process.communicate(timeout=OVERTIME_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        return PurgeOutcome(
            rows_seeded=rows_seeded,
            started_at_s=round(started - window_opened, 2),
            elapsed_s=None,
            finished_in_window=False,
            deleted=None,
            batches=None,
            erased_successors=None,
            error=f"still running {window_s + OVERTIME_S:.0f} s after the window opened; killed",
        )
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    ended = time.monotonic()
    load.interrupt()

    error = None
    report: dict[str, Any] = {}
    if process.returncode != 0:
        error = f"exit status {process.returncode}: {stderr.strip()[-500:]}"
    else:
        try:
            report = _report(stdout)
        except ValueError as exc:
            error = f"{exc}: {stdout.strip()[-500:]}"
    return PurgeOutcome(
        rows_seeded=rows_seeded,
        started_at_s=round(started - window_opened, 2),
        elapsed_s=round(ended - started, 2),
        finished_in_window=finished_in_window,
        deleted=report.get("deleted"),
        batches=report.get("batches"),
        erased_successors=report.get("erased_successors"),
        error=error,
    )
