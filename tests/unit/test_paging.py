"""paging: the eHealth list envelope's page arithmetic."""

from __future__ import annotations

import pytest

from ehealth_auth.protocol.paging import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, Page, PageRequest


def test_page_request_defaults_to_first_page_of_fifty() -> None:
    request = PageRequest()

    assert (request.number, request.size, request.offset) == (1, 50, 0)
    assert DEFAULT_PAGE_SIZE == 50
    assert MAX_PAGE_SIZE == 300


@pytest.mark.parametrize(("number", "size", "offset"), [(1, 10, 0), (2, 10, 10), (5, 3, 12)])
def test_page_request_offset_skips_earlier_pages(number: int, size: int, offset: int) -> None:
    assert PageRequest(number, size).offset == offset


@pytest.mark.parametrize(
    ("total", "size", "pages"), [(0, 10, 1), (1, 10, 1), (10, 10, 1), (11, 10, 2), (300, 7, 43)]
)
def test_page_counts_partial_last_page_and_empty_listing_as_one_page(
    total: int, size: int, pages: int
) -> None:
    page: Page[str] = Page(entries=(), request=PageRequest(1, size), total_entries=total)

    assert page.total_pages == pages
