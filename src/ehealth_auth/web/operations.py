"""Route metadata: each route is declared once, with what /openapi.json says about it.

The app is built from these declarations (web/app.py) and so is the OpenAPI document
(web/openapi.py): a route cannot be served without being documented.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Literal

from starlette.requests import Request
from starlette.responses import Response

from ehealth_auth.protocol.admin.queries import MAX_PAGE_NUMBER
from ehealth_auth.protocol.paging import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from ehealth_auth.web.schemas import STRING, UUID, Schema

Endpoint = Callable[[Request], Awaitable[Response]]


@dataclass(frozen=True)
class Param:
    name: str
    location: Literal["path", "query"]
    description: str
    schema: Schema = field(default_factory=lambda: {"type": "string"})
    needed: bool = False  # a query parameter the operation cannot do without

    @property
    def required(self) -> bool:
        return self.location == "path" or self.needed


def path_id(name: str, what: str) -> Param:
    return Param(name, "path", f"Id of the {what}; an id that is not a UUID is not found.", UUID)


def query_id(name: str, what: str) -> Param:
    return Param(name, "query", f"Only those of this {what}.", UUID)


PAGE_PARAMS = (
    Param(
        "page",
        "query",
        "Page number, from 1.",
        {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_NUMBER},
    ),
    Param(
        "page_size",
        "query",
        f"Entries per page (default {DEFAULT_PAGE_SIZE}).",
        {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE},
    ),
)


@dataclass(frozen=True)
class Header:
    """A response header; `X-Request-ID` refers to the document's shared description."""

    name: str
    description: str
    required: bool = False
    schema: Schema = field(default_factory=lambda: dict(STRING))


REQUEST_ID = Header("X-Request-ID", "The request id.", required=True)


@dataclass(frozen=True)
class Answer:
    """A documented answer besides the success one and the ErrorResponse envelopes: an HTML
    page, or a redirect (`media_type` None: no body; several: any of them, same schema)."""

    status: int
    description: str
    media_type: str | tuple[str, ...] | None
    schema: Schema | None
    headers: tuple[Header, ...] = ()


@dataclass(frozen=True)
class Operation:
    """One method on one path.

    `response` is the schema of the whole success body (None: no body, e.g. a redirect) and
    `headers` the headers of that answer. `errors` lists the statuses the operation answers
    with an ErrorResponse (401 is added to every admin operation), `answers` any other.
    """

    method: str
    path: str
    endpoint: Endpoint
    operation_id: str
    summary: str
    tag: str
    status: int
    response: Schema | None
    errors: tuple[int, ...] = ()
    params: tuple[Param, ...] = ()
    body: Schema | None = None
    admin: bool = True
    description: str = ""
    media_type: str | tuple[str, ...] = "application/json"
    body_media_type: str = "application/json"
    other_bodies: tuple[tuple[str, Schema], ...] = ()  # more (media type, schema) of the body
    headers: tuple[Header, ...] = ()
    answers: tuple[Answer, ...] = ()
    # Which keys an admin operation takes: "admin" (EHEALTH_AUTH_ADMIN_KEYS) or "metrics"
    # (those and EHEALTH_AUTH_METRICS_KEYS).
    keys: Literal["admin", "metrics"] = "admin"

    @property
    def error_statuses(self) -> tuple[int, ...]:
        statuses = set(self.errors)
        if self.admin:
            statuses.add(401)
        return tuple(sorted(statuses))
