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

from ehealth_auth.logs import security_event
from ehealth_auth.protocol.errors import AdminKeyError, ServiceError
from ehealth_auth.web.envelope import NO_STORE, render_error
from ehealth_auth.web.operations import Endpoint

_SECRET_PARAMS = frozenset({"value"})  # the token in verify's path
_CHALLENGE = {**NO_STORE, "WWW-Authenticate": 'Bearer realm="ehealth-auth admin"'}


def _digest(key: str) -> bytes:
    # Digests make every comparison the same length, so no key's length leaks either.
    return hashlib.sha256(key.encode("utf-8", "surrogateescape")).digest()


class AdminGuard:
    def __init__(self, keys: Iterable[str]) -> None:
        self._digests = tuple(_digest(key) for key in keys if key)

    def matching_key(self, authorization: str | None) -> int | None:
        """The position of the presented key among the configured ones; None if it is not one."""
        if not authorization:
            return None
        scheme, _, key = authorization.partition(" ")
        key = key.strip()
        if scheme.lower() != "bearer" or not key:
            return None
        presented = _digest(key)
        matched = None
        for index, digest in enumerate(self._digests):
            if hmac.compare_digest(presented, digest):
                matched = index
        return matched

    def admits(self, authorization: str | None) -> bool:
        return self.matching_key(authorization) is not None

    def protect(self, endpoint: Endpoint, action: str | None = None) -> Endpoint:
        """The endpoint behind the key check; its service errors are rendered uncacheable.

        With `action` (operations that change something), each call gets a security line: the
        action, the ids in its path, its status, and which key (by position) was used.
        """

        async def guarded(request: Request) -> Response:
            key = self.matching_key(request.headers.get("authorization"))
            if key is None:
                return render_error(request, AdminKeyError(), _CHALLENGE)
            try:
                response = await endpoint(request)
            except ServiceError as error:
                response = render_error(request, error, NO_STORE)
            if action is not None:
                targets = {
                    name: value
                    for name, value in request.path_params.items()
                    if name not in _SECRET_PARAMS
                }
                security_event(
                    "admin_action",
                    action=action,
                    admin_key=f"#{key + 1}",
                    status=response.status_code,
                    **targets,
                )
            return response

        return guarded
