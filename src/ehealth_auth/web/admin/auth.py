"""Admin authentication: `Authorization: Bearer <key>`, with two roles.

- gateway keys (EHEALTH_AUTH_GATEWAY_KEYS) may call the verify route (and introspection) only;
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
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

from ehealth_auth.logs import security_event
from ehealth_auth.protocol.errors import AdminKeyError, ForbiddenError, ServiceError
from ehealth_auth.web.envelope import NO_STORE, render_error
from ehealth_auth.web.operations import Endpoint

_SECRET_PARAMS = frozenset({"value"})  # the token in verify's path
_CHALLENGE = {**NO_STORE, "WWW-Authenticate": 'Bearer realm="ehealth-auth admin"'}
GATEWAY_FORBIDDEN = "A gateway key may only verify tokens."
# Spellings of admitted Authorization headers remembered (`AdminGuard.matching_key`).
MAX_ADMITTED_HEADERS = 64


class Role(enum.Enum):
    GATEWAY = "gateway"
    ADMIN = "admin"


@dataclass(frozen=True)
class KeyMatch:
    """Which configured key was presented: its role and its position in its list (from 1),
    which security lines name instead of the key."""

    role: Role
    position: int

    @property
    def label(self) -> str:
        return f"#{self.position}" if self.role is Role.ADMIN else f"gateway#{self.position}"


def _digest(key: str) -> bytes:
    # Digests make every comparison the same length, so no key's length leaks either.
    return hashlib.sha256(key.encode("utf-8", "surrogateescape")).digest()


class AdminGuard:
    def __init__(self, admin_keys: Iterable[str], gateway_keys: Iterable[str] = ()) -> None:
        self._digests = tuple(
            [
                (_digest(key), KeyMatch(Role.ADMIN, index))
                for index, key in enumerate(admin_keys, 1)
                if key
            ]
            + [
                (_digest(key), KeyMatch(Role.GATEWAY, index))
                for index, key in enumerate(gateway_keys, 1)
                if key
            ]
        )
        # Authorization headers already admitted, and by which key: the gateway sends the same
        # one on every call. Only admitted headers are kept (each holds a configured key, which
        # this process holds anyway), so unknown keys cannot fill it; any other header takes
        # the constant-time comparison below.
        self._admitted: dict[str, KeyMatch] = {}

    def matching_key(self, authorization: str | None) -> KeyMatch | None:
        """The configured key presented (an admin key wins over a gateway key with the same
        value); None when there is none or it is unknown."""
        if not authorization:
            return None
        admitted = self._admitted.get(authorization)
        if admitted is not None:
            return admitted
        found = self._compare(authorization)
        if found is not None and len(self._admitted) < MAX_ADMITTED_HEADERS:
            self._admitted[authorization] = found
        return found

    def _compare(self, authorization: str) -> KeyMatch | None:
        scheme, _, key = authorization.partition(" ")
        key = key.strip()
        if scheme.lower() != "bearer" or not key:
            return None
        presented = _digest(key)
        found: KeyMatch | None = None
        for digest, match in self._digests:
            if hmac.compare_digest(presented, digest) and (
                found is None or found.role is not Role.ADMIN
            ):
                found = match
        return found

    def admits(self, authorization: str | None) -> bool:
        """Whether the key may verify (a gateway or an admin key)."""
        return self.matching_key(authorization) is not None

    def protect(
        self, endpoint: Endpoint, action: str | None = None, *, gateway: bool = False
    ) -> Endpoint:
        """The endpoint behind the key check (`gateway`: gateway keys are admitted too); its
        service errors are rendered uncacheable.

        With `action` (operations that change something), each call gets a security line: the
        action, the ids in its path, its status, and which key (by position) was used.
        """

        async def guarded(request: Request) -> Response:
            key = self.matching_key(request.headers.get("authorization"))
            if key is None:
                return render_error(request, AdminKeyError(), _CHALLENGE)
            if key.role is Role.GATEWAY and not gateway:
                return render_error(request, ForbiddenError(GATEWAY_FORBIDDEN), NO_STORE)
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
                    admin_key=key.label,
                    status=response.status_code,
                    **targets,
                )
            return response

        return guarded
