"""scope.parse / widen / outside_ceiling (RFC 6749 §3.3, CONTRACT §3)."""

from __future__ import annotations

import pytest

from ehealth_auth.protocol import scope


@pytest.mark.parametrize(
    ("text", "items"),
    [
        ("", []),
        ("   ", []),
        ("a", ["a"]),
        ("b a", ["b", "a"]),
        ("  a\tb\nc  ", ["a", "b", "c"]),
        ("a b a c b", ["a", "b", "c"]),
        ("legal_entity:read app:authorize", ["legal_entity:read", "app:authorize"]),
    ],
)
def test_parse_splits_on_whitespace_keeping_first_occurrence_order(
    text: str, items: list[str]
) -> None:
    assert scope.parse(text) == items


@pytest.mark.parametrize(
    ("current", "requested", "widened"),
    [
        ("", "a b", "a b"),
        ("a b", "", "a b"),
        ("a b", "c", "c a b"),
        ("a b", "c a", "c a b"),
        ("a b", "b a", "b a"),
        ("a  a b", "c c", "c a b"),
        ("", "", ""),
    ],
)
def test_widen_puts_new_scopes_first_then_old_without_duplicates(
    current: str, requested: str, widened: str
) -> None:
    assert scope.widen(current, requested) == widened


@pytest.mark.parametrize(
    ("requested", "ceiling", "outside"),
    [
        ("a b", "a b c", []),
        ("", "a", []),
        ("a d b e d", "a b c", ["d", "e"]),
        ("a", "", ["a"]),
        ("a:read", "a:reader a", ["a:read"]),
    ],
)
def test_outside_ceiling_lists_requested_scopes_the_ceiling_lacks(
    requested: str, ceiling: str, outside: list[str]
) -> None:
    assert scope.outside_ceiling(requested, ceiling) == outside
