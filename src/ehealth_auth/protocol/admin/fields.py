"""Field checks of operator input, reported as CONTRACT §4 `invalid` entries.

Each entry is addressed by the JSON path of the field in the admin API's request body
(`$.client.name`); the CLI, whose options carry the same names, prints the last segment.
"""

from __future__ import annotations

from ehealth_auth.protocol import redirect_uri as redirects
from ehealth_auth.protocol.errors import CONTROL_CHARACTERS, REQUIRED, InvalidCollector, Rule
from ehealth_auth.protocol.validation import has_control_characters, has_inner_control_characters

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
