"""Query parameters of the admin listings: paging and id filters (CONTRACT §4 entries)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from uuid import UUID

from ehealth_auth.protocol.errors import (
    CAST_INTEGER,
    CAST_UUID,
    QUERY_PARAMETER,
    InvalidCollector,
    Rule,
)
from ehealth_auth.protocol.paging import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, PageRequest
from ehealth_auth.protocol.validation import parse_uuid

MAX_PAGE_NUMBER = 1_000_000
AT_LEAST_ONE = Rule("number", "must be greater than or equal to 1", ("1",))


def at_most(limit: int) -> Rule:
    return Rule("number", f"must be less than or equal to {limit}", (str(limit),))


@dataclass(frozen=True)
class ListQuery:
    page: PageRequest
    filters: dict[str, UUID | None] = field(default_factory=dict)


def _integer(
    collector: InvalidCollector, query: Mapping[str, str], name: str, default: int, limit: int
) -> int:
    raw = query.get(name)
    if raw is None:
        return default
    if not (raw.isascii() and raw.isdigit()):  # an empty value too: absent is not empty
        collector.add(f"$.{name}", CAST_INTEGER, QUERY_PARAMETER)
        return default
    digits = raw.lstrip("0")
    if len(digits) > len(str(limit)) or int(digits or "0") > limit:
        collector.add(f"$.{name}", at_most(limit), QUERY_PARAMETER)
        return default
    value = int(digits or "0")
    if value < 1:
        collector.add(f"$.{name}", AT_LEAST_ONE, QUERY_PARAMETER)
    return value


def parse_list_query(query: Mapping[str, str], uuid_filters: tuple[str, ...] = ()) -> ListQuery:
    """`page`, `page_size` and the named optional UUID filters; one 422 lists every bad one."""
    collector = InvalidCollector()
    number = _integer(collector, query, "page", 1, MAX_PAGE_NUMBER)
    size = _integer(collector, query, "page_size", DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
    filters: dict[str, UUID | None] = {}
    for name in uuid_filters:
        raw = query.get(name)
        filters[name] = None if raw is None else parse_uuid(raw)
        if raw is not None and filters[name] is None:
            collector.add(f"$.{name}", CAST_UUID, QUERY_PARAMETER)
    collector.raise_if_any()
    return ListQuery(PageRequest(number, size), filters)
