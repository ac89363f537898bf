"""Interfaces the protocol needs from the outside world: one small Protocol per capability,
each declared once (as in fosite's handler/oauth2/storage.go). A consumer that needs several
takes a Protocol composed of them by inheritance (`TokenWriter`, `AdminQueries`).

Sections: time, hashing and encryption; events; the refresh and code grants; the login and
consent flow; operators (queries and commands); verify and introspection; client
authentication and revocation; the throttle; the purge. The value types the ports carry are in
model.py (tokens) and records.py (clients, users, approvals, counters).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from typing import Protocol, TypeVar
from uuid import UUID

from ehealth_auth.protocol.events import Event
from ehealth_auth.protocol.model import (
    Bearer,
    CodeContext,
    LostRace,
    NewToken,
    RefreshContext,
    RevocableToken,
    Rotated,
    RotationDraft,
    TokenDraft,
    VerifyContext,
)
from ehealth_auth.protocol.paging import Page, PageRequest
from ehealth_auth.protocol.records import (
    ApprovalRecord,
    ClientDetails,
    ClientProfile,
    ClientRecord,
    ClientTypeRecord,
    ConnectionInfo,
    ConnectionRecord,
    CounterKey,
    LiveCount,
    LoginUser,
    TokenInfo,
    UserRecord,
)


class Clock(Protocol):
    def now(self) -> int:
        """Current time as integer Unix seconds."""
        ...

    def now_ms(self) -> int:
        """Current time as integer Unix milliseconds (for ordering requests against rotations)."""
        ...


class SecretHasher(Protocol):
    """Keyed digest of service-generated secrets (tokens, connection secrets)."""

    def digest(self, value: str) -> bytes: ...


class PasswordHasher(Protocol):
    """Slow, salted hash for secrets people choose (user passwords)."""

    def hash(self, password: str) -> str: ...

    def verify(self, password_hash: str, password: str) -> bool: ...


T = TypeVar("T")


class ReservedPasswordWork(Protocol):
    """A place in the password work, taken for one request."""

    async def run(self, work: Callable[[], T]) -> T:
        """The result of `work`, run in the place taken; ServiceUnavailableError when no
        thread took it up within the longest wait allowed (it never runs then)."""
        ...


class PasswordWork(Protocol):
    """Where password hashing runs: off the event loop, a bounded number at once."""

    def has_room(self) -> bool:
        """Whether `reserve` would take more work now."""
        ...

    def reserve(self) -> AbstractContextManager[ReservedPasswordWork]:
        """A place for one request's hashing, taken at once, before the request's other work
        (its lookups and writes), and given back when the block ends; ServiceUnavailableError at
        once when there is none."""
        ...

    async def run(self, work: Callable[[], T]) -> T:
        """The result of `work` in a place of its own; ServiceUnavailableError at once when
        there is none."""
        ...

    async def run_for_operator(self, work: Callable[[], T]) -> T:
        """`run` for an operator's hashing (`users create`, `set-password`): bounded by the
        places like a sign-in, but never refused by, nor counted against, the rate of hashes
        that bounds what sign-ins may take."""
        ...


class SuccessorCipher(Protocol):
    """Authenticated encryption of a successor refresh token for the grace window (CONTRACT §6).

    `context` binds the ciphertext to the retired token, so it cannot be replayed for another.
    """

    def encrypt(self, value: str, context: bytes) -> bytes: ...

    def decrypt(self, blob: bytes, context: bytes) -> str | None:
        """The value, or None when the blob is not a valid encryption for this context."""
        ...


# ------------------------------------------------------------------------------------ events


class Events(Protocol):
    """Whoever watches the protocol's token events (protocol/events.py): no I/O, never fails."""

    def emit(self, event: Event) -> None: ...


# ----------------------------------------------------------------- shared token capabilities


class TokenAdder(Protocol):
    async def add_token(self, token: NewToken) -> None: ...


class FamilyRevoker(Protocol):
    async def revoke_family(self, family_id: UUID, now: int) -> int:
        """Revoke every live token descended from one authorization; returns how many."""
        ...


# ------------------------------------------------------------------------------------ grants


