"""Plain-data views of records, shared by every front end (CLI, HTTP). Never a secret hash."""

from __future__ import annotations

from typing import Any

from ehealth_auth.protocol.admin import NewClient
from ehealth_auth.protocol.model import IssuedToken
from ehealth_auth.protocol.records import ApprovalRecord, ClientTypeRecord, UserRecord


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
            "secret": new.secret,
        },
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
