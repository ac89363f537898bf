"""views: plain data for every front end; secrets appear only where the contract shows them."""

from __future__ import annotations

import dataclasses
import json
import uuid

from ehealth_auth.protocol.model import IssuedToken, TokenName
from ehealth_auth.protocol.paging import Page, PageRequest
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
from ehealth_auth.protocol.views import (
    approval_view,
    client_type_view,
    client_view,
    connection_view,
    issued_token_view,
    new_client_view,
    new_secret_view,
    paging_view,
    token_info_view,
    user_view,
)

TYPE_ID = uuid.UUID("11111111-1111-4111-8111-111111111111")
CLIENT_ID = uuid.UUID("22222222-2222-4222-8222-222222222222")
CONNECTION_ID = uuid.UUID("33333333-3333-4333-8333-333333333333")
USER_ID = uuid.UUID("44444444-4444-4444-8444-444444444444")
APPROVAL_ID = uuid.UUID("55555555-5555-4555-8555-555555555555")
TOKEN_ID = uuid.UUID("66666666-6666-4666-8666-666666666666")
MIS_ID = uuid.UUID("77777777-7777-4777-8777-777777777777")


def test_client_type_view_shows_id_name_and_scope() -> None:
    view = client_type_view(ClientTypeRecord(TYPE_ID, "MIS", "a b"))

    assert view == {"id": str(TYPE_ID), "name": "MIS", "scope": "a b"}


def test_new_client_view_shows_secret_once_and_never_its_hash() -> None:
    secret_hash = b"\x01" * 32
    new = NewClient(
        client=ClientRecord(CLIENT_ID, "Clinic", TYPE_ID, is_blocked=False),
        client_type=ClientTypeRecord(TYPE_ID, "MIS", "a"),
        connection=ConnectionRecord(CONNECTION_ID, CLIENT_ID, secret_hash, "https://mis.test/cb"),
        secret="plain-secret",
    )

    view = new_client_view(new)

    assert view == {
        "id": str(CLIENT_ID),
        "name": "Clinic",
        "client_type": "MIS",
        "is_blocked": False,
        "connection": {
            "id": str(CONNECTION_ID),
            "redirect_uri": "https://mis.test/cb",
            "consumer_id": None,
            "secret": "plain-secret",
        },
    }
    assert secret_hash.hex() not in json.dumps(view)


def test_new_client_view_reports_blocked_flag() -> None:
    new = NewClient(
        client=ClientRecord(CLIENT_ID, "Clinic", TYPE_ID, is_blocked=True),
        client_type=ClientTypeRecord(TYPE_ID, "MIS", "a"),
        connection=ConnectionRecord(CONNECTION_ID, CLIENT_ID, b"", "https://mis.test/cb"),
        secret="s",
    )

    assert new_client_view(new)["is_blocked"] is True


def test_user_view_leaves_out_password_hash() -> None:
    view = user_view(UserRecord(USER_ID, "a@b.org", "fake-sha256$abc", is_blocked=True))

    assert view == {"id": str(USER_ID), "email": "a@b.org", "is_blocked": True}


def test_approval_view_shows_ids_as_strings_and_scope() -> None:
    view = approval_view(ApprovalRecord(APPROVAL_ID, USER_ID, CLIENT_ID, "a b"))

    assert view == {
        "id": str(APPROVAL_ID),
        "user_id": str(USER_ID),
        "client_id": str(CLIENT_ID),
        "scope": "a b",
    }


def test_issued_token_view_has_exactly_the_six_contract_fields() -> None:
    details = {"client_id": str(CLIENT_ID), "grant_type": "refresh_token", "scope": "a"}
    token = IssuedToken(
        TOKEN_ID, TokenName.ACCESS_TOKEN, "the-value", 1_700_000_600, USER_ID, details
    )

    view = issued_token_view(token)

    assert view == {
        "id": str(TOKEN_ID),
        "name": "access_token",
        "value": "the-value",
        "expires_at": 1_700_000_600,
        "user_id": str(USER_ID),
        "details": details,
    }
    assert type(view["name"]) is str
    assert type(view["expires_at"]) is int
    assert json.loads(json.dumps(view)) == view


def test_connection_view_shows_consumer_when_there_is_one() -> None:
    with_mis = ConnectionInfo(CONNECTION_ID, CLIENT_ID, "https://mis.test/cb", MIS_ID)
    without = ConnectionInfo(CONNECTION_ID, CLIENT_ID, "https://mis.test/cb")

    assert connection_view(with_mis) == {
        "id": str(CONNECTION_ID),
        "redirect_uri": "https://mis.test/cb",
        "consumer_id": str(MIS_ID),
    }
    assert connection_view(without)["consumer_id"] is None


def test_client_view_lists_connections_in_order() -> None:
    second_id = uuid.UUID("88888888-8888-4888-8888-888888888888")
    details = ClientDetails(
        client=ClientRecord(CLIENT_ID, "Clinic", TYPE_ID, is_blocked=True),
        client_type=ClientTypeRecord(TYPE_ID, "MIS", "a"),
        connections=(
            ConnectionInfo(CONNECTION_ID, CLIENT_ID, "https://one.test/cb"),
            ConnectionInfo(second_id, CLIENT_ID, "https://two.test/cb", MIS_ID),
        ),
    )

    assert client_view(details) == {
        "id": str(CLIENT_ID),
        "name": "Clinic",
        "client_type": "MIS",
        "is_blocked": True,
        "connections": [
            {"id": str(CONNECTION_ID), "redirect_uri": "https://one.test/cb", "consumer_id": None},
            {
                "id": str(second_id),
                "redirect_uri": "https://two.test/cb",
                "consumer_id": str(MIS_ID),
            },
        ],
    }


def test_new_secret_view_shows_the_new_secret() -> None:
    new = NewSecret(ConnectionInfo(CONNECTION_ID, CLIENT_ID, "https://mis.test/cb"), "fresh")

    assert new_secret_view(new) == {
        "id": str(CONNECTION_ID),
        "client_id": str(CLIENT_ID),
        "redirect_uri": "https://mis.test/cb",
        "secret": "fresh",
    }


def test_token_info_view_never_shows_value_or_details() -> None:
    info = TokenInfo(TOKEN_ID, "refresh_token", USER_ID, CLIENT_ID, "a b", 100, 700, None)

    view = token_info_view(info)

    assert view == {
        "id": str(TOKEN_ID),
        "name": "refresh_token",
        "user_id": str(USER_ID),
        "client_id": str(CLIENT_ID),
        "scope": "a b",
        "issued_at": 100,
        "expires_at": 700,
        "revoked_at": None,
    }
    assert token_info_view(dataclasses.replace(info, revoked_at=650))["revoked_at"] == 650


def test_paging_view_describes_the_page() -> None:
    page: Page[int] = Page(entries=(1, 2), request=PageRequest(number=3, size=2), total_entries=7)

    assert paging_view(page) == {
        "page_number": 3,
        "page_size": 2,
        "total_pages": 4,
        "total_entries": 7,
    }
