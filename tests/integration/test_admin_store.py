"""The admin store's lookups, listings and revocations on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid

import sqlalchemy as sa

from ehealth_auth.crypto import HmacSecretHasher
from ehealth_auth.protocol.model import TokenName
from ehealth_auth.protocol.paging import PageRequest
from ehealth_auth.protocol.records import ConnectionRecord
from ehealth_auth.storage.admin_store import SqlAdminStore
from ehealth_auth.storage.tables import connections, tokens
from ehealth_auth.wiring import Services
from tests.fakes import FakeClock
from tests.support import TEST_SECRET_KEY, World, seed_world

HASHER = HmacSecretHasher(TEST_SECRET_KEY.encode())


def store(services: Services) -> SqlAdminStore:
    return SqlAdminStore(services.engine)


async def test_pages_count_all_rows_and_slice_in_order(services: Services) -> None:
    for name in ("b", "c", "a", "d", "e"):
        await services.admin.create_client_type(name, "x")

    first = await store(services).client_types_page(PageRequest(1, 2))
    last = await store(services).client_types_page(PageRequest(3, 2))
    beyond = await store(services).client_types_page(PageRequest(9, 2))

    assert [kind.name for kind in first.entries] == ["a", "b"]
    assert [kind.name for kind in last.entries] == ["e"]
    assert beyond.entries == ()
    assert (first.total_entries, first.total_pages) == (5, 3)
    assert beyond.total_entries == 5


async def test_client_details_has_type_and_every_connection(
    services: Services, world: World, clock: FakeClock
) -> None:
    extra = ConnectionRecord(
        id=uuid.uuid4(),
        client_id=world.client_id,
        secret_hash=HASHER.digest("second secret"),
        redirect_uri="https://second.example.org/cb",
    )
    async with services.engine.begin() as conn:
        await conn.execute(
            connections.insert().values(
                id=extra.id,
                client_id=extra.client_id,
                secret_hash=extra.secret_hash,
                redirect_uri=extra.redirect_uri,
                inserted_at=clock.now() + 1,
                updated_at=clock.now() + 1,
            )
        )

    details = await store(services).client_details(world.client_id)

    assert details is not None
    assert details.client.id == world.client_id
    assert details.client_type.name == world.client_type
    assert [c.redirect_uri for c in details.connections] == [
        "https://mis.example.org/cb",
        "https://second.example.org/cb",
    ]
    assert await store(services).client_details(uuid.uuid4()) is None
    page = await store(services).clients_page(PageRequest())
    assert page.entries == (details,)


async def test_replace_connection_secret_only_for_that_clients_connection(
    services: Services, world: World
) -> None:
    other = await seed_world(services.admin, tag="b", client_type=world.client_type)
    mine = (await services.admin.get_client(world.client_id)).connections[0]
    theirs = (await services.admin.get_client(other.client_id)).connections[0]
    new_hash = HASHER.digest("new secret")

    assert (
        await store(services).replace_connection_secret(world.client_id, theirs.id, new_hash, 1)
        is None
    )
    replaced = await store(services).replace_connection_secret(
        world.client_id, mine.id, new_hash, 1
    )

    assert replaced == mine
    async with services.engine.connect() as conn:
        stored = await conn.scalar(
            sa.select(connections.c.secret_hash).where(connections.c.id == mine.id)
        )
    assert stored is not None
    assert bytes(stored) == new_hash


async def test_unblock_user(services: Services, world: World) -> None:
    await services.admin.block_user(world.user_id)
    assert await store(services).unblock_user(world.user_id, 1) is True
    assert (await services.admin.get_user(world.user_id)).is_blocked is False
    assert await store(services).unblock_user(uuid.uuid4(), 1) is False


async def test_users_page_in_email_order(services: Services, world: World) -> None:
    await services.admin.create_user("a@example.org", "password-1")
    page = await store(services).users_page(PageRequest(1, 10))
    assert [user.email for user in page.entries] == ["a@example.org", world.user_email]


async def test_approvals_page_filters(services: Services, world: World) -> None:
    other = await seed_world(services.admin, tag="b", client_type=world.client_type)
    every = await store(services).approvals_page(PageRequest(), None, None)
    mine = await store(services).approvals_page(PageRequest(), world.user_id, None)
    theirs = await store(services).approvals_page(PageRequest(), None, other.client_id)
    none = await store(services).approvals_page(PageRequest(), world.user_id, other.client_id)

    assert every.total_entries == 2
    assert [a.user_id for a in mine.entries] == [world.user_id]
    assert [a.client_id for a in theirs.entries] == [other.client_id]
    assert none.entries == ()
    assert none.total_entries == 0


async def test_delete_approval_by_id_revokes_that_pairs_tokens(
    services: Services, world: World, clock: FakeClock
) -> None:
    other = await seed_world(services.admin, tag="b", client_type=world.client_type)
    approval = (await store(services).approvals_page(PageRequest(), world.user_id, None)).entries[0]

    assert await store(services).delete_approval_by_id(approval.id, clock.now()) is True
    assert await store(services).delete_approval_by_id(approval.id, clock.now()) is False

    page = await store(services).tokens_page(PageRequest(), None, None)
    revoked = {token.id: token.revoked_at for token in page.entries}
    assert revoked == {world.refresh_token_id: clock.now(), other.refresh_token_id: None}


async def test_tokens_page_newest_first_with_filters(
    services: Services, world: World, clock: FakeClock
) -> None:
    other = await seed_world(services.admin, tag="b", client_type=world.client_type)
    clock.advance(10)
    newest = await services.admin.create_token(
        TokenName.ACCESS_TOKEN, world.user_id, world.client_id
    )

    every = await store(services).tokens_page(PageRequest(), None, None)
    mine = await store(services).tokens_page(PageRequest(), world.user_id, world.client_id)

    assert every.entries[0].id == newest.id
    assert every.total_entries == 3
    assert [t.id for t in mine.entries] == [newest.id, world.refresh_token_id]
    assert other.refresh_token_id not in [t.id for t in mine.entries]
    assert mine.entries[0].name == "access_token"
    assert mine.entries[0].issued_at == clock.now()


async def test_revoke_token_keeps_the_first_revocation_time(
    services: Services, world: World
) -> None:
    first = await store(services).revoke_token(world.refresh_token_id, 100)
    second = await store(services).revoke_token(world.refresh_token_id, 200)

    assert first is not None
    assert second is not None
    assert (first.revoked_at, second.revoked_at) == (100, 100)
    assert await store(services).revoke_token(uuid.uuid4(), 100) is None


async def test_revoke_user_tokens_of_one_client_or_all(
    services: Services, world: World, clock: FakeClock
) -> None:
    other = await seed_world(services.admin, tag="b", client_type=world.client_type)
    await services.admin.approve(world.user_id, other.client_id, "employee:read")
    await services.admin.create_token(TokenName.ACCESS_TOKEN, world.user_id, other.client_id)

    assert await store(services).revoke_user_tokens(world.user_id, other.client_id, 5) == 1
    assert await store(services).revoke_user_tokens(world.user_id, None, 6) == 1
    assert await store(services).revoke_user_tokens(world.user_id, None, 7) == 0

    async with services.engine.connect() as conn:
        live = await conn.scalar(
            sa.select(sa.func.count()).select_from(tokens).where(tokens.c.revoked_at.is_(None))
        )
    assert live == 1  # the other user's refresh token
