"""Starting and stopping the servers under test: each one a uvicorn process on a loopback port."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

HOST = "127.0.0.1"
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0


class ServerError(RuntimeError):
    pass


@dataclass(frozen=True)
class ServerSpec:
    """How to start one target.

    `{port}` in the command is replaced by the port chosen; `env` is the whole environment.
    """

    name: str
    command: Sequence[str]
    env: Mapping[str, str]
    cwd: Path


class Served(NamedTuple):
    """A started target: its port, and the session its processes run in (its leader's pid)."""

    port: int
    session: int


def _cpu_seconds(counts: Callable[[str, list[str]], bool]) -> float:
    """CPU time (user and system) used so far by the processes `counts` picks by command name
    and the fields of /proc/PID/stat after it, and by the children they reaped; a process that
    exits between two readings takes its time with it."""
    ticks = 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as stat:
                head, tail = stat.read().rsplit(")", 1)
        except OSError:
            continue
        # After the command: state, ppid, pgrp, session, ..., utime (11), stime, cutime, cstime.
        fields = tail.split()
        if counts(head.split("(", 1)[1], fields):
            ticks += sum(int(value) for value in fields[11:15])
    return ticks / os.sysconf("SC_CLK_TCK")


def session_cpu_seconds(session: int) -> float:
    """CPU time used so far by the processes of a session (a target's server)."""
    return _cpu_seconds(lambda _command, fields: int(fields[3]) == session)


def postgres_cpu_seconds() -> float:
    """CPU time used so far by this host's PostgreSQL processes (postmaster, backends, WAL
    writer, checkpointer...): what the database spends serving a target, whichever database."""
    return _cpu_seconds(lambda command, _fields: command == "postgres")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=0.5):
            return True
    except OSError:
        return False


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=STOP_TIMEOUT_S)


@contextmanager
def running(spec: ServerSpec, log_path: Path) -> Iterator[Served]:
    """Start the server, wait until its port accepts connections, yield it, stop it."""
    port = free_port()
    command = [part.replace("{port}", str(port)) for part in spec.command]
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command,
            cwd=spec.cwd,
            env=dict(spec.env),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a terminal's Ctrl-C reaches the bench, which stops it
        )
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not _accepts(port):
            if process.poll() is not None:
                raise ServerError(
                    f"{spec.name} exited with {process.returncode}:\n{_tail(log_path)}"
                )
            if time.monotonic() > deadline:
                raise ServerError(f"{spec.name} did not listen within {START_TIMEOUT_S:.0f} s")
            time.sleep(0.1)
        yield Served(port, process.pid)
        if process.poll() is not None:
            raise ServerError(f"{spec.name} died under load:\n{_tail(log_path)}")
    finally:
        _stop(process)
