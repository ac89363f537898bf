"""Admin authentication: `Authorization: Bearer <key>`, with two roles.

- gateway keys (EHEALTH_AUTH_GATEWAY_KEYS) may call the verify route only;
- admin keys (EHEALTH_AUTH_ADMIN_KEYS) may call every /admin route, verify included.

A gateway key on any other admin route is `403 forbidden`; a missing or unknown key is `401`.
Every configured key is compared, in constant time, whatever the outcome; with no key
configured, no request is admitted. Admin answers (errors included) are never cached: some carry
a secret shown once, verify carries the caller's token.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
from collections.abc import Iterable

from starlette.requests import Request
from starlette.responses import Response

from ehealth_auth.protocol.errors import AdminKeyError, ForbiddenError, ServiceError
from ehealth_auth.web.envelope import NO_STORE, render_error
from ehealth_auth.web.operations import Endpoint

_CHALLENGE = {**NO_STORE, "WWW-Authenticate": 'Bearer realm="ehealth-auth admin"'}
GATEWAY_FORBIDDEN = "A gateway key may only verify tokens."


class Role(enum.Enum):
    GATEWAY = "gateway"
    ADMIN = "admin"


def _digest(key: str) -> bytes:
    # Digests make every comparison the same length, so no key's length leaks either.
    return hashlib.sha256(key.encode("utf-8", "surrogateescape")).digest()


class AdminGuard:
    def __init__(self, admin_keys: Iterable[str], gateway_keys: Iterable[str] = ()) -> None:
        self._digests = tuple(
            [(_digest(key), Role.ADMIN) for key in admin_keys if key]
            + [(_digest(key), Role.GATEWAY) for key in gateway_keys if key]
        )

    def role(self, authorization: str | None) -> Role | None:
        """The role of the presented key; None when there is none or it is unknown."""
        if not authorization:
            return None
        scheme, _, key = authorization.partition(" ")
        key = key.strip()
        if scheme.lower() != "bearer" or not key:
            return None
        presented = _digest(key)
        found: Role | None = None
        for digest, role in self._digests:
            if hmac.compare_digest(presented, digest) and found is not Role.ADMIN:
                found = role
        return found

    def protect(self, endpoint: Endpoint, *, gateway: bool = False) -> Endpoint:
        """The endpoint behind the key check (`gateway`: gateway keys are admitted too); its
        service errors are rendered uncacheable."""

        async def guarded(request: Request) -> Response:
            role = self.role(request.headers.get("authorization"))
            if role is None:
                return render_error(request, AdminKeyError(), _CHALLENGE)
            if role is Role.GATEWAY and not gateway:
                return render_error(request, ForbiddenError(GATEWAY_FORBIDDEN), NO_STORE)
            try:
                return await endpoint(request)
            except ServiceError as error:
                return render_error(request, error, NO_STORE)

        return guarded
