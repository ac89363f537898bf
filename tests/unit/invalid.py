"""Reading CONTRACT §4 `invalid` entries out of a ValidationError, for compact assertions."""

from __future__ import annotations

from ehealth_auth.protocol.errors import ValidationError

Failure = tuple[str, str, str, tuple[str, ...]]


def failures(error: ValidationError) -> list[Failure]:
    """(entry, rule, description, params) of every rule of every entry, in order."""
    return [
        (entry.entry, rule.rule, rule.description, rule.params)
        for entry in error.invalid
        for rule in entry.rules
    ]
