"""Operator actions shared by the admin CLI and the admin API: one service layer, no logic twice."""

from __future__ import annotations

import secrets
import uuid
from uuid import UUID

from ehealth_auth.protocol import scope as scopes
from ehealth_auth.protocol.approvals import Approver
from ehealth_auth.protocol.errors import NotFoundError, Rule
from ehealth_auth.protocol.events import NO_EVENTS, Event, TokenEvent
from ehealth_auth.protocol.grants.password import account_key
from ehealth_auth.protocol.model import IssuedToken, TokenName
from ehealth_auth.protocol.paging import Page, PageRequest
from ehealth_auth.protocol.policy import TokenPolicy
from ehealth_auth.protocol.ports import (
    AdminCommands,
    AdminQueries,
    Clock,
    Events,
    PasswordHasher,
    PasswordWork,
    SecretHasher,
)
from ehealth_auth.protocol.records import (
    ApprovalRecord,
    ClientDetails,
    ClientRecord,
    ClientTypeRecord,
    ConnectionInfo,
    ConnectionRecord,
    NewClient,
    NewSecret,
    TokenInfo,
    UserRecord,
)
from ehealth_auth.protocol.tokens import mint
from ehealth_auth.protocol.validation import NAME_MAX_LENGTH, FieldChecks

SECRET_BYTES = 32  # 256 bits
_MINTABLE = (TokenName.ACCESS_TOKEN, TokenName.REFRESH_TOKEN)
TOKEN_NAME_NOT_MINTABLE = Rule(
    "inclusion", "must be access_token or refresh_token", tuple(name.value for name in _MINTABLE)
)


