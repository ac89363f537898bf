"""`POST /auth/login` with `grant_type=password` (RFC 6749 §4.3; CONTRACT §3): a user's login
token, an access token (usually scope `app:authorize`) in a family of its own.

Checks in order: fields, client, client blocked, scope ceiling, the account's attempt budget,
identity and password, user blocked. Unknown emails and wrong passwords get one answer after
the same work: a password is always verified, against a dummy hash when there is no user, and
attempts are counted per email whether or not an account has it, so neither the answer nor
the 429 tells which emails exist.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from uuid import UUID

from ehealth_auth.protocol.approvals import check_ceiling
from ehealth_auth.protocol.errors import (
    AccessDeniedError,
    InvalidClientError,
    TooManyRequestsError,
    UserBlockedError,
)
from ehealth_auth.protocol.events import NO_EVENTS, Event, Events, TokenEvent
from ehealth_auth.protocol.flow_ports import (
    ClientDirectory,
    LoginThrottle,
    TokenWriter,
    UserDirectory,
)
from ehealth_auth.protocol.model import IssuedToken, TokenName
from ehealth_auth.protocol.ports import Clock, PasswordHasher, SecretHasher
from ehealth_auth.protocol.tokens import mint
from ehealth_auth.protocol.validation import parse_uuid, require_strings

_FIELDS = ("email", "password", "client_id", "scope")
INVALID_CREDENTIALS = "Identity, password combination is wrong."
UNKNOWN_CLIENT = "Invalid client id."


@dataclass(frozen=True)
class LoginPolicy:
    """Login settings, built from settings at the edge."""

    max_failures: int = 5
    failure_window: int = 900
    token_ttl: int = 3600


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
        tokens: TokenWriter,
        throttle: LoginThrottle,
        hasher: SecretHasher,
        passwords: PasswordHasher,
        clock: Clock,
        policy: LoginPolicy,
        events: Events = NO_EVENTS,
    ) -> None:
        self._events = events
        self._clients = clients
        self._users = users
        self._tokens = tokens
        self._throttle = throttle
        self._hasher = hasher
        self._passwords = passwords
        self._clock = clock
        self._policy = policy
        self._dummy_hash: str | None = None

    async def handle(
        self, params: Mapping[str, object], requested_scope: str | None = None
    ) -> IssuedToken:
        del requested_scope  # the login's scope is its own `scope` field
        fields = require_strings(params, _FIELDS, "$.token")
        client_id = parse_uuid(fields["client_id"])
        client = None if client_id is None else await self._clients.client_profile(client_id)
        if client is None:
            raise InvalidClientError(UNKNOWN_CLIENT)
        if client.is_blocked:
            raise InvalidClientError("Client is blocked.")
        scope = check_ceiling(fields["scope"], client.type_scope, "$.token.scope")
        user_id = await self.verify_credentials(fields["email"], fields["password"])
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

    async def verify_credentials(self, email: str, password: str) -> UUID:
        """The user's id when the password is right, the account may try and is not blocked."""
        account = account_key(self._hasher, email)
        retry_after = await self._throttle.count_attempt(
            account, self._clock.now(), self._policy.failure_window, self._policy.max_failures
        )
        if retry_after is not None:
            raise TooManyRequestsError(retry_after)
        dummy = await self._dummy()
        user = await self._users.user_by_email(normalize_email(email))
        # argon2 takes tens of milliseconds of CPU: off the event loop, so others are served.
        valid = await asyncio.to_thread(
            self._passwords.verify, user.password_hash if user else dummy, password
        )
        if user is None or not valid:
            raise AccessDeniedError(INVALID_CREDENTIALS)
        await self._throttle.clear_attempts(account)
        if user.is_blocked:
            raise UserBlockedError()
        return user.id

    async def _dummy(self) -> str:
        # Made on the first login of the process, whoever it is for, so that its cost tells
        # nothing about the email either.
        if self._dummy_hash is None:
            self._dummy_hash = await asyncio.to_thread(
                self._passwords.hash, secrets.token_urlsafe(16)
            )
        return self._dummy_hash
