"""`ehealth-auth serve`: the HTTP service under uvicorn, every log line JSON, metrics shared by
its worker processes."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click

from ehealth_auth.cli.output import emit
from ehealth_auth.cli.runner import CommandError, json_option, load_settings
from ehealth_auth.logs import configure_logging, log_startup, logging_config
from ehealth_auth.settings import InsecureSettingsError
from ehealth_auth.storage.engine import UnsupportedDatabaseError, display_url
from ehealth_auth.web.server import run_server

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


@contextmanager
def _metrics_directory(workers: int) -> Iterator[None]:
    """Worker processes count into files of one directory, which /metrics adds up.

    One process counts in memory. An operator's PROMETHEUS_MULTIPROC_DIR is emptied of the
    files of earlier runs; otherwise a private directory lives as long as the server.
    """
    given = os.environ.get(MULTIPROC_ENV)
    if given:
        for stale in Path(given).glob("*.db"):
            stale.unlink()
        yield
        return
    if workers == 1:
        yield
        return
    directory = tempfile.mkdtemp(prefix="ehealth-auth-metrics-")
    os.environ[MULTIPROC_ENV] = directory
    try:
        yield
    finally:
        os.environ.pop(MULTIPROC_ENV, None)
        shutil.rmtree(directory, ignore_errors=True)


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=4000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64))
@json_option
def serve(host: str, port: int, workers: int, as_json: bool) -> None:
    """Run the HTTP service; N worker processes share one database."""
    settings = load_settings()
    try:
        settings.ensure_servable()
        database = display_url(settings.database_url)
    except InsecureSettingsError as exc:
        raise CommandError(str(exc), "insecure_settings") from None
    except UnsupportedDatabaseError as exc:
        raise CommandError(str(exc), "configuration_invalid") from None
    configure_logging(settings.log_level)
    log_startup(settings, database=database, host=host, port=port, workers=workers)
    with _metrics_directory(workers):
        run_server(settings, host, port, workers, logging_config(settings.log_level))
    if as_json:  # without --json the log lines say it all
        emit({"stopped": True, "host": host, "port": port, "workers": workers}, as_json=True)
