"""Maintenance commands: purging long-dead tokens."""

from __future__ import annotations

import asyncio

import click

from ehealth_auth.cli.output import emit
from ehealth_auth.cli.runner import json_option, load_settings
from ehealth_auth.protocol.purge import DEFAULT_BATCH_SIZE, PurgeReport
from ehealth_auth.wiring import build_services


@click.command("purge-expired")
@click.option(
    "--older-than-days",
    default=7,
    show_default=True,
    type=click.IntRange(min=0),
    help="Delete tokens expired or revoked more than this many days ago.",
)
@click.option(
    "--batch-size", default=DEFAULT_BATCH_SIZE, show_default=True, type=click.IntRange(min=1)
)
@json_option
def purge_expired(older_than_days: int, batch_size: int, as_json: bool) -> None:
    """Delete long-dead tokens in small batches, each its own short transaction."""

    async def _run() -> PurgeReport:
        services = build_services(load_settings())
        try:
            return await services.purger.purge(older_than_days, batch_size)
        finally:
            await services.engine.dispose()

    report = asyncio.run(_run())
    emit(
        {
            "deleted": report.deleted,
            "batches": report.batches,
            "erased_successors": report.erased_successors,
        },
        as_json,
    )
