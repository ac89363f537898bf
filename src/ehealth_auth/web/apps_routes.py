"""`POST /oauth/apps/authorize` (CONTRACT §3): a logged-in user approves a client over the API."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from ehealth_auth.protocol.authorize import AppAuthorizer
from ehealth_auth.protocol.errors import ServiceError
from ehealth_auth.protocol.views import issued_token_view
from ehealth_auth.web.body import read_json_object
from ehealth_auth.web.envelope import NO_STORE, render_data, render_error


def bearer_token(request: Request) -> str | None:
    """The token of an `Authorization: Bearer <token>` header (RFC 6750 §2.1), else None."""
    scheme, _, token = request.headers.get("authorization", "").strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or " " in token:
        return None
    return token


class AppsAuthorizeRoute:
    def __init__(self, authorizer: AppAuthorizer, max_body_bytes: int) -> None:
        self._authorizer = authorizer
        self._max_body_bytes = max_body_bytes

    async def handle(self, request: Request) -> Response:
        # The answer carries a code: never cached, errors included.
        try:
            user_id = await self._authorizer.authenticate(bearer_token(request))
            params = await read_json_object(request, self._max_body_bytes, "app")
            app = await self._authorizer.grant(user_id, await self._authorizer.request(params))
        except ServiceError as error:
            return render_error(request, error, NO_STORE)
        headers = {**NO_STORE, "Location": app.location}
        return render_data(request, 201, issued_token_view(app.code), headers=headers)