class AdminService:
    """`queries` and `commands` are the store's two sides; `approver` creates and widens
    approvals, for operators as for the consent page."""

    def __init__(
        self,
        queries: AdminQueries,
        commands: AdminCommands,
        approver: Approver,
        hasher: SecretHasher,
        passwords: PasswordHasher,
        clock: Clock,
        policy: TokenPolicy,
        work: PasswordWork,
        events: Events = NO_EVENTS,
    ) -> None:
        self._events = events
        self._queries = queries
        self._commands = commands
        self._hasher = hasher
        self._passwords = passwords
        self._work = work
        self._clock = clock
        self._policy = policy
        self._approver = approver

    # ---------------------------------------------------------------------------- client types

    async def create_client_type(self, name: str, scope: str) -> ClientTypeRecord:
        checks = FieldChecks("client_type")
        name = checks.required("name", name, NAME_MAX_LENGTH)
        checks.text("scope", scope)
        checks.raise_if_any()
        record = ClientTypeRecord(uuid.uuid4(), name, " ".join(scopes.parse(scope)))
        await self._commands.add_client_type(record, self._clock.now())
        return record

    async def list_client_types(self, page: PageRequest) -> Page[ClientTypeRecord]:
        return await self._queries.client_types_page(page)

    # --------------------------------------------------------------------------------- clients

    async def create_client(
        self, name: str, client_type: str, redirect_uri: str, consumer_id: UUID | None = None
    ) -> NewClient:
        """`consumer_id` names the MIS client behind the connection (verify's mis_client_id)."""
        checks = FieldChecks("client")
        name = checks.required("name", name, NAME_MAX_LENGTH)
        client_type = checks.required("client_type", client_type)
        redirect_uri = checks.redirect_uri("redirect_uri", redirect_uri)
        checks.raise_if_any()
        kind = await self._queries.client_type_by_name(client_type)
        if kind is None:
            raise NotFoundError(f"Client type {client_type!r} not found.")
        await self._consumer_exists(consumer_id)
        client = ClientRecord(uuid.uuid4(), name, kind.id, is_blocked=False)
        secret = secrets.token_urlsafe(SECRET_BYTES)
        connection = ConnectionRecord(
            id=uuid.uuid4(),
            client_id=client.id,
            secret_hash=self._hasher.digest(secret),
            redirect_uri=redirect_uri,
            consumer_id=consumer_id,
        )
        await self._commands.add_client(client, connection, self._clock.now())
        return NewClient(client, kind, connection, secret)

    async def _consumer_exists(self, consumer_id: UUID | None) -> None:
        if consumer_id is not None and await self._queries.client(consumer_id) is None:
            raise NotFoundError("Consumer client not found.")

    async def set_connection_consumer(
        self, client_id: UUID, connection_id: UUID, consumer_id: UUID | None
    ) -> ConnectionInfo:
        """Name (or, with None, forget) the MIS client that uses a connection."""
        await self._consumer_exists(consumer_id)
        connection = await self._commands.set_connection_consumer(
            client_id, connection_id, consumer_id, self._clock.now()
        )
        if connection is None:
            raise NotFoundError("Connection not found.")
        return connection

    async def has_clients(self) -> bool:
        return await self._queries.client_count() > 0

    async def get_client(self, client_id: UUID) -> ClientDetails:
        details = await self._queries.client_details(client_id)
        if details is None:
            raise NotFoundError("Client not found.")
        return details

    async def list_clients(self, page: PageRequest) -> Page[ClientDetails]:
        return await self._queries.clients_page(page)

    async def set_client_blocked(self, client_id: UUID, blocked: bool) -> None:
        if not await self._commands.set_client_blocked(client_id, blocked, self._clock.now()):
            raise NotFoundError("Client not found.")

    async def block_client(self, client_id: UUID) -> ClientDetails:
        await self.set_client_blocked(client_id, True)
        return await self.get_client(client_id)

    async def unblock_client(self, client_id: UUID) -> ClientDetails:
        await self.set_client_blocked(client_id, False)
        return await self.get_client(client_id)

    async def deactivate_client_tokens(self, client_id: UUID) -> int:
        if await self._queries.client(client_id) is None:
            raise NotFoundError("Client not found.")
        count = await self._commands.revoke_client_tokens(client_id, self._clock.now())
        self._revoked("deactivate_client_tokens", count, client_id=client_id)
        return count

    def _revoked(
        self,
        action: str,
        count: int | None,
        *,
        client_id: UUID | None = None,
        user_id: UUID | None = None,
    ) -> None:
        event = Event(
            TokenEvent.REVOKED_BY_OPERATOR,
            client_id=client_id,
            user_id=user_id,
            count=count,
            action=action,
        )
        self._events.emit(event)

    async def rotate_connection_secret(self, client_id: UUID, connection_id: UUID) -> NewSecret:
        """Replace a connection's secret: the old one stops working at once, tokens stay."""
        secret = secrets.token_urlsafe(SECRET_BYTES)
        connection = await self._commands.replace_connection_secret(
            client_id, connection_id, self._hasher.digest(secret), self._clock.now()
        )
        if connection is None:
            raise NotFoundError("Connection not found.")
        return NewSecret(connection, secret)

    # ----------------------------------------------------------------------------------- users

    async def create_user(self, email: str, password: str) -> UserRecord:
        checks = FieldChecks("user")
        email = checks.email("email", email)
        checks.password("password", password)
        checks.raise_if_any()
        password_hash = await self._work.run_for_operator(lambda: self._passwords.hash(password))
        record = UserRecord(uuid.uuid4(), email, password_hash, is_blocked=False)
        await self._commands.add_user(record, self._clock.now())
        return record

    async def get_user(self, user_id: UUID) -> UserRecord:
        record = await self._queries.user(user_id)
        if record is None:
            raise NotFoundError("User not found.")
        return record

    async def list_users(self, page: PageRequest) -> Page[UserRecord]:
        return await self._queries.users_page(page)

    async def set_password(self, user_id: UUID, password: str) -> UserRecord:
        """Replace the user's password and lift any login lockout of their account."""
        checks = FieldChecks("user")
        checks.password("password", password)
        checks.raise_if_any()
        user = await self.get_user(user_id)
        password_hash = await self._work.run_for_operator(lambda: self._passwords.hash(password))
        await self._commands.set_password_hash(user_id, password_hash, self._clock.now())
        await self._commands.clear_attempts(account_key(self._hasher, user.email))
        return UserRecord(user.id, user.email, password_hash, user.is_blocked)

    async def clear_login_attempts(self, email: str) -> bool:
        """Lift the login lockout of an email; False when it had no counted attempts."""
        checks = FieldChecks("user")
        email = checks.required("email", email)
        checks.raise_if_any()
        return await self._commands.clear_attempts(account_key(self._hasher, email))

    async def block_user(self, user_id: UUID) -> UserRecord:
        """Block the user and revoke all their tokens (CONTRACT §5)."""
        if not await self._commands.block_user(user_id, self._clock.now()):
            raise NotFoundError("User not found.")
        self._revoked("block_user", None, user_id=user_id)
        return await self.get_user(user_id)

    async def unblock_user(self, user_id: UUID) -> UserRecord:
        """Unblocking revives no token: the user signs in again."""
        if not await self._commands.unblock_user(user_id, self._clock.now()):
            raise NotFoundError("User not found.")
        return await self.get_user(user_id)

    async def revoke_user_tokens(self, user_id: UUID, client_id: UUID | None = None) -> int:
        """Log the user out: of one client, or of every client when none is named."""
        await self.get_user(user_id)
        if client_id is not None and await self._queries.client(client_id) is None:
            raise NotFoundError("Client not found.")
        count = await self._commands.revoke_user_tokens(user_id, client_id, self._clock.now())
        self._revoked("logout_user", count, client_id=client_id, user_id=user_id)
        return count

    # ------------------------------------------------------------------------------- approvals

    async def approve(self, user_id: UUID, client_id: UUID, scope: str) -> ApprovalRecord:
        """Create or widen the user's approval of the client (CONTRACT §3)."""
        checks = FieldChecks("approval")
        scope = checks.required("scope", scope)
        checks.raise_if_any()
        return await self._approver.approve(user_id, client_id, scope, "$.approval.scope")

    async def list_approvals(
        self, page: PageRequest, user_id: UUID | None = None, client_id: UUID | None = None
    ) -> Page[ApprovalRecord]:
        return await self._queries.approvals_page(page, user_id, client_id)

    async def delete_approval(self, user_id: UUID, client_id: UUID) -> None:
        if not await self._commands.delete_approval(user_id, client_id, self._clock.now()):
            raise NotFoundError("Approval not found.")
        self._revoked("delete_approval", None, client_id=client_id, user_id=user_id)

    async def delete_approval_by_id(self, approval_id: UUID) -> None:
        """Delete the approval and revoke that user's tokens for that client (CONTRACT §5)."""
        if not await self._commands.delete_approval_by_id(approval_id, self._clock.now()):
            raise NotFoundError("Approval not found.")
        self._revoked("delete_approval", None)

    # ---------------------------------------------------------------------------------- tokens

    async def create_token(
        self,
        name: TokenName,
        user_id: UUID,
        client_id: UUID,
        expires_at: int | None = None,
    ) -> IssuedToken:
        """Mint an access or refresh token with the user's current approval scope."""
        if name not in _MINTABLE:
            checks = FieldChecks("token")
            checks.fail("name", TOKEN_NAME_NOT_MINTABLE)
            checks.raise_if_any()
        approval = await self._queries.approval(user_id, client_id)
        if approval is None:
            raise NotFoundError("Approval not found: approve the client for the user first.")
        now = self._clock.now()
        ttl = (
            self._policy.refresh_ttl if name is TokenName.REFRESH_TOKEN else self._policy.access_ttl
        )
        minted = mint(
            self._hasher,
            name=name,
            now=now,
            ttl=ttl if expires_at is None else expires_at - now,
            user_id=user_id,
            client_id=client_id,
            scope=approval.scope,
            details={"client_id": str(client_id), "scope": approval.scope},
        )
        await self._commands.add_token(minted.record)
        return minted.issued

    async def list_tokens(
        self, page: PageRequest, user_id: UUID | None = None, client_id: UUID | None = None
    ) -> Page[TokenInfo]:
        return await self._queries.tokens_page(page, user_id, client_id)

    async def revoke_token(self, token_id: UUID) -> TokenInfo:
        token = await self._commands.revoke_token(token_id, self._clock.now())
        if token is None:
            raise NotFoundError("Token not found.")
        self._revoked("revoke_token", 1, client_id=token.client_id, user_id=token.user_id)
        return token
