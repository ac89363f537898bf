"""Purging long-dead tokens in batches, on both backends."""

from __future__ import annotations

import os
import uuid
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from ehealth_auth.cli.main import cli
from ehealth_auth.settings import Settings
from ehealth_auth.storage.tables import tokens
from ehealth_auth.wiring import Services
from tests.fakes import FakeClock
from tests.support import TEST_SECRET_KEY, World

DAY = 86_400


def token_rows(world: World, count: int, **values: Any) -> list[dict[str, Any]]:
    rows = []
    for _ in range(count):
        token_id = uuid.uuid4()
        row = {
            "id": token_id,
            "name": "access_token",
            "value_hash": os.urandom(32),
            "issued_at": 0,
            "expires_at": 0,
            "user_id": world.user_id,
            "client_id": world.client_id,
            "scope": "s",
            "details": {},
            "family_id": token_id,
        }
        row.update(values)
        rows.append(row)
    return rows


async def insert(services: Services, rows: list[dict[str, Any]]) -> None:
    async with services.engine.begin() as conn:
        await conn.execute(tokens.insert(), rows)


async def count(services: Services) -> int:
    async with services.engine.connect() as conn:
        total: int = await conn.scalar(sa.select(sa.func.count()).select_from(tokens)) or 0
        return total


async def test_purge_deletes_only_long_dead_tokens_in_batches(
    services: Services, world: World, clock: FakeClock
) -> None:
    now = clock.now()
    old = now - 10 * DAY
    await insert(services, token_rows(world, 1_050, expires_at=old))  # expired long ago
    await insert(services, token_rows(world, 20, expires_at=now + DAY, revoked_at=old))
    await insert(services, token_rows(world, 5, expires_at=now - DAY))  # expired yesterday
    await insert(services, token_rows(world, 7, expires_at=now + DAY, revoked_at=now - DAY))
    # Retired by rotation but alive: reuse detection needs it.
    await insert(
        services, token_rows(world, 3, name="refresh_token", expires_at=now + DAY, retired_at_ms=1)
    )
    before = await count(services)

    report = await services.purger.purge(older_than_days=7, batch_size=500)

    assert report.deleted == 1_070
    assert report.batches == 3
    assert await count(services) == before - 1_070
    again = await services.purger.purge(older_than_days=0, batch_size=500)
    assert again.deleted == 12  # yesterday's dead; the live and retired tokens stay
    assert await count(services) == 1 + 3  # the world's refresh token and the retired ones


async def test_purge_erases_successor_values_after_grace(
    services: Services, world: World, clock: FakeClock
) -> None:
    now_ms = clock.now_ms()
    await insert(
        services,
        token_rows(
            world,
            2,
            name="refresh_token",
            expires_at=clock.now() + DAY,
            retired_at_ms=now_ms - 60_000,
            successor_value_enc=b"sealed",
        ),
    )
    report = await services.purger.purge(older_than_days=7)
    assert report.erased_successors == 2
    async with services.engine.connect() as conn:
        kept = await conn.scalar(
            sa.select(sa.func.count()).where(tokens.c.successor_value_enc.is_not(None))
        )
    assert kept == 0


@pytest.fixture
async def three_dead_tokens(services: Services, world: World, clock: FakeClock) -> None:
    await insert(services, token_rows(world, 3, expires_at=clock.now() - 30 * DAY))


@pytest.mark.usefixtures("three_dead_tokens")
def test_purge_command_reports_counts(settings: Settings) -> None:
    env = {
        "EHEALTH_AUTH_DATABASE_URL": settings.database_url,
        "EHEALTH_AUTH_SECRET_KEY": TEST_SECRET_KEY,
    }
    result = CliRunner().invoke(
        cli, ["--json", "tokens", "purge-expired", "--older-than-days", "7"], env=env
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == '{"deleted":3,"batches":1,"erased_successors":0}'
    refused = CliRunner().invoke(
        cli, ["tokens", "purge-expired", "--older-than-days", "-1"], env=env
    )
    assert refused.exit_code == 2
