"""The operators' store: its commands, lookups and paged listings."""

from __future__ import annotations

import dataclasses
import os
import uuid

import pytest

from ehealth_auth.protocol.errors import UNKNOWN_TOKEN_OWNER, NotFoundError
from tests.integration.contract.backends import (
    INTEGRITY_ERRORS,
    NOW,
    ConflictError,
    PageRequest,
    Stores,
    TokenName,
)


async def test_client_type_names_are_unique_as_written(stores: Stores) -> None:
    kind = await stores.seed.client_type("a b", name="MIS")

    with pytest.raises(ConflictError):
        await stores.seed.client_type("c", name="MIS")
    other = await stores.seed.client_type("c", name="mis")  # another name

    found = await stores.queries.client_type_by_name("MIS")
    assert found is not None
    assert (found.id, found.scope) == (kind, "a b")
    lower = await stores.queries.client_type_by_name("mis")
    assert lower is not None
    assert lower.id == other
    assert await stores.queries.client_type_by_name("nope") is None


async def test_a_client_is_added_with_its_connection(stores: Stores) -> None:
    assert await stores.queries.client_count() == 0
    client = await stores.seed.client(name="Clinic")

    record = await stores.queries.client(client.id)
    assert record is not None
    assert (record.name, record.client_type_id, record.is_blocked) == (
        "Clinic",
        client.type_id,
        False,
    )
    assert await stores.queries.client(uuid.uuid4()) is None
    assert await stores.queries.client_count() == 1
    assert await stores.client_secrets.client_blocked(client.id, client.secret_hash) is False


async def test_a_client_of_an_unknown_type_or_a_taken_secret_is_refused(stores: Stores) -> None:
    client = await stores.seed.client()

    with pytest.raises(INTEGRITY_ERRORS):
        await stores.seed.client(uuid.uuid4())
    with pytest.raises(INTEGRITY_ERRORS):
        await stores.seed.client(client.type_id, secret_hash=client.secret_hash)

    assert await stores.queries.client_count() == 1


async def test_blocking_a_client_and_revoking_its_tokens(stores: Stores) -> None:
    client = await stores.seed.client()
    other = await stores.seed.client(client.type_id, name="Other")
    user_id = await stores.seed.user()
    first = await stores.seed.token(TokenName.REFRESH_TOKEN, user_id, client)
    second = await stores.seed.token(TokenName.ACCESS_TOKEN, user_id, client)
    theirs = await stores.seed.token(TokenName.REFRESH_TOKEN, user_id, other)

    assert await stores.admin.set_client_blocked(client.id, True, NOW) is True
    assert await stores.admin.set_client_blocked(uuid.uuid4(), True, NOW) is False
    assert await stores.admin.revoke_client_tokens(client.id, NOW) == 2
    assert await stores.admin.revoke_client_tokens(client.id, NOW + 100) == 0

    record = await stores.queries.client(client.id)
    assert record is not None
    assert record.is_blocked is True
    revoked = {token_id: token.revoked_at for token_id, token in (await stores.tokens()).items()}
    assert revoked == {first.id: NOW, second.id: NOW, theirs.id: None}
    assert await stores.admin.set_client_blocked(client.id, False, NOW) is True
    unblocked = await stores.queries.client(client.id)
    assert unblocked is not None
    assert unblocked.is_blocked is False


async def test_emails_are_unique_whatever_their_case(stores: Stores) -> None:
    await stores.seed.user("Ann@Example.org")

    with pytest.raises(ConflictError):
        await stores.seed.user("ann@example.ORG")

    assert (await stores.queries.users_page(PageRequest())).total_entries == 1


async def test_a_users_password_hash_and_blocks(stores: Stores) -> None:
    user_id = await stores.seed.user("ann@example.org")
    client = await stores.seed.client()
    stranger = await stores.seed.user()
    mine = await stores.seed.token(TokenName.REFRESH_TOKEN, user_id, client)
    earlier = await stores.seed.token(TokenName.ACCESS_TOKEN, user_id, client)
    await stores.admin.revoke_token(earlier.id, NOW - 10)
    theirs = await stores.seed.token(TokenName.REFRESH_TOKEN, stranger, client)

    assert await stores.admin.set_password_hash(user_id, "new-hash", NOW) is True
    assert await stores.admin.set_password_hash(uuid.uuid4(), "new-hash", NOW) is False
    assert await stores.admin.block_user(user_id, NOW) is True
    assert await stores.admin.block_user(uuid.uuid4(), NOW) is False

    user = await stores.queries.user(user_id)
    assert user is not None
    assert (user.password_hash, user.is_blocked) == ("new-hash", True)
    revoked = {token_id: token.revoked_at for token_id, token in (await stores.tokens()).items()}
    assert revoked == {mine.id: NOW, earlier.id: NOW - 10, theirs.id: None}
    assert await stores.admin.unblock_user(user_id, NOW) is True
    assert await stores.admin.unblock_user(uuid.uuid4(), NOW) is False
    unblocked = await stores.queries.user(user_id)
    assert unblocked is not None
    assert unblocked.is_blocked is False
    assert (await stores.tokens())[mine.id].revoked_at == NOW  # unblocking revives nothing


