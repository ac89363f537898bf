"""Request id (CONTRACT §1), access log without secrets, and the last-resort 500 answer."""

from __future__ import annotations

import logging
import time
import uuid

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ehealth_auth.logs import redact_path, request_id_var
from ehealth_auth.protocol.errors import ServiceError
from ehealth_auth.web.envelope import render_error

access_log = logging.getLogger("ehealth_auth.access")
error_log = logging.getLogger("ehealth_auth.error")


def incoming_request_id(headers: list[tuple[bytes, bytes]]) -> str:
    """The client's X-Request-ID when it is 20-200 printable ASCII characters, else a new id."""
    for name, value in headers:
        if name == b"x-request-id":
            if 20 <= len(value) <= 200 and all(0x20 <= byte <= 0x7E for byte in value):
                return value.decode("ascii")
            break
    return uuid.uuid4().hex


def loggable_path(path: str) -> str:
    return redact_path(path)


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = incoming_request_id(scope["headers"])
        scope.setdefault("state", {})["request_id"] = rid
        token = request_id_var.set(rid)
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
        except Exception:
            # Internals go to the log with the request id, never to the client.
            error_log.exception("unhandled error", extra={"path": loggable_path(scope["path"])})
            status = 500
            if not response_started:
                await render_error(Request(scope), ServiceError())(scope, receive, send)
        finally:
            if access_log.isEnabledFor(logging.INFO):
                access_log.info(
                    "request",
                    extra={
                        "method": scope["method"],
                        "path": loggable_path(scope["path"]),
                        "status": status,
                        "duration_ms": round((time.perf_counter() - started) * 1000, 3),
                    },
                )
            request_id_var.reset(token)
