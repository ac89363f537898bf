"""Request id (CONTRACT §1), access log without secrets, and the last-resort answer: 503 when
the storage layer says the database cannot be reached (CONTRACT §7), else 500."""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ehealth_auth.logs import request_id_var
from ehealth_auth.protocol.errors import ServiceError
from ehealth_auth.web.envelope import render_error

access_log = logging.getLogger("ehealth_auth.access")
error_log = logging.getLogger("ehealth_auth.error")

# Paths that carry a token: the gateway's verify call. Only the redacted form is ever logged.
# Maps an unhandled exception to the answer it deserves (e.g. 503), or None for a 500.
ErrorTranslator = Callable[[Exception], ServiceError | None]

_TOKEN_IN_PATH = re.compile(r"^(/admin/tokens/)[^/]+(/verify)$")


def incoming_request_id(headers: list[tuple[bytes, bytes]]) -> str:
    """The client's X-Request-ID when it is 20-200 printable ASCII characters, else a new id."""
    for name, value in headers:
        if name == b"x-request-id":
            if 20 <= len(value) <= 200 and all(0x20 <= byte <= 0x7E for byte in value):
                return value.decode("ascii")
            break
    return uuid.uuid4().hex


def loggable_path(path: str) -> str:
    if not path.startswith("/admin/tokens/"):
        return path
    return _TOKEN_IN_PATH.sub(r"\1[REDACTED]\2", path)


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp, translate_error: ErrorTranslator | None = None) -> None:
        self.app = app
        self.translate_error = translate_error

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
        except Exception as exc:
            answer = self.translate_error(exc) if self.translate_error is not None else None
            if answer is None:
                # Internals go to the log with the request id, never to the client.
                error_log.exception("unhandled error", extra={"path": loggable_path(scope["path"])})
                answer = ServiceError()
            status = answer.status
            if not response_started:
                await render_error(Request(scope), answer)(scope, receive, send)
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
