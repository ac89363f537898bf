"""Prometheus metrics, and the `Events` the protocol emits turned into counters and security lines.

With several worker processes (`serve --workers N`), prometheus-client's multiprocess mode keeps
each process's values in files of PROMETHEUS_MULTIPROC_DIR (set up by `serve`) and /metrics adds
them up, so every worker counts whichever one answers the scrape. Without that variable, values
live in this process. Every update is an in-memory (or memory-mapped) increment: no I/O.
"""

from __future__ import annotations

import os
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client import multiprocess as prometheus_multiprocess

from ehealth_auth.logs import security_event
from ehealth_auth.protocol.events import SECURITY_EVENTS, Event, TokenEvent

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
# Items of one batched statement: 1 to its most (storage/refresh_store.py, ISSUING_MOST).
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64)
# Routes where a failure is a failed sign-in.
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
LOGIN_ROUTES = frozenset({"/auth/login", "/oauth/authorize/sign-in"})


def multiprocess_mode() -> bool:
    return bool(os.environ.get(MULTIPROC_ENV))


class Metrics:
    """The service's metrics, in a registry of their own (one per app, so tests can build many)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        registry = self.registry
        self.requests = Counter(
            "ehealth_auth_http_requests",
            "HTTP requests answered, by route template, method and status.",
            ("route", "method", "status"),
            registry=registry,
        )
        self.latency = Histogram(
            "ehealth_auth_http_request_duration_seconds",
            "Time to answer an HTTP request, by route template and method.",
            ("route", "method"),
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.token_events = Counter(
            "ehealth_auth_token_events",
            "Token events: issued (by grant), refreshed, rotated, reuse_detected, family_revoked, "
            "code_replayed, revoked_by_operator.",
            ("event", "grant"),
            registry=registry,
        )
        self.login_failures = Counter(
            "ehealth_auth_login_failures",
            "Failed sign-ins (API and pages), by error type.",
            ("reason",),
            registry=registry,
        )
        self.client_auth_failures = Counter(
            "ehealth_auth_client_authentication_failures",
            "Requests refused because the client could not be authenticated or is blocked.",
            ("route",),
            registry=registry,
        )
        self.throttled = Counter(
            "ehealth_auth_throttled_requests",
            "Requests answered 429 too_many_requests, by route template.",
            ("route",),
            registry=registry,
        )
        self.unhandled_errors = Counter(
            "ehealth_auth_unhandled_errors",
            "Requests that failed with an unexpected exception (answered 500).",
            registry=registry,
        )
        self.database_unavailable = Counter(
            "ehealth_auth_database_unavailable",
            "Requests answered 503 because the database could not be reached (either pool).",
            registry=registry,
        )
        self.database_errors = Counter(
            "ehealth_auth_database_errors",
            "Errors raised by the database driver, by pool.",
            ("pool",),
            registry=registry,
        )
        self.refresh_batch_items = Histogram(
            "ehealth_auth_refresh_batch_items",
            "Refreshes carried by one statement of the batched refresh read (PostgreSQL, "
            "rotation off).",
            buckets=BATCH_BUCKETS,
            registry=registry,
        )
        self.pool_in_use = Gauge(
            "ehealth_auth_database_connections_in_use",
            "Database connections checked out, by pool (driver: the hot paths; engine: the rest).",
            ("pool",),
            multiprocess_mode="livesum",
            registry=registry,
        )
        # Route templates, methods and statuses are few: this stays small.
        self._request_children: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    def observe_request(
        self, route: str, method: str, status: int, seconds: float, error_type: str | None
    ) -> None:
        if method not in _METHODS:
            method = "OTHER"  # any token is a method to HTTP: keep the label set bounded
        key = (route, method, status)
        children = self._request_children.get(key)
        if children is None:
            # Label lookups take a lock and build tuples: done once per label set, not per request.
            children = (
                self.requests.labels(route, method, str(status)),
                self.latency.labels(route, method),
            )
            self._request_children[key] = children
        count, latency = children
        count.inc()
        latency.observe(seconds)
        if error_type is None:
            return
        if status == 429:
            self.throttled.labels(route).inc()
        if error_type == "invalid_client" and not route.startswith("/admin/"):
            self.client_auth_failures.labels(route).inc()
        if route in LOGIN_ROUTES:
            self.login_failures.labels(error_type).inc()

    def exposition(self) -> bytes:
        """The Prometheus text format: every worker's values in multiprocess mode."""
        if not multiprocess_mode():
            return generate_latest(self.registry)
        registry = CollectorRegistry()
        prometheus_multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry)

    def process_exited(self) -> None:
        """Drop this process's live gauges from the shared files (a worker that stops)."""
        if multiprocess_mode():
            prometheus_multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]


class ObservedEvents:
    """The protocol's events as counters, and security events as log lines."""

    def __init__(self, metrics: Metrics) -> None:
        self._counter = metrics.token_events
        # (kind, grant) pairs are few: each label lookup (a lock, a tuple) is done once.
        self._children: dict[tuple[TokenEvent, str], Any] = {}

    def emit(self, event: Event) -> None:
        key = (event.kind, event.grant)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = self._counter.labels(event.kind.value, event.grant)
        child.inc()
        if event.kind in SECURITY_EVENTS:
            fields = {
                "grant": event.grant or None,
                "client_id": event.client_id,
                "user_id": event.user_id,
                "family_id": event.family_id,
                "revoked_tokens": event.count,
                "action": event.action or None,
            }
            security_event(
                event.kind.value, **{key: value for key, value in fields.items() if value}
            )
