"""The policies the protocol follows, built from settings at the edge (wiring.py) and handed
down as small frozen values: token lifetimes and the refresh policy, the login, the throttle."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TokenPolicy:
    """Lifetimes and the refresh policy (CONTRACT §5, §6)."""

    access_ttl: int = 28_800
    refresh_ttl: int = 2_592_000
    code_ttl: int = 300
    rotation: bool = False
    reuse_grace: int = 0
    race_window_ms: int = 500
    revokes_previous_access: bool = False


@dataclass(frozen=True)
class LoginPolicy:
    """The login token's lifetime (CONTRACT §3)."""

    token_ttl: int = 3600


@dataclass(frozen=True)
class ThrottleLimits:
    """Limits of one kind of failure, per window (CONTRACT §7). `source` is shared by every
    kind."""

    window: int = 900
    source: int = 50
    pair: int = 5
    target: int = 100
