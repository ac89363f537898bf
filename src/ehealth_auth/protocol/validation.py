"""Field checks of every request, reported as CONTRACT §4 `invalid` entries: the one home of
field validation for the grants, the consent flow, the operator actions and the admin API.

- `require_strings`: the grants' and the consent flow's fields, each a non-blank string.
- `text_fields`: the admin API's body fields, strings or absent (their values are then checked
  by the operator actions through `FieldChecks`, so that one 422 lists every bad field).
- `FieldChecks`: operator input (admin API and CLI), each entry addressed by the JSON path of
  the field in the admin API's request body (`$.client.name`); the CLI, whose options carry
  the same names, prints the last segment.
- `parse_uuid`, `optional_uuid`: identifiers.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from functools import lru_cache
from uuid import UUID

from ehealth_auth.protocol import redirect_uri as redirects
from ehealth_auth.protocol.errors import (
    CAST_STRING,
    CAST_UUID,
    CONTROL_CHARACTERS,
    REQUIRED,
    InvalidCollector,
    Rule,
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
    return _uuid(value) if _CANONICAL_UUID.fullmatch(value) else None


# Client ids come back on every refresh of every MIS: each is built once (bounded; UUIDs are
# immutable, so one may be shared). Only UUID-shaped strings get here, never a pasted secret.
@lru_cache(maxsize=4096)
def _uuid(value: str) -> UUID:
    return UUID(value)


def optional_uuid(path: str, value: str) -> UUID | None:
    """A UUID field that may be blank or null (None); any other non-UUID fails with `cast`."""
    if not value.strip():
        return None
    parsed = parse_uuid(value.strip())
    if parsed is None:
        collector = InvalidCollector()
        collector.add(path, CAST_UUID)
        collector.raise_if_any()
    return parsed


def text_fields(params: Mapping[str, object], key: str, names: Iterable[str]) -> dict[str, str]:
    """The named string fields of the object under `key`; absent and null ones are "".

    A field of another JSON type fails with rule `cast`; the values themselves are left to
    `FieldChecks`, so that one 422 lists every blank or malformed field.
    """
    collector = InvalidCollector()
    values: dict[str, str] = {}
    for name in names:
        value = params.get(name)
        if value is None:
            values[name] = ""
        elif isinstance(value, str):
            values[name] = value
        else:
            collector.add(f"$.{key}.{name}", CAST_STRING)
    collector.raise_if_any()
    return values


# ------------------------------------------------------------------------- operator input

NAME_MAX_LENGTH = 255
_LINE_SPACE = str.maketrans("", "", "\t\r\n")
EMAIL_MAX_LENGTH = 320
MIN_PASSWORD_LENGTH = 8

EMAIL_FORMAT = Rule("format", "is not a valid email address")
REDIRECT_URI_FORMAT = Rule(
    "format", "must be an absolute http(s) URI without user info or a fragment"
)
PASSWORD_TOO_SHORT = Rule(
    "length", f"should be at least {MIN_PASSWORD_LENGTH} characters", (str(MIN_PASSWORD_LENGTH),)
)


def too_long(limit: int) -> Rule:
    return Rule("length", f"should be at most {limit} characters", (str(limit),))


class FieldChecks:
    """Checks the fields of one request object (`$.<name>`); one 422 lists every bad field."""

    def __init__(self, name: str) -> None:
        self._prefix = f"$.{name}"
        self._collector = InvalidCollector()

    def fail(self, field: str, rule: Rule) -> None:
        self._collector.add(f"{self._prefix}.{field}", rule)

    def required(self, field: str, value: str, max_length: int | None = None) -> str:
        """The value without surrounding whitespace; blank values and long ones are invalid."""
        stripped = value.strip()
        if not stripped:
            self.fail(field, REQUIRED)
        elif max_length is not None and len(value) > max_length:  # as sent, as documented
            self.fail(field, too_long(max_length))
        elif has_inner_control_characters(value):
            self.fail(field, CONTROL_CHARACTERS)
        return stripped

    def text(self, field: str, value: str) -> str:
        """Optional text: blank is allowed, and tabs and line ends anywhere; other control
        characters are not."""
        if has_control_characters(value.translate(_LINE_SPACE)):
            self.fail(field, CONTROL_CHARACTERS)
        return value

    def email(self, field: str, value: str) -> str:
        value = self.required(field, value, EMAIL_MAX_LENGTH)
        if self._valid_so_far(field) and "@" not in value.strip("@"):
            self.fail(field, EMAIL_FORMAT)
        return value

    def password(self, field: str, value: str) -> str:
        if not value.strip():
            self.fail(field, REQUIRED)
        elif len(value) < MIN_PASSWORD_LENGTH:
            self.fail(field, PASSWORD_TOO_SHORT)
        elif has_inner_control_characters(value):
            self.fail(field, CONTROL_CHARACTERS)
        return value

    def _valid_so_far(self, field: str) -> bool:
        path = f"{self._prefix}.{field}"
        return all(entry.entry != path for entry in self._collector.entries)

    def redirect_uri(self, field: str, value: str) -> str:
        value = self.required(field, value)
        if self._valid_so_far(field) and not redirects.is_acceptable(value):
            self.fail(field, REDIRECT_URI_FORMAT)
        return value

    def raise_if_any(self, message: str | None = None) -> None:
        self._collector.raise_if_any(message)
