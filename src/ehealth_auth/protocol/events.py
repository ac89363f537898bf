"""What happened to tokens, told to whoever watches (metrics, security log lines).

The protocol emits an `Event` at each step that matters to an operator; wiring.py passes an
`Events` (the port, in protocol/ports.py) that counts and logs them, and the protocol's default
is `NO_EVENTS`. Emitting must stay cheap and never fail a request: it does no I/O of its own. A
new event is one more `TokenEvent` member and an `emit` call where it happens.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from uuid import UUID


class TokenEvent(StrEnum):
    ISSUED = "issued"  # an access token was issued (label: the grant)
    REFRESHED = "refreshed"  # a refresh answered 201, a grace retry included
    ROTATED = "rotated"  # a refresh retired its token for a successor
    REUSE_DETECTED = "reuse_detected"  # a retired refresh token came back after the race window
    FAMILY_REVOKED = "family_revoked"  # every live token of a family was revoked
    CODE_REPLAYED = "code_replayed"  # an authorization code was presented again
    REVOKED_BY_OPERATOR = "revoked_by_operator"  # an operator action revoked tokens


# Events that also get a security log line.
SECURITY_EVENTS = frozenset(
    {
        TokenEvent.REUSE_DETECTED,
        TokenEvent.FAMILY_REVOKED,
        TokenEvent.CODE_REPLAYED,
        TokenEvent.REVOKED_BY_OPERATOR,
    }
)


@dataclass(frozen=True)
class Event:
    """Ids only: an event never carries a token value, a secret or a password."""

    kind: TokenEvent
    grant: str = ""
    client_id: UUID | None = None
    user_id: UUID | None = None
    family_id: UUID | None = None
    count: int | None = None  # how many tokens were revoked, when known
    action: str = ""  # the operator action, for revocations by an operator


class NoEvents:
    """The protocol's default `Events` (protocol/ports.py): nobody watches."""

    def emit(self, event: Event) -> None:
        return None


NO_EVENTS = NoEvents()
