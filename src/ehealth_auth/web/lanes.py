"""The two hottest calls answered ahead of the router: the gateway's verify and the token
endpoint.

`HotLanes` hands `GET /admin/tokens/{value}/verify` and `POST /oauth/tokens` to the very
handlers the router would call (verify behind its guard), saving the router, the route's
request wrapper and the exception layer on each call. Every other request, and any other method
on these paths, goes on to the router (so a wrong method is still a 405 listing the allowed
ones). The request id, access log, metrics and body deadline are outside, and see both alike.
"""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from ehealth_auth.protocol.errors import ServiceError
from ehealth_auth.web.envelope import render_error
from ehealth_auth.web.operations import Endpoint
from ehealth_auth.web.request_context import ROUTE_KEY
from ehealth_auth.web.token_routes import PATH as TOKEN_PATH
from ehealth_auth.web.verify_route import PATH as VERIFY_PATH

_VERIFY = re.compile(r"^/admin/tokens/([^/]+)/verify$")


class HotLanes:
    """ASGI middleware: `verify` (the guarded verify handler) and `token` (the token
    endpoint's handler) answered without the router; a service error either raises is rendered
    as the router's exception handler would."""

    def __init__(self, app: ASGIApp, verify: Endpoint, token: Endpoint) -> None:
        self.app = app
        self._verify = verify
        self._token = token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            method = scope["method"]
            if method == "POST" and scope["path"] == TOKEN_PATH:
                scope[ROUTE_KEY] = TOKEN_PATH
                await self._answer(self._token, scope, receive, send)
                return
            if method == "GET":
                match = _VERIFY.match(scope["path"])
                if match is not None:
                    scope["path_params"] = {"value": match.group(1)}
                    scope[ROUTE_KEY] = VERIFY_PATH
                    await self._answer(self._verify, scope, receive, send)
                    return
        await self.app(scope, receive, send)

    @staticmethod
    async def _answer(endpoint: Endpoint, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        try:
            response = await endpoint(request)
        except ServiceError as error:
            response = render_error(request, error)
        await response(scope, receive, send)
