"""The gateway verify call's store: one read gives every fact the verify checks need."""

from __future__ import annotations

import os

from tests.integration.contract.backends import NOW, Stores, TokenName


async def test_a_token_is_read_with_its_client_user_approval_and_type(stores: Stores) -> None:
    kind = await stores.seed.client_type("employee:read legal_entity:read")
    client = await stores.seed.client(kind)
    user_id = await stores.seed.user()
    await stores.seed.approve(user_id, client.id, "employee:read")
    token = await stores.seed.token(
        TokenName.ACCESS_TOKEN,
        user_id,
        client,
        issued_at=NOW - 5,
        expires_at=NOW + 60,
        scope="employee:read",
        details={"client_id": str(client.id), "scope": "employee:read"},
    )

    context = await stores.verify.load_token(token.value_hash)

    assert context is not None
    assert (context.id, context.name, context.user_id) == (token.id, "access_token", user_id)
    assert (context.issued_at, context.expires_at, context.scope) == (
        NOW - 5,
        NOW + 60,
        "employee:read",
    )
    assert context.details == {"client_id": str(client.id), "scope": "employee:read"}
    assert (context.revoked, context.client_blocked, context.user_blocked) == (False,) * 3
    assert (context.approval_exists, context.approval_scope) == (True, "employee:read")
    assert context.type_scope == "employee:read legal_entity:read"
    assert context.mis_client_id is None
    assert await stores.verify.load_token(os.urandom(32)) is None


async def test_every_kind_of_token_is_read(stores: Stores) -> None:
    client = await stores.seed.client()
    user_id = await stores.seed.user()
    for name in TokenName:
        token = await stores.seed.token(name, user_id, client)
        context = await stores.verify.load_token(token.value_hash)
        assert context is not None
        assert context.name == name.value


async def test_blocks_revocation_and_a_missing_approval_are_seen(stores: Stores) -> None:
    client = await stores.seed.client()
    user_id = await stores.seed.user()
    token = await stores.seed.token(TokenName.REFRESH_TOKEN, user_id, client)

    unapproved = await stores.verify.load_token(token.value_hash)
    assert unapproved is not None
    assert (unapproved.approval_exists, unapproved.approval_scope) == (False, None)

    await stores.seed.approve(user_id, client.id)
    assert await stores.admin.set_client_blocked(client.id, True, NOW)
    assert await stores.admin.block_user(user_id, NOW)
    context = await stores.verify.load_token(token.value_hash)
    assert context is not None
    assert (context.client_blocked, context.user_blocked, context.revoked) == (True,) * 3
    assert context.approval_exists is True


async def test_the_approval_is_the_users_for_the_tokens_client(stores: Stores) -> None:
    client = await stores.seed.client()
    other = await stores.seed.client(client.type_id, name="Other")
    user_id = await stores.seed.user()
    await stores.seed.approve(user_id, client.id)
    token = await stores.seed.token(TokenName.ACCESS_TOKEN, user_id, other)

    context = await stores.verify.load_token(token.value_hash)

    assert context is not None
    assert (context.approval_exists, context.approval_scope) == (False, None)


async def test_the_mis_client_is_the_consumer_of_the_tokens_connection(stores: Stores) -> None:
    client = await stores.seed.client()
    mis = await stores.seed.client(client.type_id, name="MIS")
    user_id = await stores.seed.user()
    assert await stores.admin.set_connection_consumer(client.id, client.connection_id, mis.id, NOW)
    issued = await stores.seed.token(TokenName.ACCESS_TOKEN, user_id, client)
    minted = await stores.seed.token(TokenName.ACCESS_TOKEN, user_id, client, connection=False)

    through_connection = await stores.verify.load_token(issued.value_hash)
    by_operator = await stores.verify.load_token(minted.value_hash)

    assert through_connection is not None
    assert through_connection.mis_client_id == mis.id
    assert by_operator is not None
    assert by_operator.mis_client_id is None
