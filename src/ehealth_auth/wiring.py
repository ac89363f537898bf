"""The one place that composes settings, storage and protocol into a running service."""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette

from ehealth_auth.clock import SystemClock
from ehealth_auth.crypto import (
    AesGcmSuccessorCipher,
    Argon2PasswordHasher,
    BoundedPasswordWork,
    HmacSecretHasher,
)
from ehealth_auth.logs import configure_logging
from ehealth_auth.observability import Metrics, ObservedEvents
from ehealth_auth.protocol.admin import AdminService
from ehealth_auth.protocol.approvals import Approver
from ehealth_auth.protocol.authorize import AppAuthorizer
from ehealth_auth.protocol.grants.authorization_code import AuthorizationCodeGrant
from ehealth_auth.protocol.grants.password import PasswordGrant
from ehealth_auth.protocol.grants.refresh_token import RefreshTokenGrant
from ehealth_auth.protocol.oauth.client_auth import ClientAuthenticator
from ehealth_auth.protocol.oauth.introspection import TokenIntrospector
from ehealth_auth.protocol.oauth.revocation import TokenRevoker
from ehealth_auth.protocol.policy import LoginPolicy, ThrottleLimits, TokenPolicy
from ehealth_auth.protocol.ports import Clock
from ehealth_auth.protocol.purge import TokenPurger
from ehealth_auth.protocol.throttle import (
    CLIENT_MESSAGE,
    LOGIN_MESSAGE,
    ClientAuthThrottle,
    FailureThrottle,
    ThrottleView,
)
from ehealth_auth.protocol.token_endpoint import TokenEndpoint
from ehealth_auth.protocol.verify import TokenVerifier
from ehealth_auth.settings import Settings
from ehealth_auth.storage.admin_listings import SqlAdminQueries
from ehealth_auth.storage.admin_store import SqlAdminStore
from ehealth_auth.storage.code_store import SqlCodeStore
from ehealth_auth.storage.driver import Driver, create_driver
from ehealth_auth.storage.engine import async_url, create_engine, is_sqlite
from ehealth_auth.storage.login_store import SqlLoginStore
from ehealth_auth.storage.migrate import current_revision, head_revision
from ehealth_auth.storage.oauth_store import SqlClientSecretStore, SqlRevocationStore
from ehealth_auth.storage.outage import OutageMonitor
from ehealth_auth.storage.purge_store import SqlPurgeStore
from ehealth_auth.storage.refresh_store import SqlRefreshStore
from ehealth_auth.storage.throttle_store import SqlFailureCounters
from ehealth_auth.storage.verify_cache import VerifyResultCache
from ehealth_auth.storage.verify_listener import MAX_LAG, VerifyInvalidationListener
from ehealth_auth.storage.verify_store import SqlVerifyStore
from ehealth_auth.web.app import create_app
from ehealth_auth.web.client_address import SourceAddress
from ehealth_auth.web.client_auth import ClientAuthentication
from ehealth_auth.web.flow_routes import AuthorizationFlow
from ehealth_auth.web.oauth_routes import StandardOAuth

# Per worker process: the hot paths (refresh, verify) run on the driver pool; operator actions
# and purges on the engine's.
DRIVER_POOL_SIZE = 10
ENGINE_POOL_SIZE = 5
READINESS_TIMEOUT_SECONDS = 3.0
POOL_SAMPLE_SECONDS = 5.0


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
    login_endpoint: TokenEndpoint
    admin: AdminService
    purger: TokenPurger
    verifier: TokenVerifier
    login: PasswordGrant
    authorizer: AppAuthorizer
    oauth: StandardOAuth
    clients: ClientAuthentication
    password_work: BoundedPasswordWork
    sources: SourceAddress
    server_key: bytes
    metrics: Metrics
    outage: OutageMonitor
    verify_cache: VerifyResultCache | None = None
    verify_listener: VerifyInvalidationListener | None = None

    def start(self) -> None:
        """Start the background work of a serving process (inside its event loop)."""
        if self.verify_listener is not None:
            self.verify_listener.start()

    async def close(self) -> None:
        if self.verify_listener is not None:
            await self.verify_listener.stop()
        self.password_work.close()
        await self.driver.close()
        await self.engine.dispose()

    async def readiness(self) -> str | None:
        """None when the database answers and its schema is at this code's revision."""
        try:
            async with asyncio.timeout(READINESS_TIMEOUT_SECONDS):
                revision = await current_revision(self.engine)
        except Exception:
            # A timeout, a refused connection, failed authentication, a missing database: a
            # probe needs no more; the details are in the database's own log.
            return "The database cannot be reached."
        if revision != head_revision():
            return "The database schema is not at this version's revision: run migrate."
        return None

    def sample_pools(self) -> None:
        self.metrics.pool_in_use.labels("driver").set(self.driver.in_use())
        checked_out: Any = getattr(self.engine.pool, "checkedout", None)
        if callable(checked_out):
            self.metrics.pool_in_use.labels("engine").set(checked_out())


