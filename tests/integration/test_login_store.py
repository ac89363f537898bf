"""The login's stores against real databases (SQLite and PostgreSQL), and the equal work the
password grant does for unknown and known emails."""

from __future__ import annotations

from typing import Any

import pytest

from ehealth_auth.crypto import Argon2PasswordHasher, HmacSecretHasher
from ehealth_auth.protocol.errors import AccessDeniedError
from ehealth_auth.protocol.grants.password import LoginPolicy, PasswordGrant
from ehealth_auth.storage.login_store import SqlLoginStore
from ehealth_auth.wiring import Services
from tests.flow_support import login_body
from tests.support import TEST_SECRET_KEY, MutableClock, World

ACCOUNT = b"\x01" * 32


async def test_attempts_count_up_to_the_limit_then_lock_until_the_window_ends(
    services: Services,
) -> None:
    store = SqlLoginStore(services.engine)
    answers = [await store.count_attempt(ACCOUNT, 1_000 + i, 60, 3) for i in range(3)]
    assert answers == [None, None, None]
    assert await store.count_attempt(ACCOUNT, 1_010, 60, 3) == 50  # the window began at 1000
    assert await store.count_attempt(ACCOUNT, 1_059, 60, 3) == 1
    assert await store.count_attempt(ACCOUNT, 1_060, 60, 3) is None  # a new window
    assert await store.count_attempt(b"\x02" * 32, 1_060, 60, 3) is None  # another account


async def test_clearing_attempts_lifts_the_lock(services: Services) -> None:
    store = SqlLoginStore(services.engine)
    for _ in range(2):
        await store.count_attempt(ACCOUNT, 1_000, 60, 2)
    assert await store.count_attempt(ACCOUNT, 1_000, 60, 2) == 60
    assert await store.clear_attempts(ACCOUNT) is True
    assert await store.clear_attempts(ACCOUNT) is False
    assert await store.count_attempt(ACCOUNT, 1_000, 60, 2) is None


async def test_user_by_email_ignores_case(services: Services, world: World) -> None:
    store = SqlLoginStore(services.engine)
    found = await store.user_by_email(world.user_email.upper())
    assert found is not None
    assert found.id == world.user_id
    assert await store.user_by_email("nobody@example.org") is None


class CountingHasher:
    def __init__(self) -> None:
        self.inner = Argon2PasswordHasher(time_cost=1, memory_kib=8, parallelism=1)
        self.verified = 0

    def hash(self, password: str) -> str:
        return self.inner.hash(password)

    def verify(self, password_hash: str, password: str) -> bool:
        self.verified += 1
        return self.inner.verify(password_hash, password)


async def test_unknown_email_costs_a_password_verification_like_a_wrong_password(
    services: Services, world: World, clock: MutableClock
) -> None:
    store = SqlLoginStore(services.engine)
    hasher = CountingHasher()
    grant = PasswordGrant(
        store,
        store,
        store,
        store,
        HmacSecretHasher(TEST_SECRET_KEY.encode()),
        hasher,
        clock,
        LoginPolicy(max_failures=100),
    )

    async def refused(body: dict[str, Any]) -> None:
        with pytest.raises(AccessDeniedError):
            await grant.handle(body["token"])

    # Equal work, not equal luck with timing: each refusal verifies exactly one password hash,
    # for an unknown email against a dummy hash of the same cost.
    await refused(login_body(world, password="wrong-pass"))
    assert hasher.verified == 1
    await refused(login_body(world, email="ghost@example.org"))
    assert hasher.verified == 2
