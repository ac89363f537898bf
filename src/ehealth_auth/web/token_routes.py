"""`POST /oauth/tokens` in the eHealth JSON mode (CONTRACT §2, §3)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from ehealth_auth.protocol.errors import ServiceError
from ehealth_auth.protocol.token_endpoint import TokenEndpoint
from ehealth_auth.protocol.views import issued_token_view
from ehealth_auth.web.body import read_json_object
from ehealth_auth.web.envelope import NO_STORE, render_data, render_error


class TokenRoute:
    def __init__(self, endpoint: TokenEndpoint, max_body_bytes: int) -> None:
        self._endpoint = endpoint
        self._max_body_bytes = max_body_bytes

    async def handle(self, request: Request) -> Response:
        # Token responses, errors included, must never be cached (RFC 6749 §5.1).
        try:
            params = await read_json_object(request, self._max_body_bytes, "token")
            issued = await self._endpoint.handle(params)
        except ServiceError as error:
            return render_error(request, error, NO_STORE)
        return render_data(request, 201, issued_token_view(issued), headers=NO_STORE)
