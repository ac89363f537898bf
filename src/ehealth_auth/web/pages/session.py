"""The sign-in session: a signed cookie holding the CSRF token and, once signed in, the login
token. HttpOnly, SameSite=Lax, Secure over HTTPS; signed with a key derived from the server key.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.requests import Request
from starlette.responses import Response

COOKIE = "ehealth_auth_session"
COOKIE_PATH = "/oauth/"


@dataclass(frozen=True)
class PageSession:
    csrf: str
    token: str | None = None

    def csrf_matches(self, presented: str | None) -> bool:
        return bool(presented) and hmac.compare_digest(
            self.csrf.encode(), (presented or "").encode()
        )


def new_session(token: str | None = None) -> PageSession:
    # A new CSRF token with every sign-in and sign-out: no fixation across sessions.
    return PageSession(csrf=secrets.token_urlsafe(32), token=token)


class SessionCookies:
    def __init__(self, server_key: bytes, max_age: int) -> None:
        self._serializer = URLSafeTimedSerializer(server_key, salt="ehealth-auth page session")
        self._max_age = max_age

    def read(self, request: Request) -> PageSession | None:
        raw = request.cookies.get(COOKIE)
        if not raw:
            return None
        try:
            data = self._serializer.loads(raw, max_age=self._max_age)
        except BadSignature:
            return None
        if not isinstance(data, dict) or not isinstance(data.get("csrf"), str):
            return None
        token = data.get("token")
        return PageSession(data["csrf"], token if isinstance(token, str) else None)

    def write(self, request: Request, response: Response, session: PageSession) -> None:
        value = self._serializer.dumps({"csrf": session.csrf, "token": session.token})
        response.set_cookie(
            COOKIE,
            value,
            max_age=self._max_age,
            path=COOKIE_PATH,
            httponly=True,
            samesite="lax",
            secure=request.url.scheme == "https",
        )
