"""The refresh grant's store: its one read, its writes, the race its conditional update decides."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import pytest

from ehealth_auth.protocol.model import RotationDraft, TokenDraft
from tests.integration.contract.backends import (
    INTEGRITY_ERRORS,
    NOW,
    Client,
    NewToken,
    Stores,
    TokenName,
    assert_lost_race,
    assert_rotated,
    rotation_won,
)

ACCESS = TokenName.ACCESS_TOKEN
REFRESH = TokenName.REFRESH_TOKEN


@dataclass(frozen=True)
class World:
    client: Client
    other: Client
    user_id: uuid.UUID
    refresh: NewToken


@pytest.fixture
async def world(stores: Stores) -> World:
    kind = await stores.seed.client_type()
    client = await stores.seed.client(kind, name="Clinic A")
    other = await stores.seed.client(kind, name="Clinic B")
    user_id = await stores.seed.user()
    await stores.seed.approve(user_id, client.id, "employee:read legal_entity:read")
    refresh = await stores.seed.token(REFRESH, user_id, client, family_id=uuid.uuid4())
    return World(client, other, user_id, refresh)


async def test_context_of_a_live_token_has_every_column(stores: Stores, world: World) -> None:
    context = await stores.refresh.load_refresh_context(
        world.client.id, world.client.secret_hash, world.refresh.value_hash
    )

    assert context is not None
    assert (context.connection_id, context.client_blocked) == (world.client.connection_id, False)
    assert (context.user_blocked, context.approval_scope) == (
        False,
        "employee:read legal_entity:read",
    )
    token = context.token
    assert token is not None
    assert (token.id, token.client_id, token.user_id, token.family_id) == (
        world.refresh.id,
        world.client.id,
        world.user_id,
        world.refresh.family_id,
    )
    assert (token.expires_at, token.revoked, token.revoked_for_reuse) == (NOW + 3_600, False, False)
    assert (token.retired_at_ms, token.successor_id, token.successor_value_enc) == (None,) * 3
    assert token.connection_id == world.client.connection_id


async def test_a_secret_no_connection_of_the_client_has_gives_no_context(
    stores: Stores, world: World
) -> None:
    token_hash = world.refresh.value_hash
    load = stores.refresh.load_refresh_context

    assert await load(world.client.id, os.urandom(32), token_hash) is None
    assert await load(world.client.id, world.other.secret_hash, token_hash) is None
    assert await load(uuid.uuid4(), world.client.secret_hash, token_hash) is None


async def test_a_missing_token_keeps_the_callers_row(stores: Stores, world: World) -> None:
    access = await stores.seed.token(ACCESS, world.user_id, world.client)

    for token_hash in (os.urandom(32), access.value_hash):  # only refresh tokens are read
        context = await stores.refresh.load_refresh_context(
            world.client.id, world.client.secret_hash, token_hash
        )
        assert context is not None
        assert (context.connection_id, context.client_blocked) == (
            world.client.connection_id,
            False,
        )
        assert (context.token, context.user_blocked, context.approval_scope) == (None, False, None)


async def test_the_approval_is_the_token_users_for_the_calling_client(
    stores: Stores, world: World
) -> None:
    # The other client presents a token of world's client: its user has no approval for it.
    context = await stores.refresh.load_refresh_context(
        world.other.id, world.other.secret_hash, world.refresh.value_hash
    )

    assert context is not None
    assert context.connection_id == world.other.connection_id
    assert context.token is not None
    assert context.token.client_id == world.client.id
    assert context.approval_scope is None


async def test_blocks_and_revocation_are_reported(stores: Stores, world: World) -> None:
    assert await stores.admin.set_client_blocked(world.client.id, True, NOW)
    assert await stores.admin.block_user(world.user_id, NOW)

    context = await stores.refresh.load_refresh_context(
        world.client.id, world.client.secret_hash, world.refresh.value_hash
    )

    assert context is not None
    assert (context.client_blocked, context.user_blocked) == (True, True)
    assert context.token is not None
    assert (context.token.revoked, context.token.revoked_for_reuse) == (True, False)


async def test_the_connection_is_the_one_with_the_presented_secret(
    stores: Stores, world: World
) -> None:
    second = await stores.seed.connection(world.client.id, "https://second.test/cb", NOW + 1)
    minted = await stores.seed.token(REFRESH, world.user_id, world.client, connection=False)

    context = await stores.refresh.load_refresh_context(
        world.client.id, second.secret_hash, minted.value_hash
    )

    assert context is not None
    assert context.connection_id == second.id
    assert context.token is not None
    assert context.token.connection_id is None  # an operator's mint


async def test_add_access_token_alone_leaves_earlier_access_tokens_live(
    stores: Stores, world: World
) -> None:
    family = world.refresh.family_id
    earlier = await stores.seed.token(ACCESS, world.user_id, world.client, family_id=family)
    access = stores.new_token(ACCESS, world.user_id, world.client, family_id=family)

    await stores.refresh.add_access_token(access, revoke_earlier_access=False)

    tokens = await stores.tokens()
    assert tokens[access.id].revoked_at is None
    assert tokens[earlier.id].revoked_at is None


async def test_add_access_token_can_revoke_the_familys_earlier_access_tokens(
    stores: Stores, world: World
) -> None:
    family = world.refresh.family_id
    earlier = await stores.seed.token(ACCESS, world.user_id, world.client, family_id=family)
    stranger = await stores.seed.token(ACCESS, world.user_id, world.client)  # another family
    access = stores.new_token(
        ACCESS, world.user_id, world.client, family_id=family, issued_at=NOW + 5
    )

    await stores.refresh.add_access_token(access, revoke_earlier_access=True)

    tokens = await stores.tokens()
    assert tokens[earlier.id].revoked_at == NOW + 5  # the new token's issue time
    assert tokens[access.id].revoked_at is None
    assert tokens[world.refresh.id].revoked_at is None
    assert tokens[stranger.id].revoked_at is None


async def test_an_access_token_that_cannot_be_stored_revokes_nothing(
    stores: Stores, world: World
) -> None:
    family = world.refresh.family_id
    earlier = await stores.seed.token(ACCESS, world.user_id, world.client, family_id=family)
    clash = stores.new_token(
        ACCESS, world.user_id, world.client, family_id=family, value_hash=earlier.value_hash
    )

    with pytest.raises(INTEGRITY_ERRORS):
        await stores.refresh.add_access_token(clash, revoke_earlier_access=True)

    tokens = await stores.tokens()
    assert set(tokens) == {world.refresh.id, earlier.id}
    assert tokens[earlier.id].revoked_at is None


def _rotation(stores: Stores, world: World, retired: NewToken) -> tuple[NewToken, NewToken]:
    successor = stores.new_token(
        REFRESH, world.user_id, world.client, family_id=retired.family_id, issued_at=NOW + 1
    )
    access = stores.new_token(
        ACCESS, world.user_id, world.client, family_id=retired.family_id, issued_at=NOW + 1
    )
    return successor, access


async def test_of_two_rotations_of_one_token_the_first_wins_and_the_loser_writes_nothing(
    stores: Stores, world: World
) -> None:
    successor, access = _rotation(stores, world, world.refresh)
    late_successor, late_access = _rotation(stores, world, world.refresh)

    won = await stores.refresh.rotate(
        world.refresh.id, 5_000, successor, b"sealed", access, revoke_earlier_access=False
    )
    lost = await stores.refresh.rotate(
        world.refresh.id, 5_001, late_successor, b"late", late_access, revoke_earlier_access=True
    )

    assert_rotated(won)
    as_left = assert_lost_race(lost)
    assert set(await stores.tokens()) == {world.refresh.id, successor.id, access.id}
    retired = await stores.refresh_token(world.client, world.refresh)
    assert as_left == retired  # what the winner left, read in the loser's transaction
    assert (retired.retired_at_ms, retired.successor_id, retired.successor_value_enc) == (
        5_000,
        successor.id,
        b"sealed",
    )
    assert retired.revoked is False
    stored = await stores.refresh_token(world.client, successor)
    assert (stored.family_id, stored.retired_at_ms, stored.revoked) == (
        world.refresh.family_id,
        None,
        False,
    )
    assert (await stores.tokens())[access.id].revoked_at is None


async def test_of_simultaneous_rotations_of_one_token_exactly_one_wins(
    stores: Stores, world: World
) -> None:
    attempts = [_rotation(stores, world, world.refresh) for _ in range(5)]

    results = await asyncio.gather(
        *(
            stores.refresh.rotate(
                world.refresh.id, 5_000 + n, successor, None, access, revoke_earlier_access=True
            )
            for n, (successor, access) in enumerate(attempts)
        )
    )

    winners = [n for n, result in enumerate(results) if rotation_won(result)]
    assert len(winners) == 1
    successor, access = attempts[winners[0]]
    assert set(await stores.tokens()) == {world.refresh.id, successor.id, access.id}
    retired = await stores.refresh_token(world.client, world.refresh)
    assert (retired.retired_at_ms, retired.successor_id) == (5_000 + winners[0], successor.id)


async def test_a_revoked_or_unknown_token_cannot_be_rotated(stores: Stores, world: World) -> None:
    await stores.admin.revoke_token(world.refresh.id, NOW)

    for retired_id in (world.refresh.id, uuid.uuid4()):
        successor, access = _rotation(stores, world, world.refresh)
        lost = await stores.refresh.rotate(
            retired_id, 5_000, successor, None, access, revoke_earlier_access=False
        )
        as_left = assert_lost_race(lost)
        assert (as_left.id, as_left.revoked, as_left.retired_at_ms) == (retired_id, True, None)

    assert set(await stores.tokens()) == {world.refresh.id}
    assert (await stores.refresh_token(world.client, world.refresh)).retired_at_ms is None


async def test_only_the_newest_retired_tokens_successor_is_kept(
    stores: Stores, world: World
) -> None:
    second, access = _rotation(stores, world, world.refresh)
    assert_rotated(
        await stores.refresh.rotate(
            world.refresh.id, 5_000, second, b"first", access, revoke_earlier_access=False
        )
    )
    third, access = _rotation(stores, world, second)

    assert_rotated(
        await stores.refresh.rotate(
            second.id, 6_000, third, b"second", access, revoke_earlier_access=False
        )
    )

    first_retired = await stores.refresh_token(world.client, world.refresh)
    assert (first_retired.successor_id, first_retired.successor_value_enc) == (second.id, None)
    assert (await stores.refresh_token(world.client, second)).successor_value_enc == b"second"


async def test_a_rotation_can_revoke_the_familys_earlier_access_tokens(
    stores: Stores, world: World
) -> None:
    family = world.refresh.family_id
    earlier = await stores.seed.token(ACCESS, world.user_id, world.client, family_id=family)
    successor, access = _rotation(stores, world, world.refresh)
    assert_rotated(
        await stores.refresh.rotate(
            world.refresh.id, 5_000, successor, None, access, revoke_earlier_access=False
        )
    )
    assert (await stores.tokens())[earlier.id].revoked_at is None
    later, later_access = _rotation(stores, world, successor)

    assert_rotated(
        await stores.refresh.rotate(
            successor.id, 6_000, later, None, later_access, revoke_earlier_access=True
        )
    )

    tokens = await stores.tokens()
    assert tokens[earlier.id].revoked_at == NOW + 1  # the new access token's issue time
    assert tokens[access.id].revoked_at == NOW + 1
    assert tokens[later_access.id].revoked_at is None
    assert tokens[later.id].revoked_at is None


async def test_a_rotation_whose_tokens_cannot_be_stored_writes_nothing(
    stores: Stores, world: World
) -> None:
    family = world.refresh.family_id
    earlier = await stores.seed.token(ACCESS, world.user_id, world.client, family_id=family)
    successor, _ = _rotation(stores, world, world.refresh)
    clash = stores.new_token(
        ACCESS, world.user_id, world.client, family_id=family, value_hash=successor.value_hash
    )

    with pytest.raises(INTEGRITY_ERRORS):
        await stores.refresh.rotate(
            world.refresh.id, 5_000, successor, b"sealed", clash, revoke_earlier_access=True
        )

    assert set(await stores.tokens()) == {world.refresh.id, earlier.id}
    assert (await stores.tokens())[earlier.id].revoked_at is None
    retired = await stores.refresh_token(world.client, world.refresh)
    assert (retired.retired_at_ms, retired.successor_id, retired.successor_value_enc) == (None,) * 3


async def test_revoke_family_counts_the_live_tokens_of_that_family_only(
    stores: Stores, world: World
) -> None:
    family = world.refresh.family_id
    successor, access = _rotation(stores, world, world.refresh)
    assert_rotated(
        await stores.refresh.rotate(
            world.refresh.id, 5_000, successor, b"sealed", access, revoke_earlier_access=False
        )
    )
    gone = await stores.seed.token(REFRESH, world.user_id, world.client, family_id=family)
    await stores.admin.revoke_token(gone.id, NOW - 10)  # revoked earlier, for another reason
    stranger = await stores.seed.token(REFRESH, world.user_id, world.client)

    assert await stores.refresh.revoke_family(family, NOW + 60) == 3
    assert await stores.refresh.revoke_family(family, NOW + 90) == 0

    tokens = await stores.tokens()
    assert {token_id: token.revoked_at for token_id, token in tokens.items()} == {
        world.refresh.id: NOW + 60,
        successor.id: NOW + 60,
        access.id: NOW + 60,
        gone.id: NOW - 10,
        stranger.id: None,
    }
    retired = await stores.refresh_token(world.client, world.refresh)
    assert (retired.revoked, retired.revoked_for_reuse, retired.successor_value_enc) == (
        True,
        True,
        None,
    )
    assert (await stores.refresh_token(world.client, gone)).revoked_for_reuse is False


async def test_a_clients_own_revocation_of_a_family_is_not_for_reuse(
    stores: Stores, world: World
) -> None:
    family = world.refresh.family_id
    access = await stores.seed.token(ACCESS, world.user_id, world.client, family_id=family)

    assert await stores.revocation.revoke_family(family, NOW + 60) == 2

    assert (await stores.tokens())[access.id].revoked_at == NOW + 60
    revoked = await stores.refresh_token(world.client, world.refresh)
    assert (revoked.revoked, revoked.revoked_for_reuse) == (True, False)


def _draft(issued_at: int = NOW + 10) -> TokenDraft:
    return TokenDraft(uuid.uuid4(), os.urandom(32), issued_at, issued_at + 900, "refresh_token")


async def test_the_issuing_read_reads_the_same_context_and_stores_the_draft_where_it_can(
    stores: Stores, world: World
) -> None:
    client, token_hash = world.client, world.refresh.value_hash
    draft = _draft()

    context, stored = await stores.refresh.load_refresh_context_issuing(
        client.id, client.secret_hash, token_hash, draft
    )

    # One statement on PostgreSQL; the fakes and SQLite read alone and leave the write to the
    # grant.
    assert stored is (stores.backend == "postgresql")
    assert context == await stores.refresh.load_refresh_context(
        client.id, client.secret_hash, token_hash
    )
    tokens = await stores.tokens()
    if not stored:
        assert set(tokens) == {world.refresh.id}
        return
    access = tokens[draft.id]
    assert (access.name, access.user_id, access.client_id) == (
        ACCESS.value,
        world.user_id,
        client.id,
    )
    assert (access.scope, access.issued_at, access.expires_at, access.revoked_at) == (
        "employee:read legal_entity:read",
        draft.issued_at,
        draft.expires_at,
        None,
    )
    verified = await stores.verify.load_token(draft.value_hash)
    assert verified is not None
    assert verified.details == {
        "client_id": str(client.id),
        "grant_type": "refresh_token",
        "scope": "employee:read legal_entity:read",
    }
    # Stored in the presented token's family: revoking the family reaches it.
    assert await stores.refresh.revoke_family(world.refresh.family_id, NOW + 20) == 2


async def test_issuing_reads_made_together_each_get_the_answer_they_would_alone(
    stores: Stores, world: World
) -> None:
    """On PostgreSQL the reads that wait for a busy statement go together in the next one."""
    client, other = world.client, world.other
    second = await stores.seed.token(REFRESH, world.user_id, client)
    await stores.seed.approve(world.user_id, other.id, "employee:read")
    cases = [
        (client, client.secret_hash, world.refresh.value_hash, NOW + 10),  # live
        (client, os.urandom(32), world.refresh.value_hash, NOW + 10),  # no such secret
        (client, client.secret_hash, os.urandom(32), NOW + 10),  # no such token
        (client, client.secret_hash, second.value_hash, NOW + 3_600),  # expired by then
        (other, other.secret_hash, world.refresh.value_hash, NOW + 10),  # another's token
        (client, client.secret_hash, second.value_hash, NOW + 20),  # live
    ] * 3
    live = {i for i, case in enumerate(cases) if i % 6 in (0, 5)}
    expected = [
        await stores.refresh.load_refresh_context(case[0].id, case[1], case[2]) for case in cases
    ]
    drafts = [_draft(now) for *_, now in cases]
    before = await stores.tokens()

    answers = await asyncio.gather(
        *(
            stores.refresh.load_refresh_context_issuing(caller.id, secret, token, draft)
            for (caller, secret, token, _), draft in zip(cases, drafts, strict=True)
        )
    )

    assert [context for context, _ in answers] == expected
    stored = {i for i, (_, wrote) in enumerate(answers) if wrote}
    assert stored == (live if stores.backend == "postgresql" else set())
    tokens = await stores.tokens()
    assert set(tokens) - set(before) == {drafts[i].id for i in stored}
    for i in stored:
        access = tokens[drafts[i].id]
        assert (access.issued_at, access.expires_at, access.client_id) == (
            drafts[i].issued_at,
            drafts[i].expires_at,
            client.id,
        )


async def _fails_by_secret(stores: Stores, world: World) -> tuple[Client, bytes, bytes, int]:
    return world.client, os.urandom(32), world.refresh.value_hash, NOW + 10


async def _fails_by_blocked_client(
    stores: Stores, world: World
) -> tuple[Client, bytes, bytes, int]:
    assert await stores.admin.set_client_blocked(world.client.id, True, NOW)
    return world.client, world.client.secret_hash, world.refresh.value_hash, NOW + 10


async def _fails_by_unknown_token(stores: Stores, world: World) -> tuple[Client, bytes, bytes, int]:
    return world.client, world.client.secret_hash, os.urandom(32), NOW + 10


async def _fails_by_other_client(stores: Stores, world: World) -> tuple[Client, bytes, bytes, int]:
    await stores.seed.approve(world.user_id, world.other.id, "employee:read")
    return world.other, world.other.secret_hash, world.refresh.value_hash, NOW + 10


async def _fails_by_other_connection(
    stores: Stores, world: World
) -> tuple[Client, bytes, bytes, int]:
    second = await stores.seed.connection(world.client.id, "https://second.test/cb", NOW + 1)
    return world.client, second.secret_hash, world.refresh.value_hash, NOW + 10


async def _fails_by_expiry(stores: Stores, world: World) -> tuple[Client, bytes, bytes, int]:
    return world.client, world.client.secret_hash, world.refresh.value_hash, NOW + 3_600


async def _fails_by_revocation(stores: Stores, world: World) -> tuple[Client, bytes, bytes, int]:
    assert await stores.refresh.revoke_family(world.refresh.family_id, NOW) == 1
    return world.client, world.client.secret_hash, world.refresh.value_hash, NOW + 10


async def _fails_by_retirement(stores: Stores, world: World) -> tuple[Client, bytes, bytes, int]:
    successor, access = _rotation(stores, world, world.refresh)
    assert_rotated(
        await stores.refresh.rotate(
            world.refresh.id, NOW * 1000, successor, None, access, revoke_earlier_access=False
        )
    )
    return world.client, world.client.secret_hash, world.refresh.value_hash, NOW + 10


async def _fails_by_blocked_user(stores: Stores, world: World) -> tuple[Client, bytes, bytes, int]:
    # Blocking revokes the user's tokens too; a token minted after the block is live.
    assert await stores.admin.block_user(world.user_id, NOW)
    minted = await stores.seed.token(REFRESH, world.user_id, world.client)
    return world.client, world.client.secret_hash, minted.value_hash, NOW + 10


async def _fails_by_missing_approval(
    stores: Stores, world: World
) -> tuple[Client, bytes, bytes, int]:
    assert await stores.admin.delete_approval(world.user_id, world.client.id, NOW)
    return world.client, world.client.secret_hash, world.refresh.value_hash, NOW + 10


# Each arranges a refresh that fails one check of a live, unretired token.
FAILING_CHECKS = [
    _fails_by_secret,
    _fails_by_blocked_client,
    _fails_by_unknown_token,
    _fails_by_other_client,
    _fails_by_other_connection,
    _fails_by_expiry,
    _fails_by_revocation,
    _fails_by_retirement,
    _fails_by_blocked_user,
    _fails_by_missing_approval,
]


def _rotation_draft(
    issued_at: int = NOW + 10, *, sealed: bytes | None = b"sealed", revoke: bool = False
) -> RotationDraft:
    successor = TokenDraft(
        uuid.uuid4(), os.urandom(32), issued_at, issued_at + 86_400, "refresh_token"
    )
    return RotationDraft(_draft(issued_at), successor, issued_at * 1000 + 7, sealed, revoke)


async def test_the_rotating_read_reads_the_same_context_and_rotates_where_it_can(
    stores: Stores, world: World
) -> None:
    client, token_hash = world.client, world.refresh.value_hash
    family = world.refresh.family_id
    earlier = await stores.seed.token(ACCESS, world.user_id, client, family_id=family)
    before = await stores.refresh.load_refresh_context(client.id, client.secret_hash, token_hash)
    assert before is not None
    draft = _rotation_draft()

    context, rotated = await stores.refresh.load_refresh_context_rotating(
        client.id, client.secret_hash, token_hash, draft
    )

    # One statement on PostgreSQL; the fakes and SQLite read alone and leave the rotation to
    # the grant.
    assert rotated is (stores.backend == "postgresql")
    assert context == before  # the context as the read found it, before the rotation
    tokens = await stores.tokens()
    if not rotated:
        assert set(tokens) == {world.refresh.id, earlier.id}
        return
    assert set(tokens) == {world.refresh.id, earlier.id, draft.successor.id, draft.access.id}
    assert tokens[earlier.id].revoked_at is None  # revoke_earlier_access was not asked
    retired = await stores.refresh_token(client, world.refresh)
    assert (retired.retired_at_ms, retired.successor_id, retired.successor_value_enc) == (
        draft.retired_at_ms,
        draft.successor.id,
        b"sealed",
    )
    for token_draft, name in ((draft.successor, REFRESH), (draft.access, ACCESS)):
        stored = tokens[token_draft.id]
        assert (stored.name, stored.user_id, stored.client_id, stored.scope) == (
            name.value,
            world.user_id,
            client.id,
            "employee:read legal_entity:read",
        )
        assert (stored.issued_at, stored.expires_at, stored.revoked_at) == (
            token_draft.issued_at,
            token_draft.expires_at,
            None,
        )
    verified = await stores.verify.load_token(draft.access.value_hash)
    assert verified is not None
    assert verified.details == {
        "client_id": str(client.id),
        "grant_type": "refresh_token",
        "scope": "employee:read legal_entity:read",
    }
    successor = await stores.refresh.load_refresh_context(
        client.id, client.secret_hash, draft.successor.value_hash
    )
    assert successor is not None
    assert successor.stored is not None
    assert (successor.stored.family_id, successor.stored.retired_at_ms) == (family, None)
    assert successor.stored.connection_id == before.connection_id
    # Both in the presented token's family: revoking the family reaches them, the retired
    # token and the earlier access token.
    assert await stores.refresh.revoke_family(family, NOW + 20) == 4


async def test_the_rotating_read_revokes_earlier_access_and_keeps_the_newest_successor_only(
    stores: Stores, world: World
) -> None:
    client = world.client
    family = world.refresh.family_id
    earlier = await stores.seed.token(ACCESS, world.user_id, client, family_id=family)
    first = _rotation_draft(NOW + 10, sealed=b"first", revoke=True)
    _, rotated = await stores.refresh.load_refresh_context_rotating(
        client.id, client.secret_hash, world.refresh.value_hash, first
    )
    if not rotated:
        assert stores.backend != "postgresql"
        return
    second = _rotation_draft(NOW + 20, sealed=b"second", revoke=True)

    _, rotated = await stores.refresh.load_refresh_context_rotating(
        client.id, client.secret_hash, first.successor.value_hash, second
    )

    assert rotated
    tokens = await stores.tokens()
    assert tokens[earlier.id].revoked_at == NOW + 10
    assert tokens[first.access.id].revoked_at == NOW + 20
    assert tokens[second.access.id].revoked_at is None
    original = await stores.refresh_token(client, world.refresh)
    assert (original.successor_id, original.successor_value_enc) == (first.successor.id, None)
    middle = await stores.refresh.load_refresh_context(
        client.id, client.secret_hash, first.successor.value_hash
    )
    assert middle is not None
    assert middle.stored is not None
    assert (middle.stored.retired_at_ms, middle.stored.successor_value_enc) == (
        second.retired_at_ms,
        b"second",
    )


async def test_of_simultaneous_rotating_reads_of_one_token_at_most_one_rotates(
    stores: Stores, world: World
) -> None:
    client = world.client
    drafts = [_rotation_draft(NOW + 10 + n) for n in range(5)]

    results = await asyncio.gather(
        *(
            stores.refresh.load_refresh_context_rotating(
                client.id, client.secret_hash, world.refresh.value_hash, draft
            )
            for draft in drafts
        )
    )

    winners = [n for n, (_, rotated) in enumerate(results) if rotated]
    tokens = await stores.tokens()
    if stores.backend != "postgresql":
        assert winners == []
        assert set(tokens) == {world.refresh.id}
        return
    assert len(winners) == 1
    won = drafts[winners[0]]
    assert set(tokens) == {world.refresh.id, won.successor.id, won.access.id}
    retired = await stores.refresh_token(client, world.refresh)
    assert (retired.retired_at_ms, retired.successor_id) == (won.retired_at_ms, won.successor.id)


WritingRead = Callable[[Stores, uuid.UUID, bytes, bytes, int], Awaitable[tuple[object, bool]]]


async def _issuing(
    stores: Stores, client_id: uuid.UUID, secret_hash: bytes, token_hash: bytes, now: int
) -> tuple[object, bool]:
    return await stores.refresh.load_refresh_context_issuing(
        client_id, secret_hash, token_hash, _draft(now)
    )


async def _rotating(
    stores: Stores, client_id: uuid.UUID, secret_hash: bytes, token_hash: bytes, now: int
) -> tuple[object, bool]:
    return await stores.refresh.load_refresh_context_rotating(
        client_id, secret_hash, token_hash, _rotation_draft(now, revoke=True)
    )


@pytest.mark.parametrize("read", [_issuing, _rotating])
@pytest.mark.parametrize("arrange", FAILING_CHECKS)
async def test_a_writing_read_writes_nothing_for_a_refresh_that_fails_a_check(
    stores: Stores,
    world: World,
    arrange: Callable[[Stores, World], Awaitable[tuple[Client, bytes, bytes, int]]],
    read: WritingRead,
) -> None:
    client, secret_hash, token_hash, now = await arrange(stores, world)
    before = await stores.tokens()
    expected = await stores.refresh.load_refresh_context(client.id, secret_hash, token_hash)

    context, wrote = await read(stores, client.id, secret_hash, token_hash, now)

    assert not wrote
    assert context == expected
    assert await stores.tokens() == before
    # Nor was the presented token retired: the context reads the same after the attempt.
    assert await stores.refresh.load_refresh_context(client.id, secret_hash, token_hash) == expected