class RefreshGrantStore(FamilyRevoker, Protocol):
    async def load_refresh_context(
        self, client_id: UUID, secret_hash: bytes, token_hash: bytes
    ) -> RefreshContext | None:
        """The context for a refresh, or None when no connection of the client has that secret."""
        ...

    async def load_refresh_context_issuing(
        self, client_id: UUID, secret_hash: bytes, token_hash: bytes, access: TokenDraft
    ) -> tuple[RefreshContext | None, bool]:
        """`load_refresh_context`, and with it, where the store can do both in one statement,
        the access token `access` describes, stored only when the context passes every check of
        a refresh at `access.issued_at` (CONTRACT §2 checks 5-11) and the token is not retired.
        The flag says whether it was stored; when it is False, nothing was."""
        ...

    async def load_refresh_context_rotating(
        self, client_id: UUID, secret_hash: bytes, token_hash: bytes, rotation: RotationDraft
    ) -> tuple[RefreshContext | None, bool]:
        """`load_refresh_context`, and with it, where the store can do both in one statement,
        the rotation `rotation` describes (what `rotate` does, with the access token and the
        successor drafted), done only when the context passes every check of a refresh at
        `rotation.access.issued_at` and the token is neither retired nor revoked when it is
        retired. The flag says whether it was done; when it is False, nothing was written."""
        ...

    async def add_access_token(self, access: NewToken, *, revoke_earlier_access: bool) -> None:
        """Store an access token; optionally revoke its family's earlier access tokens with it."""
        ...

    async def rotate(
        self,
        retired_id: UUID,
        retired_at_ms: int,
        successor: NewToken,
        successor_value_enc: bytes | None,
        access: NewToken,
        *,
        revoke_earlier_access: bool,
    ) -> Rotated | LostRace:
        """Retire the presented refresh token and store its successor and the access token, in
        one transaction. `LostRace`, with nothing written, when the token was already retired
        or revoked: it carries the token as the request that won left it."""
        ...


class CodeStore(FamilyRevoker, Protocol):
    async def load_code_context(
        self, client_id: UUID, secret_hash: bytes, code_hash: bytes
    ) -> CodeContext | None:
        """The context, or None when no connection of the client has that secret."""
        ...

    async def consume_code(
        self, code_id: UUID, consumed_at_ms: int, refresh: NewToken, access: NewToken
    ) -> bool:
        """Mark the code used and store the tokens issued for it, in one transaction. False,
        with nothing written, when the code was already used or revoked."""
        ...


# ---------------------------------------------------------------------- login and consent


class ClientDirectory(Protocol):
    async def client_profile(self, client_id: UUID) -> ClientProfile | None: ...


class UserDirectory(Protocol):
    async def user_by_email(self, email: str) -> LoginUser | None:
        """The user with this email, whatever its case."""
        ...


class AccessTokenRevoker(Protocol):
    async def revoke_access_token(self, token_hash: bytes, now: int) -> bool:
        """Revoke the live access token with this hash; False when there is none."""
        ...


class TokenWriter(TokenAdder, AccessTokenRevoker, Protocol):
    """What the login needs of the tokens: issue a login token, revoke it at sign-out."""


class ApprovalLookup(Protocol):
    async def approved_scope(self, user_id: UUID, client_id: UUID) -> str | None:
        """The scope of the user's approval of the client, None without one."""
        ...


class BearerLookup(Protocol):
    async def bearer(self, token_hash: bytes) -> Bearer | None: ...


# ---------------------------------------------------------------------- operators: queries
# None of them returns a secret, a token value or a hash of either.


class ClientTypeLookup(Protocol):
    async def client_type_by_name(self, name: str) -> ClientTypeRecord | None: ...

    async def client_type_of(self, client_id: UUID) -> ClientTypeRecord | None: ...


class ClientLookup(Protocol):
    async def client(self, client_id: UUID) -> ClientRecord | None: ...

    async def client_count(self) -> int: ...

    async def client_details(self, client_id: UUID) -> ClientDetails | None: ...


class UserLookup(Protocol):
    async def user(self, user_id: UUID) -> UserRecord | None: ...


class ApprovalRecordLookup(Protocol):
    async def approval(self, user_id: UUID, client_id: UUID) -> ApprovalRecord | None: ...


class AdminListings(Protocol):
    async def client_types_page(self, page: PageRequest) -> Page[ClientTypeRecord]: ...

    async def clients_page(self, page: PageRequest) -> Page[ClientDetails]: ...

    async def users_page(self, page: PageRequest) -> Page[UserRecord]: ...

    async def approvals_page(
        self, page: PageRequest, user_id: UUID | None, client_id: UUID | None
    ) -> Page[ApprovalRecord]: ...

    async def tokens_page(
        self, page: PageRequest, user_id: UUID | None, client_id: UUID | None
    ) -> Page[TokenInfo]:
        """Newest first."""
        ...


class ApprovalQueries(UserLookup, ClientTypeLookup, ApprovalRecordLookup, Protocol):
    """What creating or widening an approval reads."""


class AdminQueries(
    ClientTypeLookup, ClientLookup, UserLookup, ApprovalRecordLookup, AdminListings, Protocol
):
    """Every read of the operator actions."""


# --------------------------------------------------------------------- operators: commands
# Each method is one atomic step.


class ClientTypeWriter(Protocol):
    async def add_client_type(self, record: ClientTypeRecord, now: int) -> None:
        """Raises ConflictError when the name is taken."""
        ...


class ClientWriter(Protocol):
    async def add_client(
        self, client: ClientRecord, connection: ConnectionRecord, now: int
    ) -> None: ...

    async def set_client_blocked(self, client_id: UUID, blocked: bool, now: int) -> bool:
        """False when there is no such client."""
        ...

    async def replace_connection_secret(
        self, client_id: UUID, connection_id: UUID, secret_hash: bytes, now: int
    ) -> ConnectionInfo | None:
        """Store the new secret's hash; None when the client has no such connection."""
        ...

    async def set_connection_consumer(
        self, client_id: UUID, connection_id: UUID, consumer_id: UUID | None, now: int
    ) -> ConnectionInfo | None:
        """Set the connection's consumer client; None when the client has no such connection."""
        ...


