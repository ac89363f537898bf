"""Running wrk from a separate process and reading its figures.

The scenario's Lua script prints one `BENCH_RESULT key=value ...` line from its done() callback
(request count, duration, non-2xx count, socket errors, latency percentiles in microseconds,
and for single-use inputs how many were sent and whether a thread ran out); wrk's own "Non-2xx
or 3xx responses" line is parsed as a cross-check. A run can also be started in the background
and ended early (WrkRun.interrupt): on SIGINT wrk stops and reports what it measured so far.
"""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from statistics import median
from typing import Any, TypeVar

from bench.servers import postgres_cpu_seconds, session_cpu_seconds

_RESULT = re.compile(r"^BENCH_RESULT (?P<fields>.*)$", re.MULTILINE)
_FIRST_ERROR = re.compile(r"^BENCH_FIRST_ERROR (?P<text>.*)$", re.MULTILINE)
_WRK_NON_2XX = re.compile(r"Non-2xx or 3xx responses:\s*(\d+)")
_GRACE_S = 30


class LoadError(RuntimeError):
    pass


Number = TypeVar("Number", int, float)


@dataclass(frozen=True)
class LoadSpec:
    url: str
    script: Path
    env: Mapping[str, str]
    connections: int
    threads: int
    request_timeout: int
    # The target's session (bench/servers.py): its CPU time over the run is recorded.
    server_session: int | None = None
    # Also record the CPU time of this host's PostgreSQL processes over the run.
    database_cpu: bool = False


@dataclass(frozen=True)
class LoadResult:
    requests: int
    duration_s: float
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    mean_ms: float
    max_ms: float
    non_2xx: int
    socket_errors: int
    wrk_non_2xx_3xx: int
    first_error: str | None
    # Single-use inputs: how many bodies were sent of how many given, and how many wrk threads
    # ran out of theirs (their figures are then not valid: the threads stopped early).
    inputs_used: int = 0
    inputs: int = 0
    exhausted: int = 0
    # CPU seconds the target's processes used over the run (all its threads and processes).
    server_cpu_s: float | None = None
    # CPU seconds this host's PostgreSQL processes used over the run, where measured.
    database_cpu_s: float | None = None
    # PostgreSQL's write-ahead log over the run, where measured (pg_stat_wal, the whole server):
    # bytes written, and full-page images among them (a page's first change after a checkpoint).
    wal_bytes: int | None = None
    wal_fpi: int | None = None

    @property
    def errors(self) -> int:
        return self.non_2xx + self.socket_errors

    def _per_request(self, total: float | None) -> float | None:
        if total is None or not self.requests:
            return None
        return total / self.requests

    def _us_per_request(self, seconds: float | None) -> float | None:
        cpu = self._per_request(seconds)
        return None if cpu is None else cpu * 1e6

    @property
    def cpu_us_per_request(self) -> float | None:
        return self._us_per_request(self.server_cpu_s)

    @property
    def database_cpu_us_per_request(self) -> float | None:
        return self._us_per_request(self.database_cpu_s)

    @property
    def wal_bytes_per_request(self) -> float | None:
        return self._per_request(self.wal_bytes)

    @property
    def wal_fpi_per_request(self) -> float | None:
        return self._per_request(self.wal_fpi)

    def as_dict(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "errors": self.errors,
            "cpu_us_per_request": _rounded(self.cpu_us_per_request, 1),
            "database_cpu_us_per_request": _rounded(self.database_cpu_us_per_request, 1),
            "wal_bytes_per_request": _rounded(self.wal_bytes_per_request, None),
            "wal_fpi_per_request": _rounded(self.wal_fpi_per_request, 3),
        }


def combine(results: Sequence[LoadResult]) -> LoadResult:
    """Several rounds of one target as one: medians of the rates and latencies, sums of counts."""
    if len(results) == 1:
        return results[0]
    first_errors = [result.first_error for result in results if result.first_error]
    return LoadResult(
        requests=sum(result.requests for result in results),
        duration_s=round(sum(result.duration_s for result in results), 3),
        requests_per_s=round(median(result.requests_per_s for result in results), 1),
        p50_ms=round(median(result.p50_ms for result in results), 2),
        p99_ms=round(median(result.p99_ms for result in results), 2),
        mean_ms=round(median(result.mean_ms for result in results), 2),
        max_ms=max(result.max_ms for result in results),
        non_2xx=sum(result.non_2xx for result in results),
        socket_errors=sum(result.socket_errors for result in results),
        wrk_non_2xx_3xx=sum(result.wrk_non_2xx_3xx for result in results),
        first_error=first_errors[0] if first_errors else None,
        inputs_used=max(result.inputs_used for result in results),
        inputs=max(result.inputs for result in results),
        exhausted=sum(result.exhausted for result in results),
        server_cpu_s=_rounded(_total(result.server_cpu_s for result in results), 2),
        database_cpu_s=_rounded(_total(result.database_cpu_s for result in results), 2),
        wal_bytes=_total(result.wal_bytes for result in results),
        wal_fpi=_total(result.wal_fpi for result in results),
    )


