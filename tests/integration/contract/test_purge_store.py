"""The purge's store: dead tokens deleted in bounded batches, successor values erased."""

from __future__ import annotations

from uuid import UUID

from tests.integration.contract.backends import NOW, Stores, TokenName, assert_rotated


async def test_only_tokens_expired_or_revoked_before_the_cutoff_are_deleted(
    stores: Stores,
) -> None:
    client = await stores.seed.client()
    user_id = await stores.seed.user()

    async def token(expires_at: int, revoked_at: int | None = None) -> UUID:
        stored = await stores.seed.token(
            TokenName.ACCESS_TOKEN, user_id, client, issued_at=0, expires_at=expires_at
        )
        if revoked_at is not None:
            await stores.admin.revoke_token(stored.id, revoked_at)
        return stored.id

    expired = [await token(NOW - 10) for _ in range(3)]
    revoked = await token(NOW + 3_600, revoked_at=NOW - 10)
    at_cutoff = await token(NOW)  # expired exactly at the cutoff: kept
    revoked_at_cutoff = await token(NOW + 3_600, revoked_at=NOW)
    live = await token(NOW + 3_600)

    assert await stores.purge.delete_dead_tokens(NOW, 3) == 3
    assert await stores.purge.delete_dead_tokens(NOW, 3) == 1
    assert await stores.purge.delete_dead_tokens(NOW, 3) == 0

    assert set(await stores.tokens()) == {at_cutoff, revoked_at_cutoff, live}
    assert not {*expired, revoked} & set(await stores.tokens())


async def test_successor_values_of_tokens_retired_before_the_time_are_erased(
    stores: Stores,
) -> None:
    client = await stores.seed.client()
    user_id = await stores.seed.user()
    retired = await stores.seed.token(TokenName.REFRESH_TOKEN, user_id, client)
    family = retired.family_id
    successor = stores.new_token(TokenName.REFRESH_TOKEN, user_id, client, family_id=family)
    access = stores.new_token(TokenName.ACCESS_TOKEN, user_id, client, family_id=family)
    assert_rotated(
        await stores.refresh.rotate(
            retired.id, 5_000, successor, b"sealed", access, revoke_earlier_access=False
        )
    )

    assert await stores.purge.erase_successor_values(5_000) == 0
    assert (await stores.refresh_token(client, retired)).successor_value_enc == b"sealed"
    assert await stores.purge.erase_successor_values(5_001) == 1
    assert await stores.purge.erase_successor_values(5_001) == 0

    kept = await stores.refresh_token(client, retired)
    assert (kept.successor_value_enc, kept.successor_id, kept.retired_at_ms) == (
        None,
        successor.id,
        5_000,
    )
