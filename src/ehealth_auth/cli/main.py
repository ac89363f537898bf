"""`ehealth-auth`: migrate, serve, the demo seed, and the operator commands."""

from __future__ import annotations

import click
import uvicorn

from ehealth_auth.cli import demo, maintenance, operators
from ehealth_auth.cli.runner import load_settings
from ehealth_auth.settings import InsecureSettingsError
from ehealth_auth.storage import migrate as migrations
from ehealth_auth.storage.engine import UnsupportedDatabaseError


@click.group()
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def cli(as_json: bool) -> None:
    """Operate the ehealth-auth token service. Settings come from EHEALTH_AUTH_* variables."""


@cli.command()
def migrate() -> None:
    """Create or upgrade the database schema."""
    try:
        migrations.upgrade(load_settings().database_url)
    except UnsupportedDatabaseError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo("database schema is up to date", err=True)


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=4000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64))
def serve(host: str, port: int, workers: int) -> None:
    """Run the HTTP service; N worker processes share one database."""
    settings = load_settings()
    try:
        settings.ensure_servable()
    except InsecureSettingsError as exc:
        raise click.ClickException(str(exc)) from None
    uvicorn.run(
        "ehealth_auth.wiring:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        access_log=False,  # ours redacts tokens in paths; uvicorn's would not
        # X-Forwarded-For/-Proto count only from the configured proxies (none by default).
        forwarded_allow_ips=[str(network) for network in settings.trusted_proxies],
        log_level=settings.log_level.lower(),
        server_header=False,
    )


for _group in operators.GROUPS:
    cli.add_command(_group)
operators.tokens.add_command(maintenance.purge_expired)
cli.add_command(demo.demo)


def main() -> None:
    cli(prog_name="ehealth-auth")
