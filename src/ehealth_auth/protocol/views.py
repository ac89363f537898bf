"""Plain-data views of records, shared by every front end (CLI, HTTP). Never a secret hash."""

from __future__ import annotations

from typing import Any

from ehealth_auth.protocol.model import IssuedToken
from ehealth_auth.protocol.paging import Page
from ehealth_auth.protocol.records import (
    ApprovalRecord,
    ClientDetails,
    ClientTypeRecord,
    ConnectionInfo,
    NewClient,
    NewSecret,
    TokenInfo,
    UserRecord,
)


def client_type_view(record: ClientTypeRecord) -> dict[str, Any]:
    return {"id": str(record.id), "name": record.name, "scope": record.scope}


def new_client_view(new: NewClient) -> dict[str, Any]:
    return {
        "id": str(new.client.id),
        "name": new.client.name,
        "client_type": new.client_type.name,
        "is_blocked": new.client.is_blocked,
        "connection": {
            "id": str(new.connection.id),
            "redirect_uri": new.connection.redirect_uri,
            "consumer_id": None
            if new.connection.consumer_id is None
            else str(new.connection.consumer_id),
            "secret": new.secret,
        },
    }


def connection_view(record: ConnectionInfo) -> dict[str, Any]:
    return {
        "id": str(record.id),
        "redirect_uri": record.redirect_uri,
        "consumer_id": None if record.consumer_id is None else str(record.consumer_id),
    }


def client_view(details: ClientDetails) -> dict[str, Any]:
    return {
        "id": str(details.client.id),
        "name": details.client.name,
        "client_type": details.client_type.name,
        "is_blocked": details.client.is_blocked,
        "connections": [connection_view(connection) for connection in details.connections],
    }


def new_secret_view(new: NewSecret) -> dict[str, Any]:
    """A connection with its new secret: the one answer that ever shows it."""
    return {
        "id": str(new.connection.id),
        "client_id": str(new.connection.client_id),
        "redirect_uri": new.connection.redirect_uri,
        "secret": new.secret,
    }


def user_view(record: UserRecord) -> dict[str, Any]:
    return {"id": str(record.id), "email": record.email, "is_blocked": record.is_blocked}


def approval_view(record: ApprovalRecord) -> dict[str, Any]:
    return {
        "id": str(record.id),
        "user_id": str(record.user_id),
        "client_id": str(record.client_id),
        "scope": record.scope,
    }


def issued_token_view(token: IssuedToken) -> dict[str, Any]:
    """The six fields of CONTRACT §2 `data`; the value appears here and nowhere else."""
    return {
        "id": str(token.id),
        "name": token.name.value,
        "value": token.value,
        "expires_at": token.expires_at,
        "user_id": str(token.user_id),
        "details": token.details,
    }


def token_info_view(token: TokenInfo) -> dict[str, Any]:
    """A stored token for operators: never its value, nor its details (which may hold one)."""
    return {
        "id": str(token.id),
        "name": token.name,
        "user_id": str(token.user_id),
        "client_id": str(token.client_id),
        "scope": token.scope,
        "issued_at": token.issued_at,
        "expires_at": token.expires_at,
        "revoked_at": token.revoked_at,
    }


def paging_view(page: Page[Any]) -> dict[str, int]:
    """The `paging` object of the eHealth list envelope."""
    return {
        "page_number": page.request.number,
        "page_size": page.request.size,
        "total_pages": page.total_pages,
        "total_entries": page.total_entries,
    }
