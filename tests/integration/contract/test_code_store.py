"""The code exchange's store: its one read, consuming a code once, revoking its family."""

from __future__ import annotations

import asyncio
import os
import uuid
from dataclasses import dataclass

import pytest

from tests.integration.contract.backends import (
    INTEGRITY_ERRORS,
    NOW,
    Client,
    NewToken,
    Stores,
    TokenName,
)

CODE = TokenName.AUTHORIZATION_CODE


@dataclass(frozen=True)
class World:
    client: Client
    other: Client
    user_id: uuid.UUID
    code: NewToken


@pytest.fixture
async def world(stores: Stores) -> World:
    kind = await stores.seed.client_type()
    client = await stores.seed.client(kind, name="Clinic A")
    other = await stores.seed.client(kind, name="Clinic B")
    user_id = await stores.seed.user()
    await stores.seed.approve(user_id, client.id, "employee:read")
    code = await stores.seed.token(
        CODE,
        user_id,
        client,
        expires_at=NOW + 60,
        scope="employee:read legal_entity:read",
        redirect_uri="https://mis.test/cb?x=1",
        code_challenge="challenge",
    )
    return World(client, other, user_id, code)


def _tokens_for(stores: Stores, world: World) -> tuple[NewToken, NewToken]:
    family = world.code.family_id
    return (
        stores.new_token(TokenName.REFRESH_TOKEN, world.user_id, world.client, family_id=family),
        stores.new_token(TokenName.ACCESS_TOKEN, world.user_id, world.client, family_id=family),
    )


async def test_context_of_a_code_has_every_column(stores: Stores, world: World) -> None:
    context = await stores.codes.load_code_context(
        world.client.id, world.client.secret_hash, world.code.value_hash
    )

    assert context is not None
    assert (context.connection_id, context.client_blocked) == (world.client.connection_id, False)
    assert (context.user_blocked, context.approval_scope) == (False, "employee:read")
    code = context.code
    assert code is not None
    assert (code.id, code.client_id, code.user_id, code.connection_id, code.family_id) == (
        world.code.id,
        world.client.id,
        world.user_id,
        world.client.connection_id,
        world.code.id,
    )
    assert (code.scope, code.expires_at) == ("employee:read legal_entity:read", NOW + 60)
    assert (code.revoked, code.consumed) == (False, False)
    assert (code.redirect_uri, code.code_challenge) == ("https://mis.test/cb?x=1", "challenge")


async def test_a_wrong_secret_gives_no_context_and_a_missing_code_none(
    stores: Stores, world: World
) -> None:
    refresh = await stores.seed.token(TokenName.REFRESH_TOKEN, world.user_id, world.client)
    load = stores.codes.load_code_context

    assert await load(world.client.id, world.other.secret_hash, world.code.value_hash) is None
    assert await load(uuid.uuid4(), world.client.secret_hash, world.code.value_hash) is None
    for code_hash in (os.urandom(32), refresh.value_hash):  # only codes are read
        context = await load(world.client.id, world.client.secret_hash, code_hash)
        assert context is not None
        assert (context.code, context.user_blocked, context.approval_scope) == (None, False, None)


async def test_the_approval_is_the_code_users_for_the_calling_client(
    stores: Stores, world: World
) -> None:
    await stores.admin.block_user(world.user_id, NOW)

    context = await stores.codes.load_code_context(
        world.other.id, world.other.secret_hash, world.code.value_hash
    )

    assert context is not None
    assert context.code is not None
    assert (context.code.client_id, context.code.revoked) == (world.client.id, True)
    assert (context.user_blocked, context.approval_scope) == (True, None)


async def test_a_code_is_consumed_once(stores: Stores, world: World) -> None:
    refresh, access = _tokens_for(stores, world)
    late_refresh, late_access = _tokens_for(stores, world)

    assert await stores.codes.consume_code(world.code.id, 5_000, refresh, access) is True
    assert await stores.codes.consume_code(world.code.id, 6_000, late_refresh, late_access) is False

    assert set(await stores.tokens()) == {world.code.id, refresh.id, access.id}
    context = await stores.codes.load_code_context(
        world.client.id, world.client.secret_hash, world.code.value_hash
    )
    assert context is not None
    assert context.code is not None
    assert (context.code.consumed, context.code.revoked) == (True, False)
    issued = await stores.refresh_token(world.client, refresh)
    assert (issued.family_id, issued.revoked) == (world.code.id, False)


async def test_of_simultaneous_exchanges_of_one_code_exactly_one_consumes_it(
    stores: Stores, world: World
) -> None:
    attempts = [_tokens_for(stores, world) for _ in range(5)]

    results = await asyncio.gather(
        *(
            stores.codes.consume_code(world.code.id, 5_000 + n, refresh, access)
            for n, (refresh, access) in enumerate(attempts)
        )
    )

    assert sorted(results) == [False] * 4 + [True]
    refresh, access = attempts[results.index(True)]
    assert set(await stores.tokens()) == {world.code.id, refresh.id, access.id}


async def test_a_revoked_or_missing_code_is_not_consumed(stores: Stores, world: World) -> None:
    await stores.admin.revoke_token(world.code.id, NOW)

    for code_id in (world.code.id, uuid.uuid4()):
        assert await stores.codes.consume_code(code_id, 5_000, *_tokens_for(stores, world)) is False

    assert set(await stores.tokens()) == {world.code.id}


async def test_a_code_whose_tokens_cannot_be_stored_stays_unused(
    stores: Stores, world: World
) -> None:
    refresh, access = _tokens_for(stores, world)
    clash = stores.new_token(
        TokenName.ACCESS_TOKEN,
        world.user_id,
        world.client,
        family_id=world.code.id,
        value_hash=refresh.value_hash,
    )

    with pytest.raises(INTEGRITY_ERRORS):
        await stores.codes.consume_code(world.code.id, 5_000, refresh, clash)

    assert set(await stores.tokens()) == {world.code.id}
    assert await stores.codes.consume_code(world.code.id, 6_000, refresh, access) is True


async def test_revoke_family_revokes_the_code_and_its_tokens_for_reuse(
    stores: Stores, world: World
) -> None:
    refresh, access = _tokens_for(stores, world)
    assert await stores.codes.consume_code(world.code.id, 5_000, refresh, access) is True
    stranger = await stores.seed.token(TokenName.ACCESS_TOKEN, world.user_id, world.client)

    assert await stores.codes.revoke_family(world.code.id, NOW + 60) == 3
    assert await stores.codes.revoke_family(world.code.id, NOW + 90) == 0

    revoked = {token_id: token.revoked_at for token_id, token in (await stores.tokens()).items()}
    assert revoked == {
        world.code.id: NOW + 60,
        refresh.id: NOW + 60,
        access.id: NOW + 60,
        stranger.id: None,
    }
    assert (await stores.refresh_token(world.client, refresh)).revoked_for_reuse is True
