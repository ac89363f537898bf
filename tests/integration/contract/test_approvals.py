"""Approvals: the Approver's port (lookups, insert or widen in place) and deleting one."""

from __future__ import annotations

import uuid

import pytest

from tests.integration.contract.backends import (
    INTEGRITY_ERRORS,
    NOW,
    ApprovalRecord,
    PageRequest,
    Stores,
    TokenName,
)


async def test_the_approvers_lookups(stores: Stores) -> None:
    kind = await stores.seed.client_type("a b", name="Kind")
    client = await stores.seed.client(kind)
    user_id = await stores.seed.user("ann@example.org")

    user = await stores.queries.user(user_id)
    assert user is not None
    assert (user.id, user.email, user.is_blocked) == (user_id, "ann@example.org", False)
    assert await stores.queries.user(uuid.uuid4()) is None
    found = await stores.queries.client_type_of(client.id)
    assert found is not None
    assert (found.id, found.name, found.scope) == (kind, "Kind", "a b")
    assert await stores.queries.client_type_of(uuid.uuid4()) is None
    assert await stores.queries.approval(user_id, client.id) is None


async def test_saving_an_approval_inserts_it_then_changes_its_scope_in_place(
    stores: Stores,
) -> None:
    client = await stores.seed.client()
    user_id = await stores.seed.user()
    first = ApprovalRecord(uuid.uuid4(), user_id, client.id, "a")

    assert await stores.admin.save_approval(first, NOW) == first
    widened = await stores.admin.save_approval(
        ApprovalRecord(uuid.uuid4(), user_id, client.id, "b a"), NOW + 1
    )

    assert widened == ApprovalRecord(first.id, user_id, client.id, "b a")
    assert await stores.queries.approval(user_id, client.id) == widened
    page = await stores.queries.approvals_page(PageRequest(), None, None)
    assert page.entries == (widened,)


async def test_an_approval_of_an_unknown_user_or_client_is_refused(stores: Stores) -> None:
    client = await stores.seed.client()
    user_id = await stores.seed.user()

    for record in (
        ApprovalRecord(uuid.uuid4(), uuid.uuid4(), client.id, "a"),
        ApprovalRecord(uuid.uuid4(), user_id, uuid.uuid4(), "a"),
    ):
        with pytest.raises(INTEGRITY_ERRORS):
            await stores.admin.save_approval(record, NOW)

    assert (await stores.queries.approvals_page(PageRequest(), None, None)).entries == ()


async def test_deleting_an_approval_revokes_that_pairs_live_tokens(stores: Stores) -> None:
    client = await stores.seed.client()
    other = await stores.seed.client(client.type_id, name="Other")
    user_id = await stores.seed.user()
    stranger = await stores.seed.user()
    await stores.seed.approve(user_id, client.id)
    await stores.seed.approve(user_id, other.id)
    mine = await stores.seed.token(TokenName.REFRESH_TOKEN, user_id, client)
    earlier = await stores.seed.token(TokenName.ACCESS_TOKEN, user_id, client)
    await stores.admin.revoke_token(earlier.id, NOW - 10)
    theirs = await stores.seed.token(TokenName.REFRESH_TOKEN, user_id, other)
    strangers = await stores.seed.token(TokenName.REFRESH_TOKEN, stranger, client)

    assert await stores.admin.delete_approval(user_id, client.id, NOW) is True
    assert await stores.admin.delete_approval(user_id, client.id, NOW + 5) is False

    assert await stores.queries.approval(user_id, client.id) is None
    assert await stores.queries.approval(user_id, other.id) is not None
    revoked = {token_id: token.revoked_at for token_id, token in (await stores.tokens()).items()}
    assert revoked == {mine.id: NOW, earlier.id: NOW - 10, theirs.id: None, strangers.id: None}
