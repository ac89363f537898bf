"""Dispatch of `POST /oauth/tokens` by grant_type (CONTRACT §2 checks 2-3)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from ehealth_auth.protocol.errors import (
    CAST_STRING,
    REQUIRED,
    InvalidEntry,
    UnsupportedGrantTypeError,
    ValidationError,
)
from ehealth_auth.protocol.grants import Grant
from ehealth_auth.protocol.model import IssuedToken

_GRANT_TYPE_PATH = "$.token.grant_type"


class TokenEndpoint:
    def __init__(self, grants: Iterable[Grant]) -> None:
        self._grants = {grant.grant_type: grant for grant in grants}

    async def handle(
        self,
        params: Mapping[str, object],
        requested_scope: str | None = None,
        *,
        source: str = "",
    ) -> IssuedToken:
        """Issue for the request's grant; `requested_scope` is the standard dialect's optional
        `scope` parameter (RFC 6749 §6), never read from the eHealth JSON body. `source` is the
        caller's address, for the grants that throttle by it."""
        grant_type = params.get("grant_type")
        if grant_type is None or grant_type == "":
            raise ValidationError(
                (InvalidEntry(_GRANT_TYPE_PATH, (REQUIRED,)),),
                message="Request must include grant_type.",
            )
        if not isinstance(grant_type, str):
            raise ValidationError((InvalidEntry(_GRANT_TYPE_PATH, (CAST_STRING,)),))
        grant = self._grants.get(grant_type)
        if grant is None:
            raise UnsupportedGrantTypeError()
        return await grant.handle(params, requested_scope, source=source)
