"""One module per grant_type of the token endpoint."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from ehealth_auth.protocol.model import IssuedToken


class Grant(Protocol):
    grant_type: str

    async def handle(
        self,
        params: Mapping[str, object],
        requested_scope: str | None = None,
        *,
        source: str = "",
    ) -> IssuedToken:
        """Validate the request parameters (the object under `token`, or the standard dialect's
        form) and issue a token; `requested_scope` is the form's optional `scope`. `source` is
        the caller's address, for the grants that throttle by it."""
        ...
