"""A body that does not arrive in time is a 408 (CONTRACT §7), so a stalled client holds no
request handler: the deadline runs from the start of the request to the body's last byte.

Request headers are the server's part: see `web/server.py`.
"""

from __future__ import annotations

import asyncio

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ehealth_auth.protocol.errors import RequestTimeoutError


class BodyDeadline:
    """Raises `RequestTimeoutError` from `receive` once the body is late; the routes render it
    like any other refusal (with `Connection: close`)."""

    def __init__(self, app: ASGIApp, seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # GET and HEAD carry no body here (and verify, the hottest call, is a GET).
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.seconds
        body_done = False

        async def receive_in_time() -> Message:
            nonlocal body_done
            if body_done:  # later calls only wait for a disconnect
                return await receive()
            try:
                async with asyncio.timeout_at(deadline):
                    message = await receive()
            except TimeoutError:
                raise RequestTimeoutError() from None
            body_done = message["type"] != "http.request" or not message.get("more_body", False)
            return message

        await self.app(scope, receive_in_time, send)
