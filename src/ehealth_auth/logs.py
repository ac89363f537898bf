"""Structured logging: every line the service writes is one JSON object on stderr.

The one home of logging. uvicorn's own lines go through the same formatter (`logging_config`),
every line of a request carries its request id, the access line carries what the request's
handlers noted about it (`note`: the client id, the error type), and security events have their
own logger. No line carries a token, secret or password: callers log ids, never values.
"""

from __future__ import annotations

import logging
import logging.config
import re
from collections.abc import Awaitable
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, TypeVar

import orjson

from ehealth_auth import __version__
from ehealth_auth.protocol.errors import ServiceError
from ehealth_auth.protocol.validation import parse_uuid

T = TypeVar("T")

if TYPE_CHECKING:
    from ehealth_auth.settings import Settings

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)
# What a request's handlers learned about it, for its access line (see `note`).
request_notes_var: ContextVar[dict[str, Any] | None] = ContextVar("request_notes", default=None)

access_log = logging.getLogger("ehealth_auth.access")
error_log = logging.getLogger("ehealth_auth.error")
security_log = logging.getLogger("ehealth_auth.security")
service_log = logging.getLogger("ehealth_auth.service")

_STANDARD_ATTRS = frozenset(logging.makeLogRecord({}).__dict__) | {
    "message",
    "asctime",
    "color_message",  # uvicorn's copy of the message with terminal colours
    "taskName",
}

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


def logging_config(level: str = "INFO") -> dict[str, Any]:
    """A dictConfig for the service and for uvicorn (its startup and error lines too)."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": JsonFormatter}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"handlers": ["stderr"], "level": level.upper()},
        "loggers": {
            **{
                name: {"handlers": [], "propagate": True, "level": level.upper()}
                for name in ("uvicorn", "uvicorn.error", "ehealth_auth")
            },
            # Ours (ehealth_auth.access) redacts tokens in paths; uvicorn's would not.
            "uvicorn.access": {"handlers": [], "propagate": False},
        },
    }


def configure_logging(level: str = "INFO") -> None:
    # No line shows the caller, thread or process: the records need not look them up, which
    # is most of a record's cost on every request (the logging HOWTO's "Optimization").
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    logging.config.dictConfig(logging_config(level))


def note(**fields: Any) -> None:
    """Add fields to the access line of the current request (no-op outside a request)."""
    notes = request_notes_var.get()
    if notes is not None:
        notes.update(fields)


def note_error(error: ServiceError) -> None:
    note(error={"type": error.type})


def note_client(client_id: object) -> None:
    """The client id a request names, when it is a UUID (anything else may be a pasted secret)."""
    if isinstance(client_id, str) and len(client_id) == 36 and parse_uuid(client_id) is not None:
        note(client_id=client_id)


async def noting_errors(call: Awaitable[T]) -> T:
    """`await call`, noting the error type of a refusal for the access line (pages that answer
    a refusal with a page rather than an error envelope)."""
    try:
        return await call
    except ServiceError as error:
        note_error(error)
        raise


def security_event(event: str, **fields: Any) -> None:
    """One line per security event: `event` names it, `fields` say who and what (ids only)."""
    security_log.warning(event, extra={"event": event, **fields})


def log_startup(settings: Settings, *, database: str, host: str, port: int, workers: int) -> None:
    """The line an operator reads first: what is running, against what, with which policy."""
    keys = {
        name: bool(getattr(settings, name))
        for name in type(settings).model_fields
        if name.endswith("_keys")
    }
    service_log.info(
        "starting",
        extra={
            "event": "startup",
            "version": __version__,
            "database": database,
            "listen": f"{host}:{port}",
            "workers": workers,
            "refresh_policy": {
                "rotation": settings.refresh_rotation,
                "reuse_grace_seconds": settings.refresh_reuse_grace,
                "race_window_ms": settings.refresh_race_window_ms,
                "revokes_previous_access": settings.refresh_revokes_previous_access,
            },
            "keys_set": keys,
            "secret_key_set": settings.secret_key is not None,
        },
    )
