"""Paging of listings: the `paging` object of the eHealth list envelope."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 300


@dataclass(frozen=True)
class PageRequest:
    """Page `number` (from 1) of `size` entries."""

    number: int = 1
    size: int = DEFAULT_PAGE_SIZE

    @property
    def offset(self) -> int:
        return (self.number - 1) * self.size


@dataclass(frozen=True)
class Page(Generic[T]):
    entries: tuple[T, ...]
    request: PageRequest
    total_entries: int

    @property
    def total_pages(self) -> int:
        # An empty listing is still one (empty) page, as in the eHealth API.
        return max(1, -(-self.total_entries // self.request.size))
