"""Operator actions (admin CLI, later the admin API): one service layer, no logic twice."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from urllib.parse import urlsplit
from uuid import UUID

from ehealth_auth.protocol import scope as scopes
from ehealth_auth.protocol.admin_ports import AdminStore
from ehealth_auth.protocol.approvals import SCOPE_NOT_ALLOWED, Approver
from ehealth_auth.protocol.errors import NotFoundError, ValidationError
from ehealth_auth.protocol.grants.password import account_key
from ehealth_auth.protocol.model import IssuedToken, TokenName, TokenPolicy
from ehealth_auth.protocol.ports import Clock, PasswordHasher, SecretHasher
from ehealth_auth.protocol.records import (
    ApprovalRecord,
    ClientRecord,
    ClientTypeRecord,
    ConnectionRecord,
    UserRecord,
)
from ehealth_auth.protocol.tokens import mint

SECRET_BYTES = 32  # 256 bits
MIN_PASSWORD_LENGTH = 8
__all__ = ["SCOPE_NOT_ALLOWED", "AdminService", "NewClient"]


@dataclass(frozen=True)
class NewClient:
    client: ClientRecord
    client_type: ClientTypeRecord
    connection: ConnectionRecord
    secret: str  # shown to the operator once, never stored


def _require(value: str, field: str, *, message: str = "can't be blank") -> str:
    value = value.strip()
    if not value:
        raise ValidationError(message=f"{field}: {message}")
    return value


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationError(
            message=f"password: must be at least {MIN_PASSWORD_LENGTH} characters"
        )


def _check_redirect_uri(uri: str) -> str:
    parts = urlsplit(uri.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationError(message="redirect_uri: must be an absolute http(s) URI")
    return uri.strip()


class AdminService:
    def __init__(
        self,
        store: AdminStore,
        hasher: SecretHasher,
        passwords: PasswordHasher,
        clock: Clock,
        policy: TokenPolicy,
    ) -> None:
        self._store = store
        self._hasher = hasher
        self._passwords = passwords
        self._clock = clock
        self._policy = policy
        self._approver = Approver(store, clock)

    async def create_client_type(self, name: str, scope: str) -> ClientTypeRecord:
        record = ClientTypeRecord(
            uuid.uuid4(), _require(name, "name"), " ".join(scopes.parse(scope))
        )
        await self._store.add_client_type(record, self._clock.now())
        return record

    async def create_client(self, name: str, client_type: str, redirect_uri: str) -> NewClient:
        kind = await self._store.client_type_by_name(client_type)
        if kind is None:
            raise NotFoundError(f"Client type {client_type!r} not found.")
        client = ClientRecord(uuid.uuid4(), _require(name, "name"), kind.id, is_blocked=False)
        secret = secrets.token_urlsafe(SECRET_BYTES)
        connection = ConnectionRecord(
            id=uuid.uuid4(),
            client_id=client.id,
            secret_hash=self._hasher.digest(secret),
            redirect_uri=_check_redirect_uri(redirect_uri),
        )
        await self._store.add_client(client, connection, self._clock.now())
        return NewClient(client, kind, connection, secret)

    async def has_clients(self) -> bool:
        return await self._store.client_count() > 0

    async def set_client_blocked(self, client_id: UUID, blocked: bool) -> None:
        if not await self._store.set_client_blocked(client_id, blocked, self._clock.now()):
            raise NotFoundError("Client not found.")

    async def deactivate_client_tokens(self, client_id: UUID) -> int:
        if await self._store.client(client_id) is None:
            raise NotFoundError("Client not found.")
        return await self._store.revoke_client_tokens(client_id, self._clock.now())

    async def create_user(self, email: str, password: str) -> UserRecord:
        email = _require(email, "email")
        if "@" not in email.strip("@") or len(email) > 320:
            raise ValidationError(message="email: is not a valid email address")
        _check_password(password)
        record = UserRecord(uuid.uuid4(), email, self._passwords.hash(password), is_blocked=False)
        await self._store.add_user(record, self._clock.now())
        return record

    async def set_password(self, user_id: UUID, password: str) -> UserRecord:
        """Replace the user's password and lift any login lockout of their account."""
        _check_password(password)
        user = await self._store.user(user_id)
        if user is None:
            raise NotFoundError("User not found.")
        password_hash = self._passwords.hash(password)
        await self._store.set_password_hash(user_id, password_hash, self._clock.now())
        await self._store.clear_attempts(account_key(self._hasher, user.email))
        return UserRecord(user.id, user.email, password_hash, user.is_blocked)

    async def clear_login_attempts(self, email: str) -> bool:
        """Lift the login lockout of an email; False when it had no counted attempts."""
        return await self._store.clear_attempts(account_key(self._hasher, _require(email, "email")))

    async def block_user(self, user_id: UUID) -> None:
        if not await self._store.block_user(user_id, self._clock.now()):
            raise NotFoundError("User not found.")

    async def approve(self, user_id: UUID, client_id: UUID, scope: str) -> ApprovalRecord:
        """Create or widen the user's approval of the client (CONTRACT §3)."""
        return await self._approver.approve(user_id, client_id, _require(scope, "scope"))

    async def list_approvals(
        self, user_id: UUID | None = None, client_id: UUID | None = None
    ) -> list[ApprovalRecord]:
        return await self._store.approvals(user_id, client_id)

    async def delete_approval(self, user_id: UUID, client_id: UUID) -> None:
        if not await self._store.delete_approval(user_id, client_id, self._clock.now()):
            raise NotFoundError("Approval not found.")

    async def create_token(
        self,
        name: TokenName,
        user_id: UUID,
        client_id: UUID,
        expires_at: int | None = None,
    ) -> IssuedToken:
        """Mint an access or refresh token with the user's current approval scope."""
        if name is TokenName.AUTHORIZATION_CODE:
            raise ValidationError(message="name: must be access_token or refresh_token")
        approval = await self._store.approval(user_id, client_id)
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
        await self._store.add_token(minted.record)
        return minted.issued
