"""Proof Key for Code Exchange (RFC 7636), S256 only: `plain` gives no protection when the
authorization request itself leaks, so it is refused (RFC 9700 §2.1.1)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

S256 = "S256"
# RFC 7636 §4.1 (verifier) and §4.2 (challenge): 43-128 characters of the unreserved set.
_UNRESERVED = re.compile(r"[A-Za-z0-9._~-]{43,128}")
CHALLENGE_PATTERN = f"^{_UNRESERVED.pattern}$"  # as a JSON Schema pattern, anchored


def is_well_formed(value: str) -> bool:
    return _UNRESERVED.fullmatch(value) is not None


def s256(verifier: str) -> str:
    """BASE64URL(SHA256(ASCII(code_verifier))) without padding (RFC 7636 §4.2)."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def verifier_matches(verifier: str, challenge: str) -> bool:
    if not is_well_formed(verifier):
        return False
    return hmac.compare_digest(s256(verifier).encode(), challenge.encode())