def _rounded(value: float | None, digits: int | None) -> float | None:
    """`value` rounded as `round` does (to an int when `digits` is None), or None."""
    return None if value is None else round(value, digits)


def _total(values: Iterable[Number | None]) -> Number | None:
    """The sum of the rounds' figures, or None when any round lacks one."""
    known: list[Number] = []
    for value in values:
        if value is None:
            return None
        known.append(value)
    return sum(known)


def wrk_executable() -> str:
    path = shutil.which("wrk")
    if path is None:
        raise LoadError("wrk is not installed (Debian: apt-get install -y wrk)")
    return path


def wrk_version() -> str:
    done = subprocess.run(
        [wrk_executable(), "-v"], capture_output=True, text=True, timeout=10, check=False
    )
    lines = (done.stdout or done.stderr).splitlines()
    return lines[0].strip() if lines else ""


def parse_output(output: str) -> LoadResult:
    match = _RESULT.search(output)
    if match is None:
        raise LoadError(f"wrk printed no BENCH_RESULT line:\n{output[-2000:]}")
    fields = {
        key: float(value)
        for key, value in (item.split("=", 1) for item in match.group("fields").split())
    }
    duration_s = fields["duration_us"] / 1e6
    requests = int(fields["requests"])
    non_2xx = _WRK_NON_2XX.search(output)
    first_error = _FIRST_ERROR.search(output)
    return LoadResult(
        requests=requests,
        duration_s=round(duration_s, 3),
        requests_per_s=round(requests / duration_s, 1) if duration_s > 0 else 0.0,
        p50_ms=round(fields["p50_us"] / 1000, 2),
        p99_ms=round(fields["p99_us"] / 1000, 2),
        mean_ms=round(fields["mean_us"] / 1000, 2),
        max_ms=round(fields["max_us"] / 1000, 2),
        non_2xx=int(fields["non2xx"]),
        socket_errors=int(fields["connect"] + fields["read"] + fields["write"] + fields["timeout"]),
        wrk_non_2xx_3xx=int(non_2xx.group(1)) if non_2xx else 0,
        first_error=first_error.group("text") if first_error else None,
        inputs_used=int(fields.get("inputs_used", 0)),
        inputs=int(fields.get("inputs", 0)),
        exhausted=int(fields.get("exhausted", 0)),
    )


class WrkRun:
    """One wrk run of at most `duration_s` seconds, in the background."""

    def __init__(self, spec: LoadSpec, duration_s: int) -> None:
        self._session = spec.server_session
        self._cpu_start = None if self._session is None else session_cpu_seconds(self._session)
        self._database_cpu_start = postgres_cpu_seconds() if spec.database_cpu else None
        self._timeout = duration_s + spec.request_timeout + _GRACE_S
        command = [
            wrk_executable(),
            "--threads",
            str(spec.threads),
            "--connections",
            str(spec.connections),
            "--duration",
            f"{duration_s}s",
            "--timeout",
            f"{spec.request_timeout}s",
            "--latency",
            "--script",
            str(spec.script),
            spec.url,
        ]
        self._process = subprocess.Popen(
            command,
            env=dict(spec.env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )

    def interrupt(self) -> None:
        """End the run now; wrk still reports the figures of the time it ran."""
        if self._process.poll() is None:
            self._process.send_signal(signal.SIGINT)

    def wait(self) -> tuple[LoadResult, str]:
        """The figures and wrk's whole output, once it has finished."""
        try:
            output, _ = self._process.communicate(timeout=self._timeout)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.communicate()
            raise LoadError(f"wrk did not finish within {self._timeout} s") from None
        if self._process.returncode != 0:
            raise LoadError(f"wrk failed ({self._process.returncode}):\n{output[-2000:]}")
        result = parse_output(output)
        if self._session is not None and self._cpu_start is not None:
            used = session_cpu_seconds(self._session) - self._cpu_start
            result = replace(result, server_cpu_s=round(used, 2))
        if self._database_cpu_start is not None:
            used = postgres_cpu_seconds() - self._database_cpu_start
            result = replace(result, database_cpu_s=round(used, 2))
        return result, output

    def close(self) -> None:
        """Stop wrk if it still runs (when the caller gives up on it)."""
        if self._process.poll() is None:
            self._process.kill()
            self._process.communicate()


def run_wrk(spec: LoadSpec, duration_s: int) -> tuple[LoadResult, str]:
    """One wrk run of `duration_s` seconds; returns the figures and wrk's whole output."""
    run = WrkRun(spec, duration_s)
    try:
        return run.wait()
    finally:
        run.close()
