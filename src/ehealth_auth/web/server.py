"""Serving the app with uvicorn, with the time limits a public service needs (CONTRACT §7).

- Request headers must arrive within `request_header_timeout` seconds of the connection or of
  the request's first byte; otherwise the client gets `408` and the connection is closed.
  uvicorn has no such limit, so its httptools protocol is extended here.
- Bodies have their own deadline in the app (`web/slow_clients.py`).
- A response's head and body go out in one write (`OneWritePerTurn`): uvicorn writes them
  separately, which costs a second system call and a second TCP segment per answer.
- SIGTERM stops accepting connections, lets requests in flight finish for at most
  `shutdown_timeout` seconds, then cancels what is left and exits.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import uuid
from collections.abc import Iterable
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


class OneWritePerTurn(asyncio.Transport):
    """A transport that gathers the writes of one turn of the event loop into one.

    uvicorn writes a response's status line and headers, then its body, each straight to the
    socket. Here the first write of a turn schedules a flush at the end of the turn and later
    writes join it; closing (or ending the write side) flushes first, so nothing written is
    lost and the order of bytes is kept. Everything else is the socket transport's.
    """

    __slots__ = ("_loop", "_pending", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__()
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes | bytearray | memoryview] | None = None

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self._pending is None:
            self._pending = [data]
            self._loop.call_soon(self.flush)
        else:
            self._pending.append(data)

    def writelines(self, list_of_data: Iterable[bytes | bytearray | memoryview]) -> None:
        for data in list_of_data:
            self.write(data)

    def flush(self) -> None:
        pending = self._pending
        if pending is None:
            return
        self._pending = None
        if self._transport.is_closing():  # aborted meanwhile: the peer is gone
            return
        self._transport.write(pending[0] if len(pending) == 1 else b"".join(pending))

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def write_eof(self) -> None:
        self.flush()
        self._transport.write_eof()

    def abort(self) -> None:
        self._pending = None
        self._transport.abort()

    def can_write_eof(self) -> bool:
        return self._transport.can_write_eof()

    def is_closing(self) -> bool:
        return self._transport.is_closing()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self._transport.get_extra_info(name, default)

    def pause_reading(self) -> None:
        self._transport.pause_reading()

    def resume_reading(self) -> None:
        self._transport.resume_reading()

    def is_reading(self) -> bool:
        return self._transport.is_reading()

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self._transport.set_protocol(protocol)

    def get_protocol(self) -> asyncio.BaseProtocol:
        return self._transport.get_protocol()

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        self._transport.set_write_buffer_limits(high, low)

    def get_write_buffer_size(self) -> int:
        pending = sum(len(data) for data in self._pending) if self._pending else 0
        return self._transport.get_write_buffer_size() + pending

    def get_write_buffer_limits(self) -> tuple[int, int]:
        return self._transport.get_write_buffer_limits()


class HeaderDeadlineProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a deadline for the request line and headers, writing
    through `OneWritePerTurn`."""

    def __init__(self, config: uvicorn.Config, *args: Any, **kwargs: Any) -> None:
        super().__init__(config, *args, **kwargs)
        self._header_timeout: float = getattr(config, "header_timeout", 10.0)
        self._header_timer: asyncio.TimerHandle | None = None
        # When the headers now awaited began (the connection or the request's first byte);
        # None while none are awaited.
        self._headers_since: float | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(OneWritePerTurn(transport, self.loop))
        self._await_headers()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._headers_since is None:
            self._await_headers()

    def on_headers_complete(self) -> None:
        self._headers_since = None
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._headers_since = None
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None
        super().connection_lost(exc)

    def _await_headers(self) -> None:
        # One timer per connection, not one per request: it stays armed across requests and,
        # when it fires, checks the headers awaited then (re-arming for their own deadline).
        self._headers_since = now = self.loop.time()
        if self._header_timer is None:
            self._header_timer = self.loop.call_at(now + self._header_timeout, self._check_headers)

    def _check_headers(self) -> None:
        self._header_timer = None
        since = self._headers_since
        if since is None or self.transport.is_closing():
            return
        deadline = since + self._header_timeout
        if self.loop.time() < deadline:
            self._header_timer = self.loop.call_at(deadline, self._check_headers)
            return
        self._headers_since = None
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
