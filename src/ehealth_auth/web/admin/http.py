"""Parsing and rendering shared by the admin routes: path ids, body fields, list queries."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar
from uuid import UUID

from starlette.requests import Request
from starlette.responses import Response

from ehealth_auth.protocol.admin.queries import ListQuery, parse_list_query
from ehealth_auth.protocol.errors import NotFoundError
from ehealth_auth.protocol.paging import Page
from ehealth_auth.protocol.validation import parse_uuid, text_fields
from ehealth_auth.protocol.views import paging_view
from ehealth_auth.web.body import read_json_object
from ehealth_auth.web.envelope import NO_STORE, render_data

T = TypeVar("T")


def path_uuid(request: Request, name: str, not_found: str) -> UUID:
    """The UUID in the path; one that is not a UUID is answered like an unknown one."""
    value = parse_uuid(request.path_params[name])
    if value is None:
        raise NotFoundError(not_found)
    return value


async def read_text_fields(
    request: Request, max_body_bytes: int, key: str, names: Sequence[str]
) -> dict[str, str]:
    """The named string fields of the body's object under `key` (protocol/validation.py
    `text_fields`)."""
    params = await read_json_object(request, max_body_bytes, key)
    return text_fields(params, key, names)


def list_query(request: Request, *uuid_filters: str) -> ListQuery:
    return parse_list_query(request.query_params, uuid_filters)


def ok(request: Request, data: Mapping[str, Any], status: int = 200) -> Response:
    return render_data(request, status, data, headers=NO_STORE)


def ok_page(request: Request, page: Page[T], view: Callable[[T], Mapping[str, Any]]) -> Response:
    """The eHealth list envelope: `meta.type` "list", `data` the entries, and `paging`."""
    return render_data(
        request,
        200,
        [view(entry) for entry in page.entries],
        kind="list",
        headers=NO_STORE,
        extra={"paging": paging_view(page)},
    )
