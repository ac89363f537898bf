"""Refresh's issuing reads in batches, on a real PostgreSQL: while every slot is busy the reads
wait, and go together in one statement when one comes back; each gets its own answer."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Mapping
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from ehealth_auth.protocol.model import TokenDraft
from ehealth_auth.storage.driver import AsyncpgDriver, Compiled, Row
from ehealth_auth.storage.outage import OutageMonitor
from ehealth_auth.storage.refresh_store import SqlRefreshStore
from tests.integration.contract.backends import NOW, Stores, TokenName, sql_stores


class CountingDriver(AsyncpgDriver):
    """The service's driver, counting the items of each batched statement."""

    def __init__(self, url: str) -> None:
        super().__init__(make_url(url), 4, OutageMonitor())
        self.batches: list[int] = []

    async def fetch(self, statement: Compiled, params: Mapping[str, Any]) -> list[Row]:
        self.batches.append(len(params["ord"]))
        return await super().fetch(statement, params)


@pytest.fixture
async def stores(module_pg_url: str) -> AsyncIterator[Stores]:
    async with sql_stores("postgresql", module_pg_url) as stores:
        yield stores


@pytest.fixture
async def driver(module_pg_url: str) -> AsyncIterator[CountingDriver]:
    driver = CountingDriver(module_pg_url)
    yield driver
    await driver.close()


def _draft(issued_at: int) -> TokenDraft:
    return TokenDraft(uuid.uuid4(), os.urandom(32), issued_at, issued_at + 900, "refresh_token")


async def test_reads_that_wait_for_the_slot_go_together_and_each_gets_its_answer(
    stores: Stores, driver: CountingDriver
) -> None:
    kind = await stores.seed.client_type()
    client = await stores.seed.client(kind)
    user_id = await stores.seed.user()
    await stores.seed.approve(user_id, client.id, "employee:read")
    refresh = await stores.seed.token(TokenName.REFRESH_TOKEN, user_id, client)
    batched = SqlRefreshStore(driver, batch_slots=1)
    # The second read's token is expired at its own time, the fourth's secret is no one's.
    cases = [
        (client.secret_hash, NOW + 10),
        (client.secret_hash, refresh.expires_at),
        (client.secret_hash, NOW + 20),
        (os.urandom(32), NOW + 10),
        (client.secret_hash, NOW + 30),
    ]
    drafts = [_draft(now) for _, now in cases]

    answers = await asyncio.gather(
        *(
            batched.load_refresh_context_issuing(client.id, secret, refresh.value_hash, draft)
            for (secret, _), draft in zip(cases, drafts, strict=True)
        )
    )

    # The first went alone; the four that came while it was in flight went in one statement.
    assert driver.batches == [1, 4]
    assert [stored for _, stored in answers] == [True, False, True, False, True]
    alone = [
        await stores.refresh.load_refresh_context(client.id, secret, refresh.value_hash)
        for secret, _ in cases
    ]
    assert [context for context, _ in answers] == alone
    assert alone[3] is None
    tokens = await stores.tokens()
    assert set(tokens) == {refresh.id, drafts[0].id, drafts[2].id, drafts[4].id}
    assert [tokens[drafts[i].id].issued_at for i in (0, 2, 4)] == [NOW + 10, NOW + 20, NOW + 30]