async def test_pages_count_every_row_and_slice_in_order(stores: Stores) -> None:
    for name in ("b", "c", "a", "d", "e"):
        await stores.seed.client_type("x", name=name)

    first = await stores.queries.client_types_page(PageRequest(1, 2))
    last = await stores.queries.client_types_page(PageRequest(3, 2))
    beyond = await stores.queries.client_types_page(PageRequest(9, 2))

    assert [kind.name for kind in first.entries] == ["a", "b"]
    assert [kind.name for kind in last.entries] == ["e"]
    assert beyond.entries == ()
    assert (first.total_entries, first.total_pages) == (5, 3)
    assert beyond.total_entries == 5


async def test_client_details_have_the_type_and_every_connection(stores: Stores) -> None:
    kind = await stores.seed.client_type("a b", name="Kind")
    client = await stores.seed.client(kind, name="B clinic", redirect_uri="https://one.test/cb")
    second = await stores.seed.connection(client.id, "https://two.test/cb", NOW + 1)
    other = await stores.seed.client(kind, name="A clinic")

    details = await stores.queries.client_details(client.id)

    assert details is not None
    assert (details.client.id, details.client.name) == (client.id, "B clinic")
    assert (details.client_type.id, details.client_type.name) == (kind, "Kind")
    assert [(c.id, c.client_id, c.redirect_uri) for c in details.connections] == [
        (client.connection_id, client.id, "https://one.test/cb"),
        (second.id, client.id, "https://two.test/cb"),
    ]
    assert await stores.queries.client_details(uuid.uuid4()) is None
    page = await stores.queries.clients_page(PageRequest())
    assert [entry.client.id for entry in page.entries] == [other.id, client.id]
    assert page.entries[1] == details


async def test_a_connection_secret_is_replaced_only_for_that_clients_connection(
    stores: Stores,
) -> None:
    client = await stores.seed.client()
    other = await stores.seed.client(client.type_id, name="Other")
    new_hash = os.urandom(32)
    replace = stores.admin.replace_connection_secret

    assert await replace(client.id, other.connection_id, new_hash, NOW) is None
    replaced = await replace(client.id, client.connection_id, new_hash, NOW)

    assert replaced is not None
    assert (replaced.id, replaced.client_id) == (client.connection_id, client.id)
    assert await stores.client_secrets.client_blocked(client.id, new_hash) is False
    assert await stores.client_secrets.client_blocked(client.id, client.secret_hash) is None
    assert await stores.client_secrets.client_blocked(other.id, other.secret_hash) is False


async def test_a_secret_another_connection_has_is_refused(stores: Stores) -> None:
    client = await stores.seed.client()
    other = await stores.seed.client(client.type_id, name="Other")

    with pytest.raises(INTEGRITY_ERRORS):
        await stores.admin.replace_connection_secret(
            client.id, client.connection_id, other.secret_hash, NOW
        )

    assert await stores.client_secrets.client_blocked(client.id, client.secret_hash) is False
    assert await stores.client_secrets.client_blocked(client.id, other.secret_hash) is None


async def test_a_connections_consumer_is_set_and_cleared(stores: Stores) -> None:
    client = await stores.seed.client()
    mis = await stores.seed.client(client.type_id, name="MIS")
    consume = stores.admin.set_connection_consumer

    assert await consume(mis.id, client.connection_id, mis.id, NOW) is None
    set_ = await consume(client.id, client.connection_id, mis.id, NOW)
    assert set_ is not None
    assert (set_.id, set_.consumer_id) == (client.connection_id, mis.id)
    with pytest.raises(INTEGRITY_ERRORS):
        await consume(client.id, client.connection_id, uuid.uuid4(), NOW)
    cleared = await consume(client.id, client.connection_id, None, NOW)
    assert cleared is not None
    assert cleared.consumer_id is None


async def test_users_page_in_email_order(stores: Stores) -> None:
    for email in ("c@example.org", "a@example.org", "b@example.org"):
        await stores.seed.user(email)

    page = await stores.queries.users_page(PageRequest(1, 2))

    assert [user.email for user in page.entries] == ["a@example.org", "b@example.org"]
    assert page.total_entries == 3


async def test_approvals_page_in_insertion_order_with_filters(stores: Stores) -> None:
    client = await stores.seed.client()
    other = await stores.seed.client(client.type_id, name="Other")
    user_id = await stores.seed.user()
    second_user = await stores.seed.user()
    late = await stores.seed.approve(user_id, other.id, now=NOW + 10)
    early = await stores.seed.approve(user_id, client.id, now=NOW)
    theirs = await stores.seed.approve(second_user, other.id, now=NOW + 5)
    page = stores.queries.approvals_page

    every = await page(PageRequest(), None, None)
    mine = await page(PageRequest(), user_id, None)
    for_other = await page(PageRequest(), None, other.id)
    none = await page(PageRequest(), second_user, client.id)

    assert every.entries == (early, theirs, late)
    assert mine.entries == (early, late)
    assert for_other.entries == (theirs, late)
    assert (none.entries, none.total_entries) == ((), 0)


