"""`POST /auth/login` with `grant_type=password` (RFC 6749 §4.3; CONTRACT §3): a user's login
token, an access token (usually scope `app:authorize`) in a family of its own.

Checks in order: fields, client, client blocked, scope ceiling, the attempt budget (of the
source address, of the account from that address, of the account from everywhere:
protocol/throttle.py), identity and password, user blocked, and the user's approval of every
scope beyond `app:authorize`. Unknown emails and wrong passwords get one answer after the same
work: a password is always verified, against a dummy hash when there is no user, and attempts
are counted per email whether or not an account has it, so neither the answer nor the 429 tells
which emails exist. Password hashing runs through `PasswordWork`: never on the event loop, a
bounded number at once, and a login takes its place there before any lookup, so that one refused
for want of a place (503) costs no database work.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Mapping
from uuid import UUID

from ehealth_auth.protocol import scope as scopes
from ehealth_auth.protocol.approvals import check_ceiling
from ehealth_auth.protocol.errors import (
    AccessDeniedError,
    InvalidClientError,
    InvalidEntry,
    Rule,
    ServiceUnavailableError,
    UserBlockedError,
    ValidationError,
)
from ehealth_auth.protocol.events import NO_EVENTS, Event, TokenEvent
from ehealth_auth.protocol.model import IssuedToken, TokenName
from ehealth_auth.protocol.policy import LoginPolicy
from ehealth_auth.protocol.ports import (
    ApprovalLookup,
    ClientDirectory,
    Clock,
    Events,
    PasswordHasher,
    PasswordWork,
    ReservedPasswordWork,
    SecretHasher,
    TokenWriter,
    UserDirectory,
)
from ehealth_auth.protocol.throttle import FailureThrottle
from ehealth_auth.protocol.tokens import mint
from ehealth_auth.protocol.validation import parse_uuid, require_strings

_FIELDS = ("email", "password", "client_id", "scope")
INVALID_CREDENTIALS = "Identity, password combination is wrong."
UNKNOWN_CLIENT = "Invalid client id."
APP_AUTHORIZE = "app:authorize"
NOT_APPROVED = "Scope is not approved by the user for this client: {}."


def _not_approved(missing: list[str]) -> ValidationError:
    message = NOT_APPROVED.format(" ".join(missing))
    rule = Rule("approval", "is not approved by the user for this client", tuple(missing))
    return ValidationError((InvalidEntry("$.token.scope", (rule,)),), message=message)


def normalize_email(email: str) -> str:
    return email.strip().lower()


def account_key(hasher: SecretHasher, email: str) -> bytes:
    """The attempt counter's key: a keyed digest, so the table never names an account."""
    return hasher.digest("login-account:" + normalize_email(email))


class PasswordGrant:
    grant_type = "password"

    def __init__(
        self,
        clients: ClientDirectory,
        users: UserDirectory,
        approvals: ApprovalLookup,
        tokens: TokenWriter,
        throttle: FailureThrottle,
        hasher: SecretHasher,
        passwords: PasswordHasher,
        work: PasswordWork,
        clock: Clock,
        policy: LoginPolicy,
        events: Events = NO_EVENTS,
    ) -> None:
        self._events = events
        self._clients = clients
        self._users = users
        self._approvals = approvals
        self._tokens = tokens
        self._throttle = throttle
        self._hasher = hasher
        self._passwords = passwords
        self._work = work
        self._clock = clock
        self._policy = policy
        self._dummy_hash: str | None = None
        self._dummy_made = asyncio.Lock()

    async def handle(
        self,
        params: Mapping[str, object],
        requested_scope: str | None = None,
        *,
        source: str = "",
    ) -> IssuedToken:
        """`source` is the caller's address, for the attempt budget; the login's scope is its
        own `scope` field, not `requested_scope`."""
        del requested_scope
        fields = require_strings(params, _FIELDS, "$.token")
        # The place for its hashing is taken before any other work for it: a login refused for
        # want of one (503) has cost no lookup and no write.
        with self._work.reserve() as work:
            client_id = parse_uuid(fields["client_id"])
            client = None if client_id is None else await self._clients.client_profile(client_id)
            if client is None:
                raise InvalidClientError(UNKNOWN_CLIENT)
            if client.is_blocked:
                raise InvalidClientError("Client is blocked.")
            scope = check_ceiling(fields["scope"], client.type_scope, "$.token.scope")
            user_id = await self._verify(work, fields["email"], fields["password"], source)
        beyond = [item for item in scopes.parse(scope) if item != APP_AUTHORIZE]
        if beyond:
            # A login token must not carry what the user never approved for this client.
            approved = await self._approvals.approved_scope(user_id, client.id)
            missing = scopes.outside_ceiling(" ".join(beyond), approved or "")
            if missing:
                raise _not_approved(missing)
        now = self._clock.now()
        minted = mint(
            self._hasher,
            name=TokenName.ACCESS_TOKEN,
            now=now,
            ttl=self._policy.token_ttl,
            user_id=user_id,
            client_id=client.id,
            scope=scope,
            details={"client_id": str(client.id), "grant_type": self.grant_type, "scope": scope},
        )
        await self._tokens.add_token(minted.record)
        self._events.emit(Event(TokenEvent.ISSUED, self.grant_type, client.id, user_id))
        return minted.issued

    async def sign_out(self, login_token: str) -> bool:
        """Revoke a login token (the browser's sign-out); False when it was not live."""
        return await self._tokens.revoke_access_token(
            self._hasher.digest(login_token), self._clock.now()
        )

    async def verify_credentials(self, email: str, password: str, source: str = "") -> UUID:
        """The user's id when the password is right, the attempt is within its budget and the
        user is not blocked. The attempt is counted before the password is checked (so that
        simultaneous guesses cannot pass the limits) and taken back when the password is right.
        """
        with self._work.reserve() as work:  # 503 at once, before any other work for it
            return await self._verify(work, email, password, source)

    async def _verify(
        self, work: ReservedPasswordWork, email: str, password: str, source: str
    ) -> UUID:
        account = account_key(self._hasher, email)
        await self._throttle.check(source, account)
        await self._throttle.count(source, account)
        try:
            dummy = await self._dummy(work)
            user = await self._users.user_by_email(normalize_email(email))
            stored = user.password_hash if user else dummy
            valid = await work.run(lambda: self._passwords.verify(stored, password))
        except ServiceUnavailableError:
            await self._throttle.take_back(source, account)  # not checked: not an attempt
            raise
        if user is None or not valid:
            raise AccessDeniedError(INVALID_CREDENTIALS)
        await self._throttle.succeeded(source, account)
        if user.is_blocked:
            raise UserBlockedError()
        return user.id

    async def _dummy(self, work: ReservedPasswordWork) -> str:
        # Made on the first login of the process, whoever it is for, so that its cost tells
        # nothing about the email either.
        async with self._dummy_made:  # once, however many logins arrive together
            if self._dummy_hash is None:
                self._dummy_hash = await work.run(
                    lambda: self._passwords.hash(secrets.token_urlsafe(16))
                )
            return self._dummy_hash
