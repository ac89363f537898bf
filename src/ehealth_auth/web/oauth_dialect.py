"""The standard OAuth 2.0 dialect on the wire (CONTRACT §8): form-urlencoded requests
(RFC 6749 §3.2, Appendix B) and plain JSON answers, errors as RFC 6749 §5.2 bodies.

The protocol's errors are the eHealth dialect's; `oauth_error` maps each to its RFC 6749 code
and status, in this one place:

| protocol error                                        | status | `error`                  |
|-------------------------------------------------------|--------|--------------------------|
| malformed body, repeated or missing parameter (422)   | 400    | `invalid_request`        |
| grant_type not taken here                             | 400    | `unsupported_grant_type` |
| client unknown, wrong secret, client blocked          | 401    | `invalid_client`         |
| scope beyond the approval                             | 400    | `invalid_scope`          |
| every other refusal of the grant (token not found,    | 400    | `invalid_grant`          |
| expired, revoked, reused, another client's, user      |        |                          |
| blocked, approval gone, redirect URI, PKCE)           |        |                          |
| body too large / wrong content type                   | 413/415| `invalid_request`        |
| anything else (429, 503, ...)                         | same   | its eHealth `type`       |

`error_description` is the eHealth message (`Token expired.`, ...), which never names a secret.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl

import orjson
from starlette.requests import Request
from starlette.responses import Response

from ehealth_auth.protocol.errors import (
    VALIDATION_MESSAGE,
    ContentTypeInvalidError,
    InvalidClientError,
    InvalidScopeError,
    PayloadTooLargeError,
    RequestMalformedError,
    ServiceError,
    UnauthorizedError,
    UnsupportedGrantTypeError,
    ValidationError,
)
from ehealth_auth.protocol.model import IssuedToken
from ehealth_auth.web.body import media_type_of, read_body
from ehealth_auth.web.envelope import NO_STORE, request_id

FORM = "application/x-www-form-urlencoded"
FORM_EXPECTED = "Invalid Content-Type header. Expected: application/x-www-form-urlencoded."
_MAX_FIELDS = 64
# Parameter names an error description may repeat (RFC 6749 §5.2 limits its characters).
_PLAIN_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")


class GatewayKeyError(UnauthorizedError):
    """Introspection with `Authorization: Bearer` and a key the verify guard does not admit."""

    type = "invalid_token"
    default_message = "Missing or invalid gateway key."

    @property
    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": 'Bearer realm="ehealth-auth", error="invalid_token"'}


def oauth_error(error: ServiceError) -> tuple[int, str]:
    """The RFC 6749 §5.2 status and `error` code of a protocol error (see the module table)."""
    if isinstance(error, ValidationError | RequestMalformedError):
        return 400, "invalid_request"
    if isinstance(error, PayloadTooLargeError | ContentTypeInvalidError):
        return error.status, "invalid_request"
    if isinstance(error, UnsupportedGrantTypeError):
        return 400, "unsupported_grant_type"
    if isinstance(error, InvalidClientError | GatewayKeyError):
        return 401, error.type
    if isinstance(error, InvalidScopeError):
        return 400, "invalid_scope"
    if isinstance(error, UnauthorizedError):
        return 400, "invalid_grant"
    return error.status, error.type


def _description(error: ServiceError) -> str:
    if isinstance(error, ValidationError) and error.message == VALIDATION_MESSAGE:
        # The form has no JSON paths: name the parameters.
        names = ", ".join(entry.entry.rsplit(".", 1)[-1] for entry in error.invalid)
        return f"Missing or invalid parameter: {names}." if names else "Invalid request."
    return error.message


def json_answer(
    request: Request, status: int, body: Mapping[str, Any], headers: Mapping[str, str]
) -> Response:
    return Response(
        orjson.dumps(body),
        status,
        {**headers, "X-Request-ID": request_id(request)},
        media_type="application/json",
    )


def render_oauth_error(request: Request, error: ServiceError) -> Response:
    """An RFC 6749 §5.2 error body; never cached, like every answer of these endpoints."""
    status, code = oauth_error(error)
    body = {"error": code, "error_description": _description(error)}
    return json_answer(request, status, body, {**error.headers, **NO_STORE})


def render_access_token(request: Request, issued: IssuedToken, now: int) -> Response:
    """RFC 6749 §5.1: the access token, its lifetime and scope, and a new refresh token."""
    body: dict[str, Any] = {
        "access_token": issued.value,
        "token_type": "Bearer",
        "expires_in": max(0, issued.expires_at - now),
        "scope": issued.details.get("scope", ""),
    }
    refresh_token = issued.details.get("refresh_token")
    if refresh_token is not None:
        body["refresh_token"] = refresh_token
    return json_answer(request, 200, body, NO_STORE)


def is_form(media_type: str) -> bool:
    return media_type == FORM


async def read_form(
    request: Request, max_bytes: int, media_type: str | None = None
) -> dict[str, str]:
    """The parameters of a form-urlencoded body. A parameter sent twice is refused
    (RFC 6749 §3.2); one sent without a value is left out, as if omitted (§3.1)."""
    if media_type is None:
        media_type = media_type_of(request.headers.get("content-type", ""))
    if not is_form(media_type):
        raise ContentTypeInvalidError(FORM_EXPECTED)
    raw = await read_body(request, max_bytes)
    try:
        pairs = parse_qsl(
            raw.decode("utf-8"),
            keep_blank_values=True,
            errors="strict",
            max_num_fields=_MAX_FIELDS,
        )
    except UnicodeDecodeError:
        raise RequestMalformedError("Request body is not valid UTF-8 form data.") from None
    except ValueError:
        raise RequestMalformedError("Request body has too many parameters.") from None
    params: dict[str, str] = {}
    seen: set[str] = set()
    for name, value in pairs:
        if name in seen:
            shown = f" {name}" if _PLAIN_NAME.fullmatch(name) else ""
            raise RequestMalformedError(f"Parameter{shown} is included more than once.")
        seen.add(name)
        if value.strip():
            params[name] = value
    return params
