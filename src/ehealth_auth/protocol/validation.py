"""Field checks that produce CONTRACT §4 `invalid` entries."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from uuid import UUID

from ehealth_auth.protocol.errors import (
    CAST_STRING,
    CONTROL_CHARACTERS,
    REQUIRED,
    InvalidCollector,
)

# Unicode category Cc: C0 controls (U+0000-U+001F), DEL and the C1 controls.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")
# Surrounding whitespace that a pasted value may carry; it is trimmed, not refused.
_BLANKS = " \t\r\n"


def has_control_characters(value: str) -> bool:
    return _CONTROL.search(value) is not None


def has_inner_control_characters(value: str) -> bool:
    """Control characters other than the spaces, tabs and line ends around the value."""
    return has_control_characters(value.strip(_BLANKS))


def require_strings(
    params: Mapping[str, object],
    names: Iterable[str],
    prefix: str,
    optional: Iterable[str] = (),
) -> dict[str, str]:
    """Return the named fields as non-blank strings, or raise one 422 listing every bad field.

    Missing, null, empty and whitespace-only values are `required`; any other JSON type is `cast`;
    text with a control character (U+0000 among them) inside it is `format` (surrounding
    whitespace is left to the checks that trim it).
    An `optional` field may be missing, null or empty (it is then left out of the result), but
    a value of another JSON type is listed as `cast` with the rest.
    """
    collector = InvalidCollector()
    values: dict[str, str] = {}
    for name in names:
        value = params.get(name)
        path = f"{prefix}.{name}"
        if value is None or (isinstance(value, str) and not value.strip()):
            collector.add(path, REQUIRED)
        elif not isinstance(value, str):
            collector.add(path, CAST_STRING)
        elif has_inner_control_characters(value):
            collector.add(path, CONTROL_CHARACTERS)
        else:
            values[name] = value
    for name in optional:
        value = params.get(name)
        if value is None or value == "":
            continue
        if not isinstance(value, str):
            collector.add(f"{prefix}.{name}", CAST_STRING)
        elif has_inner_control_characters(value):
            collector.add(f"{prefix}.{name}", CONTROL_CHARACTERS)
        else:
            values[name] = value
    collector.raise_if_any()
    return values


_CANONICAL_UUID = re.compile(r"[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}", re.ASCII)


def parse_uuid(value: str) -> UUID | None:
    """A UUID in its canonical 8-4-4-4-12 form, or None: malformed ids are answered like unknown
    ones, never with a 500 (CONTRACT §2 check 5)."""
    return UUID(value) if _CANONICAL_UUID.fullmatch(value) else None
