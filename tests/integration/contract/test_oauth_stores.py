"""The standard OAuth endpoints' stores: client secrets (RFC 6749 §2.3.1) and revocation."""

from __future__ import annotations

import os
import uuid

from tests.integration.contract.backends import NOW, Stores, TokenName


async def test_a_client_secret_is_one_of_that_clients_connections(stores: Stores) -> None:
    client = await stores.seed.client()
    other = await stores.seed.client(client.type_id, name="Other")
    second = await stores.seed.connection(client.id, "https://second.test/cb", NOW)
    secrets = stores.client_secrets

    assert await secrets.client_blocked(client.id, client.secret_hash) is False
    assert await secrets.client_blocked(client.id, second.secret_hash) is False
    assert await secrets.client_blocked(client.id, other.secret_hash) is None
    assert await secrets.client_blocked(client.id, os.urandom(32)) is None
    assert await secrets.client_blocked(uuid.uuid4(), client.secret_hash) is None
    await stores.admin.set_client_blocked(client.id, True, NOW)
    assert await secrets.client_blocked(client.id, client.secret_hash) is True


async def test_revocation_finds_any_token_and_revokes_it_once(stores: Stores) -> None:
    client = await stores.seed.client()
    user_id = await stores.seed.user()
    family = uuid.uuid4()
    token = await stores.seed.token(TokenName.REFRESH_TOKEN, user_id, client, family_id=family)

    found = await stores.revocation.token_by_hash(token.value_hash)

    assert found is not None
    assert (found.id, found.name, found.client_id, found.family_id) == (
        token.id,
        "refresh_token",
        client.id,
        family,
    )
    assert await stores.revocation.token_by_hash(os.urandom(32)) is None
    assert await stores.revocation.revoke_token(token.id, NOW + 5) is True
    assert await stores.revocation.revoke_token(token.id, NOW + 9) is False
    assert await stores.revocation.revoke_token(uuid.uuid4(), NOW + 9) is False
    assert (await stores.tokens())[token.id].revoked_at == NOW + 5
