"""The login's and the app authorization's ports: client and user directories, approvals, the
token writer and the bearer lookup."""

from __future__ import annotations

import os
import uuid

import pytest

from tests.integration.contract.backends import INTEGRITY_ERRORS, NOW, Stores, TokenName


async def test_client_profile_has_the_type_ceiling_and_connections_oldest_first(
    stores: Stores,
) -> None:
    kind = await stores.seed.client_type("a b")
    client = await stores.seed.client(kind, name="Clinic", redirect_uri="https://first.test/cb")
    newer = await stores.seed.connection(client.id, "https://newer.test/cb", NOW + 10)
    # Inserted in the same second: the id decides.
    twins = sorted(
        [
            await stores.seed.connection(client.id, f"https://twin-{n}.test/cb", NOW + 5)
            for n in (1, 2)
        ],
        key=lambda row: row.id,
    )
    assert await stores.admin.set_client_blocked(client.id, True, NOW)

    profile = await stores.login.client_profile(client.id)

    assert profile is not None
    assert (profile.id, profile.name, profile.type_scope, profile.is_blocked) == (
        client.id,
        "Clinic",
        "a b",
        True,
    )
    assert profile.redirect_uris == (
        (client.connection_id, "https://first.test/cb"),
        *((twin.id, twin.redirect_uri) for twin in twins),
        (newer.id, "https://newer.test/cb"),
    )
    assert await stores.login.client_profile(uuid.uuid4()) is None


async def test_user_by_email_whatever_its_case(stores: Stores) -> None:
    user_id = await stores.seed.user("Ann.Lee@Example.org")
    await stores.seed.user("bob@example.org")
    assert await stores.admin.set_password_hash(user_id, "argon-hash", NOW)

    for email in ("Ann.Lee@Example.org", "ann.lee@example.org", "ANN.LEE@EXAMPLE.ORG"):
        found = await stores.login.user_by_email(email)
        assert found is not None
        assert (found.id, found.password_hash, found.is_blocked) == (user_id, "argon-hash", False)
    assert await stores.login.user_by_email("nobody@example.org") is None
    assert await stores.login.user_by_email("ann.lee@example.org ") is None  # no trimming

    await stores.admin.block_user(user_id, NOW)
    blocked = await stores.login.user_by_email("ann.lee@example.org")
    assert blocked is not None
    assert blocked.is_blocked is True


async def test_approved_scope_is_that_pairs(stores: Stores) -> None:
    client = await stores.seed.client()
    other = await stores.seed.client(client.type_id, name="Other")
    user_id = await stores.seed.user()
    await stores.seed.approve(user_id, client.id, "employee:read legal_entity:read")

    assert await stores.login.approved_scope(user_id, client.id) == (
        "employee:read legal_entity:read"
    )
    assert await stores.login.approved_scope(user_id, other.id) is None
    assert await stores.login.approved_scope(uuid.uuid4(), client.id) is None


async def test_a_written_token_is_a_bearer_with_its_flags(stores: Stores) -> None:
    client = await stores.seed.client()
    user_id = await stores.seed.user()
    token = stores.new_token(
        TokenName.ACCESS_TOKEN, user_id, client, scope="app:authorize", expires_at=NOW + 60
    )

    await stores.login.add_token(token)

    bearer = await stores.login.bearer(token.value_hash)
    assert bearer is not None
    assert type(bearer.name) is str  # the column's plain string, not the enum
    assert bearer.name == "access_token"
    assert (bearer.user_id, bearer.scope, bearer.expires_at) == (user_id, "app:authorize", NOW + 60)
    assert (bearer.revoked, bearer.user_blocked, bearer.client_blocked) == (False,) * 3
    assert await stores.login.bearer(os.urandom(32)) is None

    await stores.admin.set_client_blocked(client.id, True, NOW)
    await stores.admin.block_user(user_id, NOW)
    blocked = await stores.login.bearer(token.value_hash)
    assert blocked is not None
    assert (blocked.revoked, blocked.user_blocked, blocked.client_blocked) == (True,) * 3


async def test_a_token_whose_hash_is_taken_is_refused(stores: Stores) -> None:
    client = await stores.seed.client()
    user_id = await stores.seed.user()
    token = await stores.seed.token(TokenName.ACCESS_TOKEN, user_id, client)
    clash = stores.new_token(TokenName.ACCESS_TOKEN, user_id, client, value_hash=token.value_hash)

    with pytest.raises(INTEGRITY_ERRORS):
        await stores.login.add_token(clash)

    assert set(await stores.tokens()) == {token.id}


async def test_revoke_access_token_revokes_a_live_access_token_once(stores: Stores) -> None:
    client = await stores.seed.client()
    user_id = await stores.seed.user()
    access = await stores.seed.token(TokenName.ACCESS_TOKEN, user_id, client)
    refresh = await stores.seed.token(TokenName.REFRESH_TOKEN, user_id, client)

    assert await stores.login.revoke_access_token(access.value_hash, NOW + 5) is True
    assert await stores.login.revoke_access_token(access.value_hash, NOW + 9) is False
    assert await stores.login.revoke_access_token(refresh.value_hash, NOW + 9) is False
    assert await stores.login.revoke_access_token(os.urandom(32), NOW + 9) is False

    tokens = await stores.tokens()
    assert (tokens[access.id].revoked_at, tokens[refresh.id].revoked_at) == (NOW + 5, None)
