"""Structured (JSON-lines) logging; every line of a request carries its request id."""

from __future__ import annotations

import logging
import re
import sys
from contextvars import ContextVar

import orjson

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)

# Whatever follows /admin/tokens/ may be a token (the gateway's verify call), on any spelling of
# the path a client may send: doubled slashes, a trailing slash, another case.
_ADMIN_TOKENS = re.compile(r"^/+admin/+tokens/", re.IGNORECASE)
_VERIFY_SUFFIX = re.compile(r"/+verify/*$", re.IGNORECASE)


def redact_path(path: str) -> str:
    """The request path as every log may show it: anything after `/admin/tokens/` redacted."""
    if not _ADMIN_TOKENS.match(path):
        return path
    suffix = "/verify" if _VERIFY_SUFFIX.search(path) else ""
    return f"/admin/tokens/[REDACTED]{suffix}"


_STANDARD_ATTRS = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": round(record.created, 3),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = request_id_var.get()
        if request_id is not None:
            entry["request_id"] = request_id
        for key, value in record.__dict__.items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


def configure_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
