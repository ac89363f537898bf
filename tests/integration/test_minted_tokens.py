"""Token rows as the SQL stores keep them: only an HMAC of the value, and the same row whether
the engine or the bare driver writes it.

The stores' behaviour through their ports is the contract suite's (tests/integration/contract),
run on the fakes, SQLite and PostgreSQL alike."""

from __future__ import annotations

import hashlib
import hmac
import uuid

import sqlalchemy as sa

from ehealth_auth.crypto import HmacSecretHasher
from ehealth_auth.protocol.model import TokenName
from ehealth_auth.protocol.tokens import mint
from ehealth_auth.storage.refresh_store import SqlRefreshStore
from ehealth_auth.storage.rows import token_row
from ehealth_auth.storage.tables import tokens
from ehealth_auth.wiring import Services
from tests.fakes import FakeClock
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


async def test_driver_and_engine_store_the_same_row_for_a_token(
    services: Services, world: World, clock: FakeClock
) -> None:
    by_driver, by_engine = (
        mint(
            HASHER,
            name=TokenName.ACCESS_TOKEN,
            now=clock.now(),
            ttl=3600,
            user_id=world.user_id,
            client_id=world.client_id,
            scope="employee:read",
            details={"client_id": str(world.client_id), "scope": "employee:read"},
            family_id=family_id,
            parent_id=family_id,
        ).record
        for family_id in (uuid.uuid4(), uuid.uuid4())
    )

    await SqlRefreshStore(services.driver).add_access_token(by_driver, revoke_earlier_access=False)
    async with services.engine.begin() as conn:
        await conn.execute(tokens.insert(), token_row(by_engine))

    columns = [tokens.c[name] for name in token_row(by_driver)]
    async with services.engine.connect() as conn:
        for token in (by_driver, by_engine):
            row = (await conn.execute(sa.select(*columns).where(tokens.c.id == token.id))).one()
            assert {**row._mapping, "value_hash": bytes(row.value_hash)} == token_row(token)


def test_the_stored_hash_is_hmac_sha256_of_the_value_under_the_server_key() -> None:
    """Rows stored by any release stay findable: the digest is plain HMAC-SHA-256, whatever
    the hasher keeps between calls."""
    for value in ("", "a", "token-value-" * 20, "ключ", "\udcff"):
        expected = hmac.new(
            TEST_SECRET_KEY.encode(), value.encode("utf-8", "surrogatepass"), hashlib.sha256
        ).digest()
        assert HASHER.digest(value) == expected
        assert HASHER.digest(value) == expected  # twice: no state carried from a call
