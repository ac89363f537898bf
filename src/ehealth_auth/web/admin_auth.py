"""Admin authentication: `Authorization: Bearer <key>` with a key of EHEALTH_AUTH_ADMIN_KEYS.

Every configured key is compared, in constant time, whatever the outcome; with no key
configured, no request is admitted. Admin answers (errors included) are never cached: some carry
a secret shown once, verify carries the caller's token.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable

from starlette.requests import Request
from starlette.responses import Response

from ehealth_auth.protocol.errors import AdminKeyError, ServiceError
from ehealth_auth.web.envelope import NO_STORE, render_error
from ehealth_auth.web.operations import Endpoint

_CHALLENGE = {**NO_STORE, "WWW-Authenticate": 'Bearer realm="ehealth-auth admin"'}


def _digest(key: str) -> bytes:
    # Digests make every comparison the same length, so no key's length leaks either.
    return hashlib.sha256(key.encode("utf-8", "surrogateescape")).digest()


class AdminGuard:
    def __init__(self, keys: Iterable[str]) -> None:
        self._digests = tuple(_digest(key) for key in keys if key)

    def admits(self, authorization: str | None) -> bool:
        if not authorization:
            return False
        scheme, _, key = authorization.partition(" ")
        key = key.strip()
        if scheme.lower() != "bearer" or not key:
            return False
        presented = _digest(key)
        admitted = False
        for digest in self._digests:
            admitted |= hmac.compare_digest(presented, digest)
        return admitted

    def protect(self, endpoint: Endpoint) -> Endpoint:
        """The endpoint behind the key check; its service errors are rendered uncacheable."""

        async def guarded(request: Request) -> Response:
            if not self.admits(request.headers.get("authorization")):
                return render_error(request, AdminKeyError(), _CHALLENGE)
            try:
                return await endpoint(request)
            except ServiceError as error:
                return render_error(request, error, NO_STORE)

        return guarded
