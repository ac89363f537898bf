"""Token introspection (RFC 7662), answered by the gateway's verify checks (protocol/verify.py).

A token is active exactly when verify would answer 200 for it: a live access token whose client
and user are not blocked and whose approval still exists. Everything else (unknown, expired,
revoked, refresh tokens and codes, blocked client or user, approval gone) is
`{"active": false}` and nothing more (§2.2). A client may introspect only its own tokens;
another client's token is inactive to it. The gateway (with its key) may introspect any token.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from ehealth_auth.protocol.errors import NotFoundError, UnauthorizedError
from ehealth_auth.protocol.verify import TokenVerifier

INACTIVE: dict[str, Any] = {"active": False}


class TokenIntrospector:
    def __init__(self, verifier: TokenVerifier) -> None:
        self._verifier = verifier

    async def introspect(self, value: str, client_id: UUID | None) -> dict[str, Any]:
        """RFC 7662 §2.2 members for the token; `client_id` None: the gateway is asking."""
        try:
            verified = await self._verifier.verify(value)
        except (NotFoundError, UnauthorizedError):
            # Verify's refusals only: a database outage must not read as an inactive token.
            return dict(INACTIVE)
        token = verified.token
        owner = token.details.get("client_id")
        if client_id is not None and owner != str(client_id):
            return dict(INACTIVE)
        return {
            "active": True,
            "scope": token.details.get("scope", ""),
            "client_id": owner,
            "token_type": "Bearer",
            "exp": token.expires_at,
            "iat": verified.issued_at,
            "sub": str(token.user_id),
        }
