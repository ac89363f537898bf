"""One module per grant_type of the token endpoint."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from ehealth_auth.protocol.model import IssuedToken


class Grant(Protocol):
    grant_type: str

    async def handle(self, params: Mapping[str, object], *, source: str = "") -> IssuedToken:
        """Validate the request parameters (the object under `token`) and issue a token.
        `source` is the caller's address, for the grants that throttle by it."""
        ...