async def test_deleting_an_approval_by_id_revokes_that_pairs_tokens(stores: Stores) -> None:
    client = await stores.seed.client()
    user_id = await stores.seed.user()
    approval = await stores.seed.approve(user_id, client.id)
    token = await stores.seed.token(TokenName.REFRESH_TOKEN, user_id, client)

    assert await stores.admin.delete_approval_by_id(approval.id, NOW) is True
    assert await stores.admin.delete_approval_by_id(approval.id, NOW + 5) is False

    assert await stores.queries.approval(user_id, client.id) is None
    assert (await stores.tokens())[token.id].revoked_at == NOW


async def test_tokens_page_newest_first_with_filters(stores: Stores) -> None:
    client = await stores.seed.client()
    other = await stores.seed.client(client.type_id, name="Other")
    user_id = await stores.seed.user()
    stranger = await stores.seed.user()
    old = await stores.seed.token(TokenName.REFRESH_TOKEN, user_id, client, issued_at=NOW)
    newest = await stores.seed.token(
        TokenName.ACCESS_TOKEN, user_id, client, issued_at=NOW + 10, scope="a b"
    )
    elsewhere = await stores.seed.token(TokenName.ACCESS_TOKEN, user_id, other, issued_at=NOW + 5)
    theirs = await stores.seed.token(TokenName.ACCESS_TOKEN, stranger, client, issued_at=NOW + 1)
    page = stores.queries.tokens_page

    every = await page(PageRequest(1, 3), None, None)
    mine = await page(PageRequest(), user_id, client.id)

    assert [token.id for token in every.entries] == [newest.id, elsewhere.id, theirs.id]
    assert every.total_entries == 4
    assert [token.id for token in mine.entries] == [newest.id, old.id]
    assert [token.id for token in (await page(PageRequest(), None, other.id)).entries] == [
        elsewhere.id
    ]
    info = mine.entries[0]
    assert (info.name, info.user_id, info.client_id, info.scope) == (
        "access_token",
        user_id,
        client.id,
        "a b",
    )
    assert (info.issued_at, info.expires_at, info.revoked_at) == (NOW + 10, NOW + 3_600, None)


async def test_revoke_token_keeps_the_first_revocation_time(stores: Stores) -> None:
    client = await stores.seed.client()
    user_id = await stores.seed.user()
    token = await stores.seed.token(TokenName.REFRESH_TOKEN, user_id, client)

    first = await stores.admin.revoke_token(token.id, NOW + 100)
    second = await stores.admin.revoke_token(token.id, NOW + 200)

    assert first is not None
    assert second is not None
    assert (first.id, first.revoked_at, second.revoked_at) == (token.id, NOW + 100, NOW + 100)
    assert await stores.admin.revoke_token(uuid.uuid4(), NOW) is None


async def test_revoke_user_tokens_of_one_client_or_all(stores: Stores) -> None:
    client = await stores.seed.client()
    other = await stores.seed.client(client.type_id, name="Other")
    user_id = await stores.seed.user()
    stranger = await stores.seed.user()
    mine = await stores.seed.token(TokenName.REFRESH_TOKEN, user_id, client)
    elsewhere = await stores.seed.token(TokenName.ACCESS_TOKEN, user_id, other)
    theirs = await stores.seed.token(TokenName.REFRESH_TOKEN, stranger, other)

    assert await stores.admin.revoke_user_tokens(user_id, other.id, NOW + 5) == 1
    assert await stores.admin.revoke_user_tokens(user_id, None, NOW + 6) == 1
    assert await stores.admin.revoke_user_tokens(user_id, None, NOW + 7) == 0

    revoked = {token_id: token.revoked_at for token_id, token in (await stores.tokens()).items()}
    assert revoked == {elsewhere.id: NOW + 5, mine.id: NOW + 6, theirs.id: None}


async def test_a_token_of_an_unknown_user_client_or_connection_is_refused(
    stores: Stores,
) -> None:
    client = await stores.seed.client()
    user_id = await stores.seed.user()
    stored = await stores.seed.token(TokenName.ACCESS_TOKEN, user_id, client)
    orphans = [
        stores.new_token(TokenName.ACCESS_TOKEN, uuid.uuid4(), client),
        stores.new_token(TokenName.ACCESS_TOKEN, user_id, client, value_hash=stored.value_hash),
    ]
    stray = stores.new_token(TokenName.ACCESS_TOKEN, user_id, client)
    orphans.append(dataclasses.replace(stray, client_id=uuid.uuid4(), connection_id=None))
    orphans.append(dataclasses.replace(stray, connection_id=uuid.uuid4()))

    with pytest.raises(INTEGRITY_ERRORS):  # the value's hash is taken
        await stores.admin.add_token(orphans.pop(1))
    for token in orphans:  # no such user, client or connection
        with pytest.raises(NotFoundError, match=UNKNOWN_TOKEN_OWNER):
            await stores.admin.add_token(token)

    assert set(await stores.tokens()) == {stored.id}
