"""The one place that composes settings, storage and protocol into a running service."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette

from ehealth_auth.crypto import (
    AesGcmSuccessorCipher,
    Argon2PasswordHasher,
    BoundedPasswordWork,
    HmacSecretHasher,
    SystemClock,
)
from ehealth_auth.logs import configure_logging
from ehealth_auth.protocol.admin import AdminService
from ehealth_auth.protocol.approvals import Approver
from ehealth_auth.protocol.authorize import AppAuthorizer
from ehealth_auth.protocol.grants.authorization_code import AuthorizationCodeGrant
from ehealth_auth.protocol.grants.password import LoginPolicy, PasswordGrant
from ehealth_auth.protocol.grants.refresh_token import RefreshTokenGrant
from ehealth_auth.protocol.model import TokenPolicy
from ehealth_auth.protocol.ports import Clock
from ehealth_auth.protocol.purge import TokenPurger
from ehealth_auth.protocol.throttle import (
    CLIENT_MESSAGE,
    LOGIN_MESSAGE,
    ClientAuthThrottle,
    FailureThrottle,
    ThrottleLimits,
    ThrottleView,
)
from ehealth_auth.protocol.token_endpoint import TokenEndpoint
from ehealth_auth.protocol.verify import TokenVerifier
from ehealth_auth.settings import Settings
from ehealth_auth.storage.admin_store import SqlAdminStore
from ehealth_auth.storage.code_store import SqlCodeStore
from ehealth_auth.storage.driver import Driver, create_driver
from ehealth_auth.storage.engine import create_engine
from ehealth_auth.storage.login_store import SqlLoginStore
from ehealth_auth.storage.purge_store import SqlPurgeStore
from ehealth_auth.storage.throttle_store import SqlFailureCounters
from ehealth_auth.storage.token_store import SqlRefreshGrantStore
from ehealth_auth.storage.verify_store import SqlVerifyStore
from ehealth_auth.web.app import create_app
from ehealth_auth.web.client_address import SourceAddress
from ehealth_auth.web.flow_routes import AuthorizationFlow

# Per worker process: the hot paths (refresh, verify) run on the driver pool; operator actions
# and purges on the engine's.
DRIVER_POOL_SIZE = 10
ENGINE_POOL_SIZE = 5


def token_policy(settings: Settings) -> TokenPolicy:
    return TokenPolicy(
        access_ttl=settings.access_token_ttl,
        refresh_ttl=settings.refresh_token_ttl,
        code_ttl=settings.code_ttl,
        rotation=settings.refresh_rotation == "on",
        reuse_grace=settings.refresh_reuse_grace,
        race_window_ms=settings.refresh_race_window_ms,
        revokes_previous_access=settings.refresh_revokes_previous_access == "on",
    )


def login_policy(settings: Settings) -> LoginPolicy:
    return LoginPolicy(token_ttl=settings.login_token_ttl)


def client_limits(settings: Settings) -> ThrottleLimits:
    return ThrottleLimits(
        window=settings.throttle_window,
        source=settings.throttle_source_max_failures,
        pair=settings.client_max_failures,
        target=settings.client_target_max_failures,
    )


def login_limits(settings: Settings) -> ThrottleLimits:
    return ThrottleLimits(
        window=settings.throttle_window,
        source=settings.throttle_source_max_failures,
        pair=settings.login_max_failures,
        target=settings.login_account_max_failures,
    )


@dataclass(frozen=True)
class Services:
    engine: AsyncEngine
    driver: Driver
    token_endpoint: TokenEndpoint
    admin: AdminService
    purger: TokenPurger
    verifier: TokenVerifier
    login: PasswordGrant
    authorizer: AppAuthorizer
    client_auth: ClientAuthThrottle
    password_work: BoundedPasswordWork
    server_key: bytes

    async def close(self) -> None:
        self.password_work.close()
        await self.driver.close()
        await self.engine.dispose()


def build_services(settings: Settings, clock: Clock | None = None) -> Services:
    engine = create_engine(settings.database_url, pool_size=ENGINE_POOL_SIZE)
    driver = create_driver(settings.database_url, pool_size=DRIVER_POOL_SIZE)
    server_key = settings.server_key()
    hasher = HmacSecretHasher(server_key)
    clock = clock or SystemClock()
    policy = token_policy(settings)
    refresh = RefreshTokenGrant(
        SqlRefreshGrantStore(driver), hasher, clock, policy, AesGcmSuccessorCipher(server_key)
    )
    code = AuthorizationCodeGrant(SqlCodeStore(driver), hasher, clock, policy)
    passwords = Argon2PasswordHasher(
        settings.password_hash_time_cost,
        settings.password_hash_memory_kib,
        settings.password_hash_parallelism,
    )
    work = BoundedPasswordWork(
        settings.password_hash_concurrency,
        settings.password_hash_queue,
        settings.password_hash_nice,
    )
    admin_store = SqlAdminStore(engine)
    admin = AdminService(admin_store, hasher, passwords, clock, policy, work)
    purger = TokenPurger(SqlPurgeStore(engine), clock, policy.reuse_grace)
    verifier = TokenVerifier(SqlVerifyStore(driver), hasher, clock)
    clients, logins = client_limits(settings), login_limits(settings)
    view = ThrottleView(
        SqlFailureCounters(engine),
        clock,
        sync_ms=settings.throttle_sync_ms,
        floor=min(clients.pair, clients.target, logins.pair, logins.target, clients.source),
        purge_every=settings.throttle_window,
    )
    client_auth = ClientAuthThrottle(
        FailureThrottle("client", clients, view, hasher, clock, CLIENT_MESSAGE), hasher
    )
    login_throttle = FailureThrottle("login", logins, view, hasher, clock, LOGIN_MESSAGE)
    directory = SqlLoginStore(engine)
    login = PasswordGrant(
        directory,
        directory,
        directory,
        directory,
        login_throttle,
        hasher,
        passwords,
        work,
        clock,
        login_policy(settings),
    )
    authorizer = AppAuthorizer(
        directory, directory, directory, Approver(admin_store, clock), hasher, clock, policy
    )
    return Services(
        engine=engine,
        driver=driver,
        # `password` is not a grant of /oauth/tokens: a login token comes from /auth/login only.
        token_endpoint=TokenEndpoint([refresh, code]),
        admin=admin,
        purger=purger,
        verifier=verifier,
        login=login,
        authorizer=authorizer,
        client_auth=client_auth,
        password_work=work,
        server_key=server_key,
    )


def build_app(settings: Settings, services: Services | None = None) -> Starlette:
    """The app over `services` (built from `settings` when not given); it disposes the engine."""
    ready = services or build_services(settings)

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        yield
        await ready.close()

    sources = SourceAddress(settings.trusted_proxies)
    flow = AuthorizationFlow(
        login=ready.login,
        authorizer=ready.authorizer,
        cookie_key=ready.server_key,
        session_ttl=settings.login_token_ttl,
        sources=sources,
        cookie_secure=settings.cookie_secure,
    )
    return create_app(
        ready.token_endpoint,
        admin=ready.admin,
        verifier=ready.verifier,
        admin_keys=[key.get_secret_value() for key in settings.admin_keys],
        gateway_keys=[key.get_secret_value() for key in settings.gateway_keys],
        max_body_bytes=settings.max_body_bytes,
        lifespan=lifespan,
        flow=flow,
        client_auth=ready.client_auth,
        sources=sources,
    )


def app_from_env() -> Starlette:
    """Factory for the ASGI server: settings from the environment, checked before serving."""
    settings = Settings()
    configure_logging(settings.log_level)
    settings.ensure_servable()
    return build_app(settings)
