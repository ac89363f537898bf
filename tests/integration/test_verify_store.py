"""SqlVerifyStore on SQLite and PostgreSQL: one read gives every fact the verify checks need."""

from __future__ import annotations

import sqlalchemy as sa

from ehealth_auth.crypto import HmacSecretHasher
from ehealth_auth.protocol.model import TokenName
from ehealth_auth.protocol.tokens import mint
from ehealth_auth.storage.admin_store import SqlAdminStore
from ehealth_auth.storage.tables import approvals, clients, connections, users
from ehealth_auth.storage.verify_store import SqlVerifyStore
from ehealth_auth.wiring import Services
from tests.fakes import FakeClock
from tests.support import SCOPE, TEST_SECRET_KEY, World, seed_world

HASHER = HmacSecretHasher(TEST_SECRET_KEY.encode())


async def test_load_token_of_operator_minted_access_token(services: Services, world: World) -> None:
    issued = await services.admin.create_token(
        TokenName.ACCESS_TOKEN, world.user_id, world.client_id
    )

    context = await SqlVerifyStore(services.driver).load_token(HASHER.digest(issued.value))

    assert context is not None
    assert context.id == issued.id
    assert context.name == "access_token"
    assert context.expires_at == issued.expires_at
    assert context.user_id == world.user_id
    assert context.details == {"client_id": str(world.client_id), "scope": SCOPE}
    assert (context.revoked, context.client_blocked, context.user_blocked) == (False,) * 3
    assert context.approval_exists is True
    assert context.mis_client_id is None


async def test_load_token_unknown_hash_is_none(services: Services, world: World) -> None:
    assert await SqlVerifyStore(services.driver).load_token(HASHER.digest("nope")) is None


async def test_load_token_reads_refresh_tokens_too(services: Services, world: World) -> None:
    context = await SqlVerifyStore(services.driver).load_token(HASHER.digest(world.refresh_token))
    assert context is not None
    assert context.name == "refresh_token"


async def test_load_token_sees_blocks_revocation_and_missing_approval(
    services: Services, world: World
) -> None:
    store = SqlVerifyStore(services.driver)
    digest = HASHER.digest(world.refresh_token)
    async with services.engine.begin() as conn:
        await conn.execute(clients.update().values(is_blocked=True))
        await conn.execute(users.update().values(is_blocked=True))
        await conn.execute(approvals.delete())
    context = await store.load_token(digest)
    assert context is not None
    assert (context.client_blocked, context.user_blocked) == (True, True)
    assert context.approval_exists is False
    assert context.revoked is False
    await services.admin.deactivate_client_tokens(world.client_id)
    revoked = await store.load_token(digest)
    assert revoked is not None
    assert revoked.revoked is True


async def test_load_token_approval_is_the_users_for_the_tokens_client(
    services: Services, world: World
) -> None:
    other = await seed_world(services.admin, tag="b", client_type=world.client_type)
    # World's user is approved for world's client only; a token of world's user for the other
    # client (approval since removed) must not borrow the approval of another pair.
    await services.admin.approve(world.user_id, other.client_id, "employee:read")
    issued = await services.admin.create_token(
        TokenName.ACCESS_TOKEN, world.user_id, other.client_id
    )
    async with services.engine.begin() as conn:
        await conn.execute(
            approvals.delete().where(
                approvals.c.user_id == world.user_id, approvals.c.client_id == other.client_id
            )
        )
    context = await SqlVerifyStore(services.driver).load_token(HASHER.digest(issued.value))
    assert context is not None
    assert context.approval_exists is False


async def test_load_token_mis_client_is_the_connections_consumer(
    services: Services, world: World, clock: FakeClock
) -> None:
    mis = await seed_world(services.admin, tag="mis", client_type=world.client_type)
    async with services.engine.begin() as conn:
        await conn.execute(
            connections.update()
            .where(connections.c.client_id == world.client_id)
            .values(consumer_id=mis.client_id)
        )
        connection_id = await conn.scalar(
            sa.select(connections.c.id).where(connections.c.client_id == world.client_id)
        )
    minted = mint(
        HASHER,
        name=TokenName.ACCESS_TOKEN,
        now=clock.now(),
        ttl=60,
        user_id=world.user_id,
        client_id=world.client_id,
        scope=SCOPE,
        details={"client_id": str(world.client_id), "scope": SCOPE},
        connection_id=connection_id,
    )
    await SqlAdminStore(services.engine).add_token(minted.record)

    context = await SqlVerifyStore(services.driver).load_token(HASHER.digest(minted.issued.value))

    assert context is not None
    assert context.mis_client_id == mis.client_id


async def test_load_token_reads_outside_any_transaction(services: Services, world: World) -> None:
    # A write that waits on nothing proves the reads left no transaction or lock behind.
    store = SqlVerifyStore(services.driver)
    for _ in range(3):
        await store.load_token(HASHER.digest(world.refresh_token))
    async with services.engine.begin() as conn:
        await conn.execute(users.update().values(is_blocked=False))
