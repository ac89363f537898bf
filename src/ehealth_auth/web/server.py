"""Serving the app with uvicorn, with the time limits a public service needs (CONTRACT §7).

- Request headers must arrive within `request_header_timeout` seconds of the connection or of
  the request's first byte; otherwise the client gets `408` and the connection is closed.
  uvicorn has no such limit, so its httptools protocol is extended here.
- Bodies have their own deadline in the app (`web/slow_clients.py`).
- SIGTERM stops accepting connections, lets requests in flight finish for at most
  `shutdown_timeout` seconds, then cancels what is left and exits.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import uuid
from typing import Any

import orjson
import uvicorn
from uvicorn.config import STARTUP_FAILURE
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import Server
from uvicorn.supervisors import Multiprocess

from ehealth_auth.protocol.errors import RequestTimeoutError
from ehealth_auth.settings import Settings
from ehealth_auth.web.envelope import error_body

log = logging.getLogger("ehealth_auth.access")


class ServerConfig(uvicorn.Config):
    """uvicorn's configuration plus the header deadline (kept picklable for the workers)."""

    def __init__(self, *args: Any, header_timeout: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.header_timeout = header_timeout


def _timeout_response() -> bytes:
    request_id = uuid.uuid4().hex
    error = RequestTimeoutError("The request headers did not arrive in time.")
    # No request line may have arrived yet, so meta.url is empty.
    body = orjson.dumps(
        {
            "meta": {"code": 408, "url": "", "type": "object", "request_id": request_id},
            "error": error_body(error),
        }
    )
    head = (
        "HTTP/1.1 408 Request Timeout\r\n"
        "content-type: application/json\r\n"
        f"content-length: {len(body)}\r\n"
        f"x-request-id: {request_id}\r\n"
        "connection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


class HeaderDeadlineProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a deadline for the request line and headers."""

    def __init__(self, config: uvicorn.Config, *args: Any, **kwargs: Any) -> None:
        super().__init__(config, *args, **kwargs)
        self._header_timeout: float = getattr(config, "header_timeout", 10.0)
        self._header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._header_timer is None:
            self._arm()

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._header_timer = self.loop.call_later(self._header_timeout, self._headers_late)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_late(self) -> None:
        self._header_timer = None
        if self.transport.is_closing():
            return
        log.info("request headers timed out", extra={"status": 408})
        self.transport.write(_timeout_response())
        self.transport.close()


def run_server(
    settings: Settings, host: str, port: int, workers: int, log_config: dict[str, Any]
) -> None:
    """`uvicorn.run`, with this service's protocol, time limits and JSON log configuration."""
    config = ServerConfig(
        "ehealth_auth.wiring:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        http=HeaderDeadlineProtocol,
        access_log=False,  # ours redacts tokens in paths; uvicorn's would not
        # X-Forwarded-For/-Proto count only from the configured proxies (none by default; then
        # uvicorn's proxy-header layer has nothing to do and is left out).
        proxy_headers=bool(settings.trusted_proxies),
        forwarded_allow_ips=[str(network) for network in settings.trusted_proxies],
        log_config=log_config,
        server_header=False,
        timeout_graceful_shutdown=settings.shutdown_timeout,
        header_timeout=settings.request_header_timeout,
    )
    if workers > 1:
        Multiprocess(config, sockets=[config.bind_socket()]).run()
        return
    server = Server(config=config)
    server.run()
    if not server.started:
        sys.exit(STARTUP_FAILURE)
