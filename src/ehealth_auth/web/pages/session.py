"""The sign-in session: an encrypted cookie holding the CSRF token and, once signed in, the
login token. HttpOnly, SameSite=Lax, Secure over HTTPS (or always, with
EHEALTH_AUTH_COOKIE_SECURE); sealed with AES-256-GCM under a key derived from the server key, so
the cookie holds nothing usable as a bearer token outside these pages.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import secrets
import time
from dataclasses import dataclass

import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from starlette.requests import Request
from starlette.responses import Response

COOKIE = "ehealth_auth_session"
COOKIE_PATH = "/oauth/"
_NONCE_BYTES = 12
_AAD = b"ehealth-auth page session v2"


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
    def __init__(self, server_key: bytes, max_age: int, force_secure: bool = False) -> None:
        key = HKDF(
            algorithm=SHA256(), length=32, salt=None, info=b"ehealth-auth page session"
        ).derive(server_key)
        self._aead = AESGCM(key)
        self._max_age = max_age
        self._force_secure = force_secure

    def seal(self, session: PageSession, issued_at: int | None = None) -> str:
        payload = {
            "csrf": session.csrf,
            "token": session.token,
            "iat": int(time.time()) if issued_at is None else issued_at,
        }
        nonce = secrets.token_bytes(_NONCE_BYTES)
        sealed = nonce + self._aead.encrypt(nonce, orjson.dumps(payload), _AAD)
        return base64.urlsafe_b64encode(sealed).decode().rstrip("=")

    def open(self, raw: str) -> PageSession | None:
        try:
            blob = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4))
            nonce, sealed = blob[:_NONCE_BYTES], blob[_NONCE_BYTES:]
            data = orjson.loads(self._aead.decrypt(nonce, sealed, _AAD))
        except (InvalidTag, ValueError, binascii.Error, orjson.JSONDecodeError):
            return None
        if not isinstance(data, dict) or not isinstance(data.get("csrf"), str):
            return None
        issued_at = data.get("iat")
        if not isinstance(issued_at, int) or time.time() - issued_at > self._max_age:
            return None
        token = data.get("token")
        return PageSession(data["csrf"], token if isinstance(token, str) else None)

    def read(self, request: Request) -> PageSession | None:
        raw = request.cookies.get(COOKIE)
        return self.open(raw) if raw else None

    def write(self, request: Request, response: Response, session: PageSession) -> None:
        response.set_cookie(
            COOKIE,
            self.seal(session),
            max_age=self._max_age,
            path=COOKIE_PATH,
            httponly=True,
            samesite="lax",
            secure=self._force_secure or request.url.scheme == "https",
        )
