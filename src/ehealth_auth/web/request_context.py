"""Request id (CONTRACT §1), access log and request metrics without secrets, and the
last-resort answer: 503 when the storage layer says the database cannot be reached
(CONTRACT §7), else 500."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ehealth_auth.logs import (
    access_log,
    error_log,
    redact_path,
    request_id_var,
    request_notes_var,
)
from ehealth_auth.observability import Metrics
from ehealth_auth.protocol.errors import ServiceError
from ehealth_auth.web.envelope import render_error

# Maps an unhandled exception to the answer it deserves (e.g. 503), or None for a 500.
ErrorTranslator = Callable[[Exception], ServiceError | None]

# Set by a handler that answers ahead of the router (web/lanes.py): the route template it served.
ROUTE_KEY = "ehealth_auth.route"
HEALTH_PREFIX = "/health/"
UNMATCHED = "unmatched"


def incoming_request_id(headers: list[tuple[bytes, bytes]]) -> str:
    """The client's X-Request-ID when it is 20-200 printable ASCII characters, else a new id."""
    for name, value in headers:
        if name == b"x-request-id":
            if 20 <= len(value) <= 200 and all(0x20 <= byte <= 0x7E for byte in value):
                return value.decode("ascii")
            break
    # An id needs to be unique, not unpredictable: no system call for it on every request
    # (`random` is reseeded in each worker process).
    return f"{random.getrandbits(128):032x}"


def route_template(scope: Scope) -> str:
    """The route's template (`/admin/clients/{client_id}`), never the raw path: metric labels
    stay few and carry no token."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    if isinstance(path, str):
        return path
    served = scope.get(ROUTE_KEY)
    return served if isinstance(served, str) else UNMATCHED


class RequestContextMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        metrics: Metrics | None = None,
        log_health: bool = False,
        translate_error: ErrorTranslator | None = None,
    ) -> None:
        self.app = app
        self._metrics = metrics
        self._log_health = log_health
        self.translate_error = translate_error

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = incoming_request_id(scope["headers"])
        scope.setdefault("state", {})["request_id"] = rid
        token = request_id_var.set(rid)
        notes: dict[str, Any] = {}
        notes_token = request_notes_var.set(notes)
        started = time.perf_counter()
        status = 500
        response_started = False

        async def send_wrapper(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                status = message["status"]
                response_started = True
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        except Exception as exc:
            answer = self.translate_error(exc) if self.translate_error is not None else None
            if answer is None:
                # Internals go to the log with the request id, never to the client.
                error_log.exception("unhandled error", extra={"path": redact_path(scope["path"])})
                answer = ServiceError()
                if self._metrics is not None:
                    self._metrics.unhandled_errors.inc()
            status = answer.status
            if not response_started:
                await render_error(Request(scope), answer)(scope, receive, send)
        finally:
            self._finish(scope, status, time.perf_counter() - started, notes)
            request_notes_var.reset(notes_token)
            request_id_var.reset(token)

    def _finish(self, scope: Scope, status: int, seconds: float, notes: dict[str, Any]) -> None:
        route = route_template(scope)
        error = notes.get("error")
        if self._metrics is not None:
            error_type = error.get("type") if isinstance(error, dict) else None
            self._metrics.observe_request(route, scope["method"], status, seconds, error_type)
        if scope["path"].startswith(HEALTH_PREFIX) and not self._log_health:
            return
        if access_log.isEnabledFor(logging.INFO):
            access_log.info(
                "request",
                extra={
                    "method": scope["method"],
                    "path": redact_path(scope["path"]),
                    "route": route,
                    "status": status,
                    "duration_ms": round(seconds * 1000, 3),
                    **notes,
                },
            )