class UserWriter(Protocol):
    async def add_user(self, record: UserRecord, now: int) -> None:
        """Raises ConflictError when the email is taken (whatever its case)."""
        ...

    async def set_password_hash(self, user_id: UUID, password_hash: str, now: int) -> bool: ...

    async def block_user(self, user_id: UUID, now: int) -> bool:
        """Block the user and revoke all their tokens in one transaction."""
        ...

    async def unblock_user(self, user_id: UUID, now: int) -> bool:
        """False when there is no such user."""
        ...


class AttemptReset(Protocol):
    async def clear_attempts(self, account: bytes) -> bool:
        """Forget an account's counted login attempts; False when there were none."""
        ...


class ApprovalSaver(Protocol):
    async def save_approval(self, record: ApprovalRecord, now: int) -> ApprovalRecord:
        """Insert, or update the scope of the existing (user, client) approval; returns it."""
        ...


class ApprovalRemover(Protocol):
    async def delete_approval(self, user_id: UUID, client_id: UUID, now: int) -> bool:
        """Delete the approval and revoke that user's tokens for that client, atomically."""
        ...

    async def delete_approval_by_id(self, approval_id: UUID, now: int) -> bool:
        """Like delete_approval, for the approval with this id."""
        ...


class OperatorRevocations(Protocol):
    async def revoke_client_tokens(self, client_id: UUID, now: int) -> int:
        """Revoke every live token of the client; returns how many."""
        ...

    async def revoke_token(self, token_id: UUID, now: int) -> TokenInfo | None:
        """Revoke one token (an already revoked one keeps its time); None when there is none."""
        ...

    async def revoke_user_tokens(self, user_id: UUID, client_id: UUID | None, now: int) -> int:
        """Revoke the user's live tokens, of one client or of all; returns how many."""
        ...


class AdminCommands(
    ClientTypeWriter,
    ClientWriter,
    UserWriter,
    AttemptReset,
    ApprovalSaver,
    ApprovalRemover,
    TokenAdder,
    OperatorRevocations,
    Protocol,
):
    """Every write of the operator actions."""


# ----------------------------------------------------------------- verify and introspection


class VerifyStore(Protocol):
    async def load_token(self, value_hash: bytes) -> VerifyContext | None:
        """The token with this value hash and its context, or None when there is none."""
        ...


class VerifyCache(Protocol):
    """Contexts of tokens that verified, kept until an event that could change them.

    `ticket` is taken before the store is read and handed back to `put`: a put whose ticket an
    invalidation has outdated since is dropped, so a read that raced with a revocation is never
    kept. `ticket` is None while the cache cannot be trusted (then it is not used at all).
    """

    def ticket(self) -> int | None: ...

    def get(self, value_hash: bytes) -> VerifyContext | None: ...

    def put(self, value_hash: bytes, context: VerifyContext, ticket: int) -> None: ...


# ------------------------------------------------------- client authentication, revocation


class ClientSecretStore(Protocol):
    async def client_blocked(self, client_id: UUID, secret_hash: bytes) -> bool | None:
        """Whether the client is blocked, when one of its connections has this secret; None
        when none has it (or there is no such client)."""
        ...


class RevocationStore(FamilyRevoker, Protocol):
    async def token_by_hash(self, value_hash: bytes) -> RevocableToken | None: ...

    async def revoke_token(self, token_id: UUID, now: int) -> bool:
        """Revoke one live token; False when it was revoked already."""
        ...


# ---------------------------------------------------------------------------- the throttle


class FailureCounters(Protocol):
    """The shared counters (one row per key and window)."""

    async def add(
        self, keys: Sequence[CounterKey], window_start: int, expires_at: int, delta: int
    ) -> dict[bytes, int]:
        """Add `delta` to each key's count in the window, atomically per key; the new counts."""
        ...

    async def settle(self, refund: Sequence[CounterKey], forget: bytes, window_start: int) -> None:
        """A reserved attempt succeeded: take one off `refund`'s counts, drop `forget`'s."""
        ...

    async def at_least(self, now: int, failures: int) -> list[LiveCount]:
        """Counts of live windows with at least `failures` failures."""
        ...

    async def purge(self, now: int) -> int:
        """Delete the counters of windows that have ended; how many."""
        ...


# ------------------------------------------------------------------------------- the purge


class PurgeStore(Protocol):
    async def delete_dead_tokens(self, cutoff: int, limit: int) -> int:
        """Delete at most `limit` tokens expired or revoked before `cutoff`, in one transaction."""
        ...

    async def erase_successor_values(self, retired_before_ms: int) -> int:
        """Erase the encrypted successor values of tokens retired before the given time."""
        ...
