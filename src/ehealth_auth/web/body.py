"""Reading request bodies: content type, size limit and JSON shape (CONTRACT §2 check 1, §4)."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request

from ehealth_auth.protocol.errors import (
    ContentTypeInvalidError,
    PayloadTooLargeError,
    RequestMalformedError,
)


def media_type_of(content_type: str) -> str:
    """The media type of a Content-Type header, lower-cased, without parameters."""
    return content_type.split(";", 1)[0].strip().lower()


def _is_json(media_type: str) -> bool:
    return media_type == "application/json" or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )


async def read_body(request: Request, max_bytes: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise PayloadTooLargeError()
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise PayloadTooLargeError()
        chunks.append(chunk)
    return b"".join(chunks)


async def read_json_object(
    request: Request, max_bytes: int, key: str, media_type: str | None = None
) -> dict[str, Any]:
    """The object under `key` of a JSON request body; every other shape is refused.

    `media_type` is the request's, when the caller has already read it to pick a dialect.
    """
    if media_type is None:
        media_type = media_type_of(request.headers.get("content-type", ""))
    if not _is_json(media_type):
        raise ContentTypeInvalidError()
    raw = await read_body(request, max_bytes)
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise RequestMalformedError("Request body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise RequestMalformedError("Request body must be a JSON object.")
    inner = body.get(key)
    if not isinstance(inner, dict):
        raise RequestMalformedError(f'Request body must have a JSON object under "{key}".')
    return inner
