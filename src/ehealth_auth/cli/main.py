"""`ehealth-auth`: migrate, serve, the demo seed, and the operator commands."""

from __future__ import annotations

import click

from ehealth_auth import __version__
from ehealth_auth.cli import demo, maintenance, operators
from ehealth_auth.cli.output import emit
from ehealth_auth.cli.runner import CommandError, JsonCli, json_option, load_settings
from ehealth_auth.cli.serve import serve
from ehealth_auth.storage import migrate as migrations
from ehealth_auth.storage.engine import UnsupportedDatabaseError


@click.group(cls=JsonCli, invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--version", is_flag=True, help="Print the version and exit.")
@click.pass_context
def cli(ctx: click.Context, as_json: bool, version: bool) -> None:
    """Operate the ehealth-auth token service. Settings come from EHEALTH_AUTH_* variables."""
    if version:
        if as_json:
            emit({"name": "ehealth-auth", "version": __version__}, as_json=True)
        else:
            click.echo(f"ehealth-auth {__version__}")
        ctx.exit(0)
    if ctx.invoked_subcommand is None:
        click.echo(ctx.get_help())


@cli.command()
@json_option
def migrate(as_json: bool) -> None:
    """Create or upgrade the database schema."""
    try:
        done = migrations.upgrade(load_settings().database_url)
    except UnsupportedDatabaseError as exc:
        raise CommandError(str(exc), "configuration_invalid") from None
    if as_json:
        emit(
            {
                "from_revision": done.from_revision,
                "to_revision": done.to_revision,
                "changed": done.changed,
            },
            as_json=True,
        )
    elif done.from_revision is None:
        click.echo(f"database schema created at revision {done.to_revision}", err=True)
    elif done.changed:
        click.echo(
            f"database schema upgraded from {done.from_revision} to {done.to_revision}", err=True
        )
    else:
        click.echo(f"database schema already at revision {done.to_revision}", err=True)


cli.add_command(serve)
for _group in operators.GROUPS:
    cli.add_command(_group)
operators.tokens.add_command(maintenance.purge_expired)
cli.add_command(demo.demo)


def main() -> None:
    cli(prog_name="ehealth-auth")
