"""The equal work the password grant does, on a real database, for unknown and known emails."""

from __future__ import annotations

from typing import Any

import pytest

from ehealth_auth.crypto import Argon2PasswordHasher, HmacSecretHasher
from ehealth_auth.protocol.errors import AccessDeniedError
from ehealth_auth.protocol.grants.password import PasswordGrant
from ehealth_auth.protocol.policy import LoginPolicy, ThrottleLimits
from ehealth_auth.protocol.throttle import LOGIN_MESSAGE, FailureThrottle, ThrottleView
from ehealth_auth.storage.login_store import SqlLoginStore
from ehealth_auth.storage.throttle_store import SqlFailureCounters
from ehealth_auth.wiring import Services
from tests.fakes import FakeClock
from tests.flow_support import login_body
from tests.support import TEST_SECRET_KEY, World


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
    services: Services, world: World, clock: FakeClock
) -> None:
    store = SqlLoginStore(services.engine)
    hasher = CountingHasher()
    keyed = HmacSecretHasher(TEST_SECRET_KEY.encode())
    view = ThrottleView(SqlFailureCounters(services.engine), clock, 1_000, 100, 900)
    limits = ThrottleLimits(source=100, pair=100, target=100)
    grant = PasswordGrant(
        store,
        store,
        store,
        store,
        FailureThrottle("login", limits, view, keyed, clock, LOGIN_MESSAGE),
        keyed,
        hasher,
        services.password_work,
        clock,
        LoginPolicy(),
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
