"""What the grants that present a stored item (a refresh token, an authorization code) check
alike, and how they answer with a new refresh token.

The shared checks, in the order both grants run them (CONTRACT §2 checks 5-8, the code
exchange of §3 likewise): a connection of the client has the presented secret; the client is not
blocked; an item of the grant's kind has the presented hash; it was issued to this client, and
through this connection when it was issued through one. Each grant then checks the item's own
state in its own order, and ends with `approved_scope` where its contract puts the user's checks.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic
from uuid import UUID

from ehealth_auth.protocol.errors import (
    AccessDeniedError,
    InvalidClientError,
    InvalidGrantError,
    TokenNotFoundError,
    UserBlockedError,
)
from ehealth_auth.protocol.model import GrantContext, IssuedToken, StoredT
from ehealth_auth.protocol.ports import SecretHasher
from ehealth_auth.protocol.throttle import ClientAuthenticationError
from ehealth_auth.protocol.validation import parse_uuid

ALREADY_USED = "Token has already been used."
NOT_ISSUED_TO_CLIENT = "Token not found or expired."

ContextLoader = Callable[[UUID, bytes, bytes], Awaitable[GrantContext[StoredT] | None]]
"""A store's one read: (client id, secret hash, presented item's hash) -> the context."""


@dataclass(frozen=True)
class Presented(Generic[StoredT]):
    """A request whose client and item passed the shared checks."""

    client_id: UUID
    context: GrantContext[StoredT]
    stored: StoredT
    item_hash: bytes  # the presented item's hash (`SecretHasher.digest`)


async def load_presented(
    load: ContextLoader[StoredT], hasher: SecretHasher, fields: Mapping[str, str], item_field: str
) -> Presented[StoredT]:
    """Read the context of `fields` (`client_id`, `client_secret` and the item under
    `item_field`) and run the shared checks on it."""
    client_id = parse_uuid(fields["client_id"])
    if client_id is None:
        raise ClientAuthenticationError()
    item_hash = hasher.digest(fields[item_field])
    context = await load(client_id, hasher.digest(fields["client_secret"]), item_hash)
    if context is None:
        raise ClientAuthenticationError()
    if context.client_blocked:
        raise InvalidClientError("Client is blocked.")
    stored = context.stored
    if stored is None:
        raise TokenNotFoundError()
    # An item issued through a connection is used with that connection's secret only.
    if stored.client_id != client_id or stored.connection_id not in (None, context.connection_id):
        raise InvalidGrantError(NOT_ISSUED_TO_CLIENT)
    return Presented(client_id, context, stored, item_hash)


def approved_scope(context: GrantContext[Any]) -> str:
    """The item's user is not blocked and still approves the calling client (CONTRACT §2
    checks 10-11); returns the approval's scope."""
    if context.user_blocked:
        raise UserBlockedError()
    if context.approval_scope is None:
        raise AccessDeniedError()
    return context.approval_scope


def with_refresh_token(access: IssuedToken, refresh_value: str) -> IssuedToken:
    """The answer shows the new refresh token; the stored access token's details never do."""
    return dataclasses.replace(access, details={**access.details, "refresh_token": refresh_value})
