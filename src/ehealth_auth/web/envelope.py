"""The eHealth response envelope (CONTRACT §1), rendered in exactly one place."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from ehealth_auth.protocol.errors import ServiceError, ValidationError

_DEFAULT_PORTS = {"http": 80, "https": 443}
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def request_id(request: Request) -> str:
    value: str = request.scope["state"]["request_id"]
    return value


def _origin(request: Request) -> str:
    """scheme://host[:port] of the request, the port left out when it is the scheme's default."""
    url = request.url
    scheme, port, host = url.scheme, url.port, url.hostname or ""
    if ":" in host:  # an IPv6 literal
        host = f"[{host}]"
    default = port in (None, _DEFAULT_PORTS.get(scheme))
    return f"{scheme}://{host}" if default else f"{scheme}://{host}:{port}"


def _meta(request: Request, status: int, kind: str) -> dict[str, object]:
    return {
        "code": status,
        "url": _origin(request) + request.scope["path"],
        "type": kind,
        "request_id": request_id(request),
    }


def _response(
    request: Request, status: int, body: dict[str, Any], headers: Mapping[str, str] | None
) -> Response:
    all_headers = {**(headers or {}), "X-Request-ID": request_id(request)}
    return Response(orjson.dumps(body), status, all_headers, media_type="application/json")


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
    body = {"meta": _meta(request, error.status, "object"), "error": error_body(error)}
    return _response(request, error.status, body, {**error.headers, **(headers or {})})
