"""Unit-tier fixtures: the protocol wired to in-memory fakes, no I/O.

`clock` and `world` deliberately shadow the database-backed fixtures of tests/conftest.py.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from ehealth_auth.protocol.admin import AdminService
from ehealth_auth.protocol.approvals import Approver
from ehealth_auth.protocol.grants.refresh_token import RefreshTokenGrant
from ehealth_auth.protocol.policy import LoginPolicy, ThrottleLimits, TokenPolicy
from ehealth_auth.protocol.throttle import (
    CLIENT_MESSAGE,
    LOGIN_MESSAGE,
    ClientAuthThrottle,
    FailureThrottle,
    ThrottleView,
)
from tests.fakes import (
    FakeAdminStore,
    FakeClock,
    FakeCodeStore,
    FakeDatabase,
    FakeFailureCounters,
    FakeLoginStore,
    FakePasswordHasher,
    FakeRefreshGrantStore,
    FakeSuccessorCipher,
    InlinePasswordWork,
    Sha256SecretHasher,
)
from tests.unit.builders import World, seed_world

# Lifetimes unlike the defaults, so a test can tell which one a token got.
POLICY = TokenPolicy(access_ttl=600, refresh_ttl=7_200, code_ttl=60)
# Likewise unlike the defaults (3600 s; 900 s windows, 50/5/100 failures).
LOGIN_POLICY = LoginPolicy(token_ttl=1_800)
LOGIN_LIMITS = ThrottleLimits(window=600, source=8, pair=3, target=6)
CLIENT_LIMITS = ThrottleLimits(window=600, source=8, pair=3, target=6)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def db() -> FakeDatabase:
    return FakeDatabase()


@pytest.fixture
def hasher() -> Sha256SecretHasher:
    return Sha256SecretHasher()


@pytest.fixture
def passwords() -> FakePasswordHasher:
    return FakePasswordHasher()


@pytest.fixture
def refresh_store(db: FakeDatabase) -> FakeRefreshGrantStore:
    return FakeRefreshGrantStore(db)


@pytest.fixture
def admin_store(db: FakeDatabase) -> FakeAdminStore:
    return FakeAdminStore(db)


@pytest.fixture
def login_store(db: FakeDatabase) -> FakeLoginStore:
    return FakeLoginStore(db)


@pytest.fixture
def code_store(db: FakeDatabase) -> FakeCodeStore:
    return FakeCodeStore(db)


@pytest.fixture
def work() -> InlinePasswordWork:
    return InlinePasswordWork()


@pytest.fixture
def throttle_view(db: FakeDatabase, clock: FakeClock) -> ThrottleView:
    return ThrottleView(FakeFailureCounters(db), clock, sync_ms=1_000, floor=3, purge_every=600)


@pytest.fixture
def login_throttle(
    throttle_view: ThrottleView, hasher: Sha256SecretHasher, clock: FakeClock
) -> FailureThrottle:
    return FailureThrottle("login", LOGIN_LIMITS, throttle_view, hasher, clock, LOGIN_MESSAGE)


@pytest.fixture
def client_auth(
    throttle_view: ThrottleView, hasher: Sha256SecretHasher, clock: FakeClock
) -> ClientAuthThrottle:
    throttle = FailureThrottle(
        "client", CLIENT_LIMITS, throttle_view, hasher, clock, CLIENT_MESSAGE
    )
    return ClientAuthThrottle(throttle, hasher)


@pytest.fixture
def cipher() -> FakeSuccessorCipher:
    return FakeSuccessorCipher()


GrantFactory = Callable[[TokenPolicy], RefreshTokenGrant]


@pytest.fixture
def make_grant(
    refresh_store: FakeRefreshGrantStore,
    hasher: Sha256SecretHasher,
    clock: FakeClock,
    cipher: FakeSuccessorCipher,
) -> GrantFactory:
    """Grants under other refresh policies, sharing one store, hasher, clock and cipher."""

    def build(policy: TokenPolicy) -> RefreshTokenGrant:
        return RefreshTokenGrant(refresh_store, hasher, clock, policy, cipher)

    return build


@pytest.fixture
def grant(make_grant: GrantFactory) -> RefreshTokenGrant:
    """The default policy: rotation off, as deployed for existing MIS."""
    return make_grant(POLICY)


@pytest.fixture
def admin(
    admin_store: FakeAdminStore,
    hasher: Sha256SecretHasher,
    passwords: FakePasswordHasher,
    clock: FakeClock,
    work: InlinePasswordWork,
) -> AdminService:
    approver = Approver(admin_store, admin_store, clock)
    return AdminService(admin_store, admin_store, approver, hasher, passwords, clock, POLICY, work)


@pytest.fixture
def world(db: FakeDatabase, clock: FakeClock) -> World:
    return seed_world(db, clock.now())
