"""Scopes are space-separated strings (RFC 6749 §3.3); approvals widen in a fixed order."""

from __future__ import annotations


def parse(scope: str) -> list[str]:
    """Split a scope string into its items, keeping order and dropping duplicates."""
    return list(dict.fromkeys(scope.split()))


def widen(current: str, requested: str) -> str:
    """Approval widening (CONTRACT §3): the new scopes first, then the old, no duplicates."""
    return " ".join(dict.fromkeys([*parse(requested), *parse(current)]))


def outside_ceiling(requested: str, ceiling: str) -> list[str]:
    """The requested scopes the client type does not allow."""
    allowed = set(parse(ceiling))
    return [item for item in parse(requested) if item not in allowed]
