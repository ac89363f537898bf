"""The SQL stores against real databases (SQLite and PostgreSQL), through their ports."""

from __future__ import annotations

import dataclasses
import uuid

import pytest
import sqlalchemy as sa

from ehealth_auth.crypto import HmacSecretHasher
from ehealth_auth.protocol.errors import ConflictError, NotFoundError, ValidationError
from ehealth_auth.protocol.model import LostRace, NewToken, Rotated, StoredRefreshToken, TokenName
from ehealth_auth.protocol.tokens import mint
from ehealth_auth.storage.refresh_store import SqlRefreshStore
from ehealth_auth.storage.rows import token_row
from ehealth_auth.storage.tables import tokens, users
from ehealth_auth.wiring import Services
from tests.support import TEST_SECRET_KEY, MutableClock, World, seed_world

HASHER = HmacSecretHasher(TEST_SECRET_KEY.encode())


async def test_refresh_context_for_live_token(services: Services, world: World) -> None:
    store = SqlRefreshStore(services.driver)
    context = await store.load_refresh_context(
        world.client_id, HASHER.digest(world.client_secret), HASHER.digest(world.refresh_token)
    )
    assert context is not None
    assert context.client_blocked is False
    assert context.user_blocked is False
    assert context.token is not None
    assert context.token.id == world.refresh_token_id
    assert context.token.client_id == world.client_id
    assert context.token.user_id == world.user_id
    assert context.token.family_id == world.refresh_token_id
    assert context.token.revoked is False
    assert context.approval_scope is not None


async def test_refresh_context_without_matching_secret_is_none(
    services: Services, world: World
) -> None:
    store = SqlRefreshStore(services.driver)
    assert (
        await store.load_refresh_context(
            world.client_id, HASHER.digest("wrong"), HASHER.digest(world.refresh_token)
        )
        is None
    )
    assert (
        await store.load_refresh_context(
            uuid.uuid4(), HASHER.digest(world.client_secret), HASHER.digest(world.refresh_token)
        )
        is None
    )


async def test_refresh_context_unknown_token_keeps_client_row(
    services: Services, world: World
) -> None:
    store = SqlRefreshStore(services.driver)
    context = await store.load_refresh_context(
        world.client_id, HASHER.digest(world.client_secret), HASHER.digest("nope")
    )
    assert context is not None
    assert context.token is None
    assert context.approval_scope is None


async def test_refresh_context_approval_is_for_the_calling_client(
    services: Services, world: World
) -> None:
    other = await seed_world(services.admin, tag="b", client_type=world.client_type)
    store = SqlRefreshStore(services.driver)
    # World's client presents the other client's token: the user of that token has no
    # approval for world's client.
    context = await store.load_refresh_context(
        world.client_id, HASHER.digest(world.client_secret), HASHER.digest(other.refresh_token)
    )
    assert context is not None
    assert context.token is not None
    assert context.token.client_id == other.client_id
    assert context.approval_scope is None


async def _presented(store: SqlRefreshStore, world: World) -> StoredRefreshToken:
    context = await store.load_refresh_context(
        world.client_id, HASHER.digest(world.client_secret), HASHER.digest(world.refresh_token)
    )
    assert context is not None
    assert context.token is not None
    return context.token


def _successor_and_access(token: StoredRefreshToken, now: int) -> tuple[NewToken, NewToken]:
    minted = [
        mint(
            HASHER,
            name=name,
            now=now,
            ttl=3600,
            user_id=token.user_id,
            client_id=token.client_id,
            scope="employee:read",
            details={"client_id": str(token.client_id), "scope": "employee:read"},
            family_id=token.family_id,
            parent_id=token.id,
        ).record
        for name in (TokenName.REFRESH_TOKEN, TokenName.ACCESS_TOKEN)
    ]
    return minted[0], minted[1]


async def _token_ids(services: Services) -> set[uuid.UUID]:
    async with services.engine.connect() as conn:
        return set((await conn.scalars(sa.select(tokens.c.id))).all())


async def test_rotation_that_loses_its_race_reads_the_token_as_the_winner_left_it(
    services: Services, world: World, clock: MutableClock
) -> None:
    store = SqlRefreshStore(services.driver)
    presented = await _presented(store, world)
    winner = _successor_and_access(presented, clock.now())
    loser = _successor_and_access(presented, clock.now())

    won = await store.rotate(
        presented.id, 1_000, winner[0], b"sealed", winner[1], revoke_earlier_access=False
    )
    before = await _token_ids(services)
    lost = await store.rotate(
        presented.id, 2_000, loser[0], None, loser[1], revoke_earlier_access=False
    )

    assert won == Rotated()
    assert lost == LostRace(
        dataclasses.replace(
            presented, retired_at_ms=1_000, successor_id=winner[0].id, successor_value_enc=b"sealed"
        )
    )
    assert isinstance(lost.token.successor_id, uuid.UUID)
    assert await _token_ids(services) == before  # the loser wrote nothing


