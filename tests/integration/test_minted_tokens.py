"""Tokens an operator mints, as the SQL stores keep them: only an HMAC of the value.

The stores' behaviour through their ports is the contract suite's (tests/integration/contract),
run on the fakes, SQLite and PostgreSQL alike."""

from __future__ import annotations

import sqlalchemy as sa

from ehealth_auth.crypto import HmacSecretHasher
from ehealth_auth.protocol.model import TokenName
from ehealth_auth.storage.tables import tokens
from ehealth_auth.wiring import Services
from tests.support import TEST_SECRET_KEY, World

HASHER = HmacSecretHasher(TEST_SECRET_KEY.encode())


async def test_minted_tokens_store_only_hashes(services: Services, world: World) -> None:
    issued = await services.admin.create_token(
        TokenName.ACCESS_TOKEN, world.user_id, world.client_id
    )
    async with services.engine.connect() as conn:
        row = (await conn.execute(sa.select(tokens).where(tokens.c.id == issued.id))).one()
    assert bytes(row.value_hash) == HASHER.digest(issued.value)
    assert row.name == "access_token"
    assert row.family_id == issued.id
