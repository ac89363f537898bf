"""Token rows for the SQLAlchemy engine paths (operator mints, login tokens)."""

from __future__ import annotations

from ehealth_auth.protocol.model import NewToken


def token_row(token: NewToken) -> dict[str, object]:
    """The `tokens` row of a new token: its fields, the kind as its string name."""
    return {**vars(token), "name": token.name.value}
