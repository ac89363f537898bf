"""The HTTP ceiling: a bare ASGI app that reads the request and answers one constant JSON body.

Served like the floor (uvicorn, one worker, uvloop and httptools, no access log), it shows what
the HTTP stack alone allows on this host; no target that does any work can beat it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Message = MutableMapping[str, Any]

BODY = b'{"meta":{"code":200,"type":"object"},"data":{"id":"ceiling"}}'
_START = {
    "type": "http.response.start",
    "status": 200,
    "headers": [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(BODY)).encode()),
    ],
}
_BODY = {"type": "http.response.body", "body": BODY}


async def app(
    scope: MutableMapping[str, Any],
    receive: Callable[[], Awaitable[Message]],
    send: Callable[[Message], Awaitable[None]],
) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] != "http":
        return
    more_body = True
    while more_body:  # the request is read whole, as any real endpoint would
        message = await receive()
        more_body = message.get("more_body", False)
    await send(_START)
    await send(_BODY)