async def test_rotation_of_a_token_revoked_since_it_was_presented_is_a_lost_race(
    services: Services, world: World, clock: MutableClock
) -> None:
    store = SqlRefreshStore(services.driver)
    presented = await _presented(store, world)
    await store.revoke_family(presented.family_id, clock.now())
    successor, access = _successor_and_access(presented, clock.now())

    lost = await store.rotate(
        presented.id, 1_000, successor, None, access, revoke_earlier_access=False
    )

    assert lost == LostRace(dataclasses.replace(presented, revoked=True, revoked_for_reuse=True))


async def test_rotation_of_a_token_deleted_since_it_was_presented_answers_it_revoked(
    services: Services, world: World, clock: MutableClock
) -> None:
    store = SqlRefreshStore(services.driver)
    presented = await _presented(store, world)
    async with services.engine.begin() as conn:
        await conn.execute(tokens.delete().where(tokens.c.id == presented.id))
    successor, access = _successor_and_access(presented, clock.now())

    lost = await store.rotate(
        presented.id, 1_000, successor, None, access, revoke_earlier_access=False
    )

    assert isinstance(lost, LostRace)
    assert (lost.token.id, lost.token.family_id, lost.token.revoked) == (
        presented.id,
        presented.family_id,
        True,
    )
    assert lost.token.retired_at_ms is None


async def test_driver_and_engine_store_the_same_row_for_a_token(
    services: Services, world: World, clock: MutableClock
) -> None:
    store = SqlRefreshStore(services.driver)
    presented = await _presented(store, world)
    _, by_driver = _successor_and_access(presented, clock.now())
    _, by_engine = _successor_and_access(presented, clock.now())

    await store.add_access_token(by_driver, revoke_earlier_access=False)
    async with services.engine.begin() as conn:
        await conn.execute(tokens.insert(), token_row(by_engine))

    columns = [tokens.c[name] for name in token_row(by_driver)]
    async with services.engine.connect() as conn:
        for token in (by_driver, by_engine):
            row = (await conn.execute(sa.select(*columns).where(tokens.c.id == token.id))).one()
            assert {**row._mapping, "value_hash": bytes(row.value_hash)} == token_row(token)


async def test_revocations_mark_only_the_targeted_tokens(
    services: Services, world: World, clock: MutableClock
) -> None:
    other = await seed_world(services.admin, tag="b", client_type=world.client_type)
    admin = services.admin

    async def revoked() -> set[uuid.UUID]:
        async with services.engine.connect() as conn:
            rows = await conn.execute(
                sa.select(tokens.c.id).where(tokens.c.revoked_at.is_not(None))
            )
            return {row.id for row in rows}

    assert await admin.deactivate_client_tokens(world.client_id) == 1
    assert await revoked() == {world.refresh_token_id}
    await admin.delete_approval(other.user_id, other.client_id)
    assert await revoked() == {world.refresh_token_id, other.refresh_token_id}
    # Already revoked tokens keep their first revocation time.
    clock.advance(100)
    assert await admin.deactivate_client_tokens(world.client_id) == 0


async def test_block_user_blocks_and_revokes_atomically(services: Services, world: World) -> None:
    await services.admin.block_user(world.user_id)
    async with services.engine.connect() as conn:
        assert await conn.scalar(sa.select(users.c.is_blocked)) is True
        live = await conn.scalar(
            sa.select(sa.func.count()).select_from(tokens).where(tokens.c.revoked_at.is_(None))
        )
    assert live == 0
    with pytest.raises(NotFoundError):
        await services.admin.block_user(uuid.uuid4())


async def test_email_is_unique_whatever_its_case(services: Services, world: World) -> None:
    with pytest.raises(ConflictError):
        await services.admin.create_user(world.user_email.upper(), "another-password")


async def test_client_type_names_are_unique(services: Services, world: World) -> None:
    with pytest.raises(ConflictError):
        await services.admin.create_client_type(world.client_type, "x")


async def test_approval_widening_keeps_one_row(services: Services, world: World) -> None:
    first = await services.admin.approve(world.user_id, world.client_id, "employee:read")
    assert first.scope.split()[0] == "employee:read"
    with pytest.raises(ValidationError):
        await services.admin.approve(world.user_id, world.client_id, "not:allowed")


async def test_minted_tokens_store_only_hashes(services: Services, world: World) -> None:
    issued = await services.admin.create_token(
        TokenName.ACCESS_TOKEN, world.user_id, world.client_id
    )
    async with services.engine.connect() as conn:
        row = (await conn.execute(sa.select(tokens).where(tokens.c.id == issued.id))).one()
    assert bytes(row.value_hash) == HASHER.digest(issued.value)
    assert row.name == "access_token"
    assert row.family_id == issued.id
