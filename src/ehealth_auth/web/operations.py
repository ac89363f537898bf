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

from ehealth_auth.web.schemas import UUID, Schema

Endpoint = Callable[[Request], Awaitable[Response]]


@dataclass(frozen=True)
class Param:
    name: str
    location: Literal["path", "query"]
    description: str
    schema: Schema = field(default_factory=lambda: {"type": "string"})

    @property
    def required(self) -> bool:
        return self.location == "path"


def path_id(name: str, what: str) -> Param:
    return Param(name, "path", f"Id of the {what}; an id that is not a UUID is not found.", UUID)


def query_id(name: str, what: str) -> Param:
    return Param(name, "query", f"Only those of this {what}.", UUID)


PAGE_PARAMS = (
    Param("page", "query", "Page number, from 1.", {"type": "integer", "minimum": 1}),
    Param("page_size", "query", "Entries per page.", {"type": "integer", "minimum": 1}),
)


@dataclass(frozen=True)
class Operation:
    """One method on one path.

    `response` is the schema of the whole success body. `errors` lists the statuses the
    operation answers with an ErrorResponse (401 is added to every admin operation).
    """

    method: str
    path: str
    endpoint: Endpoint
    operation_id: str
    summary: str
    tag: str
    status: int
    response: Schema
    errors: tuple[int, ...] = ()
    params: tuple[Param, ...] = ()
    body: Schema | None = None
    admin: bool = True
    description: str = ""
    media_type: str = "application/json"

    @property
    def error_statuses(self) -> tuple[int, ...]:
        statuses = set(self.errors)
        if self.admin:
            statuses.add(401)
        return tuple(sorted(statuses))
