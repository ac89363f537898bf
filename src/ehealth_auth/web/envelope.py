"""The eHealth response envelope (CONTRACT §1), rendered in exactly one place."""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

import orjson
from starlette.datastructures import URL
from starlette.requests import Request
from starlette.responses import Response

from ehealth_auth.logs import note_error
from ehealth_auth.protocol.errors import ServiceError, ValidationError

_DEFAULT_PORTS = {"http": 80, "https": 443}
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def request_id(request: Request) -> str:
    value: str = request.scope["state"]["request_id"]
    return value


@lru_cache(maxsize=256)
def _origin(scheme: str, host_header: bytes | None, server: tuple[str, int] | None) -> str | None:
    """`scheme://host[:port]` of a request, without the scheme's default port.

    Requests of one deployment share a handful of origins, so Starlette's URL parsing runs once
    per origin rather than once per answer; the cache is bounded (Host is client-controlled).
    """
    headers = [] if host_header is None else [(b"host", host_header)]
    url = URL(
        scope={"type": "http", "scheme": scheme, "server": server, "path": "/", "headers": headers}
    )
    if not url.netloc:
        return None
    port = url.port
    host = url.hostname or ""
    if ":" in host:  # an IPv6 literal
        host = f"[{host}]"
    if port in (None, _DEFAULT_PORTS.get(scheme)):
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


def _url(request: Request) -> str:
    """The request URL without its query string (CONTRACT §1 `meta.url`)."""
    scope = request.scope
    host_header = next((value for name, value in scope["headers"] if name == b"host"), None)
    server = scope.get("server")
    origin = _origin(
        scope.get("scheme", "http"), host_header, None if server is None else tuple(server)
    )
    if origin is None:
        return request.url.path
    # The path as Starlette's URL gives it: these three characters escaped.
    path: str = scope["path"]
    return origin + path.replace("?", "%3F").replace("#", "%23").replace("\\", "%5C")


def _meta(request: Request, status: int, kind: str) -> dict[str, object]:
    return {
        "code": status,
        "url": _url(request),
        "type": kind,
        "request_id": request_id(request),
    }


class EnvelopeResponse(Response):
    """A rendered envelope, its headers already encoded: what Starlette's `Response` would
    build from the same body, status and headers (length and type last), without its
    per-call checks (an envelope always has a body, and its callers set neither header)."""

    media_type = "application/json"

    def __init__(self, body: bytes, status: int, raw_headers: list[tuple[bytes, bytes]]) -> None:
        self.status_code = status
        self.body = body
        self.background = None
        self.raw_headers = raw_headers


def _response(
    request: Request, status: int, body: dict[str, Any], headers: Mapping[str, str] | None
) -> Response:
    content = orjson.dumps(body)
    raw = [
        (name.lower().encode("latin-1"), value.encode("latin-1"))
        for name, value in (headers or {}).items()
    ]
    raw += (
        (b"x-request-id", request_id(request).encode("latin-1")),
        (b"content-length", b"%d" % len(content)),
        (b"content-type", b"application/json"),
    )
    return EnvelopeResponse(content, status, raw)


def render_data(
    request: Request,
    status: int,
    data: Any,
    *,
    kind: str = "object",
    headers: Mapping[str, str] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> Response:
    body = {"meta": _meta(request, status, kind), "data": data, **(extra or {})}
    return _response(request, status, body, headers)


def error_body(error: ServiceError) -> dict[str, Any]:
    body: dict[str, Any] = {"type": error.type, "message": error.message}
    if isinstance(error, ValidationError) and error.invalid:
        body["invalid"] = [
            {
                "entry_type": entry.entry_type,
                "entry": entry.entry,
                "rules": [
                    {
                        "rule": rule.rule,
                        "description": rule.description,
                        "params": list(rule.params),
                    }
                    for rule in entry.rules
                ],
            }
            for entry in error.invalid
        ]
    return body


def render_error(
    request: Request, error: ServiceError, headers: Mapping[str, str] | None = None
) -> Response:
    note_error(error)  # the access line says why the request was refused
    body = {"meta": _meta(request, error.status, "object"), "error": error_body(error)}
    return _response(request, error.status, body, {**error.headers, **(headers or {})})
