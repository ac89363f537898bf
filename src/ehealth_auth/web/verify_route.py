"""`GET /admin/tokens/{value}/verify`, the API gateway's call on every request (CONTRACT §3).

This is the service's hottest route: one SQL read, nothing else. `HotLanes` (web/lanes.py)
answers it ahead of the router (same guard, same handler).
The access log never shows the token in this path (web/request_context.py redacts it).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from ehealth_auth.logs import note
from ehealth_auth.protocol.verify import TokenVerifier
from ehealth_auth.protocol.views import issued_token_view
from ehealth_auth.web import schemas as s
from ehealth_auth.web.envelope import NO_STORE, render_data
from ehealth_auth.web.operations import Operation, Param

PATH = "/admin/tokens/{value}/verify"


class VerifyRoute:
    def __init__(self, verifier: TokenVerifier) -> None:
        self._verifier = verifier

    async def handle(self, request: Request) -> Response:
        verified = await self._verifier.verify(request.path_params["value"])
        mis_client_id = verified.mis_client_id
        note(client_id=verified.token.details.get("client_id"))
        return render_data(
            request,
            200,
            issued_token_view(verified.token),
            headers=NO_STORE,
            extra={
                "urgent": {"mis_client_id": None if mis_client_id is None else str(mis_client_id)}
            },
        )

    def operation(self) -> Operation:
        return Operation(
            "GET",
            PATH,
            self.handle,
            "verifyToken",
            "Verify an access token (the API gateway's call)",
            "tokens",
            200,
            s.envelope(s.TOKEN, extra={"urgent": s.URGENT}),
            (404,),
            (Param("value", "path", "The access token itself."),),
            description=(
                "200 for a live access token. 404 not_found for an unknown value. 401 "
                "invalid_grant `Token is not an access token.` for refresh tokens and codes; "
                "401 invalid_grant `Token expired or client approval was revoked.` when it is "
                "expired or revoked or the user's approval is gone; 401 invalid_client or "
                "invalid_user `Authentication failed.` when its client or user is blocked."
            ),
        )
