"""Probes and metrics for operators: `/health/live`, `/health/ready`, `/metrics`.

The probes are unauthenticated and cheap (ready: one small read, bounded in time) and are left
out of the access log unless EHEALTH_AUTH_LOG_HEALTH_REQUESTS is on. /metrics takes an admin or
metrics key like any admin route.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response

from ehealth_auth.observability import Metrics
from ehealth_auth.protocol.errors import ServiceUnavailableError
from ehealth_auth.web import schemas as s
from ehealth_auth.web.envelope import NO_STORE, render_data, render_error
from ehealth_auth.web.operations import Operation

# None when the service can serve, else what stops it (said without any detail of the database).
Readiness = Callable[[], Awaitable[str | None]]
PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8"
READY_RETRY_AFTER = 5

_STATUS = s.obj({"status": s.STRING}, title="HealthStatus")


class HealthRoutes:
    def __init__(self, readiness: Readiness, metrics: Metrics) -> None:
        self._readiness = readiness
        self._metrics = metrics

    async def live(self, request: Request) -> Response:
        return render_data(request, 200, {"status": "live"}, headers=NO_STORE)

    async def ready(self, request: Request) -> Response:
        problem = await self._readiness()
        if problem is not None:
            return render_error(
                request, ServiceUnavailableError(READY_RETRY_AFTER, problem), NO_STORE
            )
        return render_data(request, 200, {"status": "ready"}, headers=NO_STORE)

    async def metrics(self, _request: Request) -> Response:
        return Response(self._metrics.exposition(), media_type=PROMETHEUS_TEXT, headers=NO_STORE)

    def operations(self) -> list[Operation]:
        return [
            Operation(
                "GET",
                "/health/live",
                self.live,
                "getLiveness",
                "Liveness: the process answers",
                "operations",
                200,
                s.envelope(_STATUS),
                admin=False,
            ),
            Operation(
                "GET",
                "/health/ready",
                self.ready,
                "getReadiness",
                "Readiness: the database answers and its schema is at this version's revision",
                "operations",
                200,
                s.envelope(_STATUS),
                (503,),
                admin=False,
                description="503 service_unavailable (with Retry-After) while the database "
                "cannot be reached within a few seconds or its schema is not at the revision "
                "this version needs (run `ehealth-auth migrate`).",
            ),
            Operation(
                "GET",
                "/metrics",
                self.metrics,
                "getMetrics",
                "Prometheus metrics of every worker process",
                "operations",
                200,
                {"type": "string", "description": "Prometheus text exposition format 0.0.4."},
                keys="metrics",
                media_type="text/plain",
                description="Takes an admin key or a key of EHEALTH_AUTH_METRICS_KEYS.",
            ),
        ]