def build_services(settings: Settings, clock: Clock | None = None) -> Services:
    metrics = Metrics()
    outage = OutageMonitor(on_failure=metrics.database_unavailable.inc)
    engine = create_engine(
        settings.database_url, pool_size=ENGINE_POOL_SIZE, on_connect=outage.recovered
    )
    driver = create_driver(settings.database_url, pool_size=DRIVER_POOL_SIZE, outage=outage)
    server_key = settings.server_key()
    hasher = HmacSecretHasher(server_key)
    clock = clock or SystemClock()
    policy = token_policy(settings)
    events = ObservedEvents(metrics)
    event.listen(
        engine.sync_engine,
        "handle_error",
        lambda _context: metrics.database_errors.labels("engine").inc(),
    )
    refresh = RefreshTokenGrant(
        SqlRefreshStore(
            driver,
            batch_slots=settings.refresh_batch_slots,
            on_batch=metrics.refresh_batch_items.observe,
        ),
        hasher,
        clock,
        policy,
        AesGcmSuccessorCipher(server_key),
        events,
    )
    code = AuthorizationCodeGrant(SqlCodeStore(driver), hasher, clock, policy, events)
    passwords = Argon2PasswordHasher(
        settings.password_hash_time_cost,
        settings.password_hash_memory_kib,
        settings.password_hash_parallelism,
    )
    work = BoundedPasswordWork(
        settings.password_hash_concurrency,
        settings.password_hash_queue,
        settings.password_hash_nice,
        settings.password_hash_rate,
        settings.password_hash_max_wait,
    )
    admin_queries, admin_commands = SqlAdminQueries(engine), SqlAdminStore(engine)
    approver = Approver(admin_queries, admin_commands, clock)
    admin = AdminService(
        admin_queries, admin_commands, approver, hasher, passwords, clock, policy, work, events
    )
    purger = TokenPurger(SqlPurgeStore(engine), clock, policy.reuse_grace)
    verify_cache, verify_listener = _verify_cache(settings)
    verifier = TokenVerifier(SqlVerifyStore(driver), hasher, clock, verify_cache)
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
    sources = SourceAddress(settings.trusted_proxies)
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
        events,
    )
    authorizer = AppAuthorizer(directory, directory, directory, approver, hasher, clock, policy)
    client_authentication = ClientAuthentication(
        ClientAuthenticator(SqlClientSecretStore(driver), hasher), client_auth, sources
    )
    oauth = StandardOAuth(
        revoker=TokenRevoker(SqlRevocationStore(driver), hasher, clock),
        introspector=TokenIntrospector(verifier),
        clock=clock,
    )
    return Services(
        engine=engine,
        driver=driver,
        # `password` is not a grant of /oauth/tokens: a login token comes from /auth/login only.
        token_endpoint=TokenEndpoint([refresh, code]),
        # `/auth/login` is a token endpoint that allows exactly one grant, `password`: its checks
        # of grant_type are those of `/oauth/tokens`.
        login_endpoint=TokenEndpoint([login]),
        admin=admin,
        purger=purger,
        verifier=verifier,
        login=login,
        authorizer=authorizer,
        oauth=oauth,
        clients=client_authentication,
        password_work=work,
        sources=sources,
        server_key=server_key,
        verify_cache=verify_cache,
        verify_listener=verify_listener,
        metrics=metrics,
        outage=outage,
    )


def _verify_cache(
    settings: Settings,
) -> tuple[VerifyResultCache | None, VerifyInvalidationListener | None]:
    """The verify cache and its invalidation feed; none on SQLite (no LISTEN) or when off."""
    url = async_url(settings.database_url)
    if settings.verify_cache == "off" or is_sqlite(url):
        return None, None
    cache = VerifyResultCache(settings.verify_cache_max_entries, settings.verify_cache_ttl, MAX_LAG)
    dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
    return cache, VerifyInvalidationListener(dsn, cache)


# The collector's thresholds while serving (Python's defaults: 700, 10, 10).
SERVING_GC_THRESHOLDS = (20_000, 20, 20)


def freeze_startup_objects() -> None:
    """Keep what the process built before serving (modules, the app, its statements: hundreds
    of thousands of objects) out of the garbage collector's full passes, which otherwise scan
    them all every so often while requests wait (the refresh benchmark's p99 fell from about
    67 to 25 ms). Objects made later are collected as usual, in larger batches: a request's
    objects are short-lived, so most are gone before the youngest generation is scanned (the
    refresh benchmark's CPU per request fell by about a tenth)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*SERVING_GC_THRESHOLDS)


def build_app(settings: Settings, services: Services | None = None) -> Starlette:
    """The app over `services` (built from `settings` when not given); it disposes the engine."""
    ready = services or build_services(settings)

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        freeze_startup_objects()
        ready.start()
        sampler = asyncio.create_task(_sample_pools(ready))
        try:
            yield
        finally:
            sampler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sampler
            ready.metrics.process_exited()
            await ready.close()

    flow = AuthorizationFlow(
        login=ready.login,
        login_endpoint=ready.login_endpoint,
        authorizer=ready.authorizer,
        cookie_key=ready.server_key,
        session_ttl=settings.login_token_ttl,
        sources=ready.sources,
        cookie_secure=settings.cookie_secure,
    )
    return create_app(
        ready.token_endpoint,
        admin=ready.admin,
        verifier=ready.verifier,
        admin_keys=[key.get_secret_value() for key in settings.admin_keys],
        gateway_keys=[key.get_secret_value() for key in settings.gateway_keys],
        max_body_bytes=settings.max_body_bytes,
        body_timeout=settings.request_body_timeout,
        lifespan=lifespan,
        flow=flow,
        oauth=ready.oauth,
        issuer=settings.issuer,
        readiness=ready.readiness,
        metrics=ready.metrics,
        metrics_keys=[key.get_secret_value() for key in settings.metrics_keys],
        log_health_requests=settings.log_health_requests,
        translate_error=ready.outage.translate,
        clients=ready.clients,
        sources=ready.sources,
    )


async def _sample_pools(services: Services) -> None:
    """Connections in use, sampled off the request path (a gauge per worker, summed)."""
    while True:
        services.sample_pools()
        await asyncio.sleep(POOL_SAMPLE_SECONDS)


def app_from_env() -> Starlette:
    """Factory for the ASGI server: settings from the environment, checked before serving."""
    settings = Settings()
    configure_logging(settings.log_level)
    settings.ensure_servable()
    return build_app(settings)
