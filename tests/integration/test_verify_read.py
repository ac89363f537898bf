"""SqlVerifyStore on SQLite and PostgreSQL: what its read leaves behind.

What the read returns is the contract suite's (tests/integration/contract/test_verify_store.py)."""

from __future__ import annotations

from ehealth_auth.crypto import HmacSecretHasher
from ehealth_auth.storage.tables import users
from ehealth_auth.storage.verify_store import SqlVerifyStore
from ehealth_auth.wiring import Services
from tests.support import TEST_SECRET_KEY, World

HASHER = HmacSecretHasher(TEST_SECRET_KEY.encode())


async def test_load_token_reads_outside_any_transaction(services: Services, world: World) -> None:
    # A write that waits on nothing proves the reads left no transaction or lock behind.
    store = SqlVerifyStore(services.driver)
    for _ in range(3):
        await store.load_token(HASHER.digest(world.refresh_token))
    async with services.engine.begin() as conn:
        await conn.execute(users.update().values(is_blocked=False))
