"""AdminService: client types, clients and their connections, against the fake admin store."""

from __future__ import annotations

import base64
from uuid import UUID

import pytest

from ehealth_auth.protocol.admin import AdminService
from ehealth_auth.protocol.errors import (
    ConflictError,
    InvalidClientError,
    NotFoundError,
    ValidationError,
)
from ehealth_auth.protocol.grants.refresh_token import RefreshTokenGrant
from ehealth_auth.protocol.paging import PageRequest
from ehealth_auth.protocol.records import ConnectionInfo
from tests.fakes import FakeClock, FakeDatabase, sha256
from tests.unit.builders import (
    CEILING,
    REDIRECT,
    World,
    add_connection,
    live_tokens,
    new_client,
    new_user,
    stored_token,
)
from tests.unit.invalid import failures

UNKNOWN = UUID("00000000-0000-4000-8000-000000000000")
BAD_URI = ("format", "must be an absolute http(s) URI without user info or a fragment", ())

# ------------------------------------------------------------------------------ client types


async def test_create_client_type_stores_trimmed_name_and_normalised_scope(
    admin: AdminService, db: FakeDatabase
) -> None:
    record = await admin.create_client_type("  MIS  ", " b  a\tb ")

    assert (record.name, record.scope) == ("MIS", "b a")
    assert db.client_types == {record.id: record}


async def test_create_client_type_accepts_empty_scope(admin: AdminService) -> None:
    assert (await admin.create_client_type("Viewer", "")).scope == ""


@pytest.mark.parametrize("name", ["", "   "])
async def test_create_client_type_rejects_blank_name(
    admin: AdminService, db: FakeDatabase, name: str
) -> None:
    with pytest.raises(ValidationError) as raised:
        await admin.create_client_type(name, CEILING)

    assert failures(raised.value) == [("$.client_type.name", "required", "can't be blank", ())]
    assert db.client_types == {}


async def test_create_client_type_rejects_name_over_255_characters(
    admin: AdminService, db: FakeDatabase
) -> None:
    assert (await admin.create_client_type("n" * 255, "")).name == "n" * 255

    with pytest.raises(ValidationError) as raised:
        await admin.create_client_type("m" * 256, "")

    assert failures(raised.value) == [
        ("$.client_type.name", "length", "should be at most 255 characters", ("255",))
    ]
    assert len(db.client_types) == 1


async def test_create_client_type_refuses_taken_name(admin: AdminService, db: FakeDatabase) -> None:
    first = await admin.create_client_type("MIS", CEILING)

    with pytest.raises(ConflictError):
        await admin.create_client_type(" MIS", "other")

    assert list(db.client_types.values()) == [first]


async def test_list_client_types_pages_by_name(admin: AdminService) -> None:
    for name in ("c", "a", "d", "b"):
        await admin.create_client_type(name, "")

    page = await admin.list_client_types(PageRequest(number=2, size=3))

    assert [record.name for record in page.entries] == ["d"]
    assert (page.total_entries, page.total_pages) == (4, 2)


# ----------------------------------------------------------------------------------- clients


async def test_create_client_stores_client_and_hash_of_its_secret(
    admin: AdminService, db: FakeDatabase
) -> None:
    kind = await admin.create_client_type("MIS", CEILING)

    new = await admin.create_client("  Clinic  ", " MIS ", f"  {REDIRECT} ")

    assert new.client_type == kind
    assert (new.client.name, new.client.client_type_id, new.client.is_blocked) == (
        "Clinic",
        kind.id,
        False,
    )
    assert db.clients == {new.client.id: new.client}
    assert db.connections == {new.connection.id: new.connection}
    assert new.connection.client_id == new.client.id
    assert new.connection.redirect_uri == REDIRECT
    assert new.connection.consumer_id is None
    assert new.connection.secret_hash == sha256(new.secret)
    assert new.secret not in repr(db)


async def test_create_client_secret_has_256_bits_and_is_never_reused(admin: AdminService) -> None:
    await admin.create_client_type("MIS", CEILING)

    first = await admin.create_client("A", "MIS", REDIRECT)
    second = await admin.create_client("B", "MIS", REDIRECT)

    raw = base64.urlsafe_b64decode(first.secret + "=" * (-len(first.secret) % 4))
    assert len(raw) == 32
    assert first.secret != second.secret


async def test_create_client_accepts_plain_http_redirect_uri_with_port(
    admin: AdminService,
) -> None:
    await admin.create_client_type("MIS", CEILING)

    new = await admin.create_client("Clinic", "MIS", "http://localhost:8080/cb")

    assert new.connection.redirect_uri == "http://localhost:8080/cb"


async def test_create_client_refuses_unknown_client_type(
    admin: AdminService, db: FakeDatabase
) -> None:
    with pytest.raises(NotFoundError) as raised:
        await admin.create_client("Clinic", "Nope", REDIRECT)

    assert (raised.value.status, raised.value.message) == (404, "Client type 'Nope' not found.")
    assert db.clients == {}


async def test_create_client_lists_every_bad_field_before_looking_up_the_type(
    admin: AdminService, db: FakeDatabase
) -> None:
    with pytest.raises(ValidationError) as raised:
        await admin.create_client(" ", "", "/cb")

    assert failures(raised.value) == [
        ("$.client.name", "required", "can't be blank", ()),
        ("$.client.client_type", "required", "can't be blank", ()),
        ("$.client.redirect_uri", *BAD_URI),
    ]
    assert db.clients == {}


async def test_create_client_rejects_name_over_255_characters(admin: AdminService) -> None:
    await admin.create_client_type("MIS", CEILING)

    with pytest.raises(ValidationError) as raised:
        await admin.create_client("x" * 256, "MIS", REDIRECT)

    assert [entry[:2] for entry in failures(raised.value)] == [("$.client.name", "length")]


@pytest.mark.parametrize(
    "uri",
    [
        "/cb",
        "mis.example.org/cb",
        "ftp://mis.example.org/cb",
        "https:///cb",
        "javascript:x",
        # Regressions: a malformed IPv6 host or port used to crash with a 500; a fragment,
        # forbidden in redirect URIs (RFC 6749 §3.1.2), used to be accepted.
        "http://[::1/cb",
        "http://mis.example.org:99999999/cb",
        "https://mis.example.org/cb#fragment",
        # Browsers read the host of this one as evil.example; Python as mis.example.org.
        "https://evil.example\\@mis.example.org/cb",
        "https://user@mis.example.org/cb",
    ],
)
async def test_create_client_rejects_redirect_uri_that_is_not_absolute_http(
    admin: AdminService, db: FakeDatabase, uri: str
) -> None:
    await admin.create_client_type("MIS", CEILING)

    with pytest.raises(ValidationError) as raised:
        await admin.create_client("Clinic", "MIS", uri)

    assert failures(raised.value) == [("$.client.redirect_uri", *BAD_URI)]
    assert db.clients == {}
    assert db.connections == {}


async def test_create_client_rejects_blank_redirect_uri_as_required(admin: AdminService) -> None:
    await admin.create_client_type("MIS", CEILING)

    with pytest.raises(ValidationError) as raised:
        await admin.create_client("Clinic", "MIS", "  ")

    assert failures(raised.value) == [("$.client.redirect_uri", "required", "can't be blank", ())]


async def test_has_clients_turns_true_with_the_first_client(admin: AdminService) -> None:
    assert await admin.has_clients() is False

    await new_client(admin)

    assert await admin.has_clients() is True


async def test_get_client_shows_type_and_connections_without_secrets(
    admin: AdminService, db: FakeDatabase
) -> None:
    new = await new_client(admin)

    details = await admin.get_client(new.client.id)

    assert details.client == new.client
    assert details.client_type == new.client_type
    assert details.connections == (
        ConnectionInfo(new.connection.id, new.client.id, REDIRECT, None),
    )
    assert new.secret not in repr(details)


async def test_get_client_refuses_unknown_client(admin: AdminService) -> None:
    with pytest.raises(NotFoundError) as raised:
        await admin.get_client(UNKNOWN)

    assert raised.value.message == "Client not found."


async def test_list_clients_pages_by_name(admin: AdminService) -> None:
    for name in ("Clinic C", "Clinic A", "Clinic B"):
        await new_client(admin, name)

    page = await admin.list_clients(PageRequest(number=1, size=2))

    assert [details.client.name for details in page.entries] == ["Clinic A", "Clinic B"]
    assert page.total_entries == 3


async def test_block_and_unblock_client_answer_with_its_new_state(
    admin: AdminService, db: FakeDatabase
) -> None:
    client_id = (await new_client(admin)).client.id

    blocked = await admin.block_client(client_id)
    assert blocked.client.is_blocked is True
    assert db.clients[client_id].is_blocked is True

    unblocked = await admin.unblock_client(client_id)
    assert unblocked.client.is_blocked is False
    assert db.clients[client_id].is_blocked is False


async def test_set_client_blocked_blocks_and_unblocks(
    admin: AdminService, db: FakeDatabase
) -> None:
    client_id = (await new_client(admin)).client.id

    await admin.set_client_blocked(client_id, True)
    assert db.clients[client_id].is_blocked is True

    await admin.set_client_blocked(client_id, False)
    assert db.clients[client_id].is_blocked is False


@pytest.mark.parametrize("action", ["block_client", "unblock_client"])
async def test_block_and_unblock_refuse_unknown_client(admin: AdminService, action: str) -> None:
    with pytest.raises(NotFoundError) as raised:
        await getattr(admin, action)(UNKNOWN)

    assert raised.value.message == "Client not found."


async def test_deactivate_client_tokens_revokes_only_live_tokens_of_that_client(
    admin: AdminService, db: FakeDatabase, clock: FakeClock
) -> None:
    client_id = (await new_client(admin, "A")).client.id
    other_id = (await new_client(admin, "B")).client.id
    user_id = (await new_user(admin)).id
    mine = {stored_token(db, user_id, client_id, clock.now()) for _ in range(2)}
    already_revoked = stored_token(db, user_id, client_id, clock.now())
    db.tokens[already_revoked].revoked_at = clock.now() - 10
    theirs = stored_token(db, user_id, other_id, clock.now())
    clock.advance(5)

    assert await admin.deactivate_client_tokens(client_id) == 2

    assert live_tokens(db) == {theirs}
    assert {db.tokens[token_id].revoked_at for token_id in mine} == {clock.now()}
    assert db.tokens[already_revoked].revoked_at == clock.now() - 15
    assert await admin.deactivate_client_tokens(client_id) == 0


async def test_deactivate_client_tokens_refuses_unknown_client(admin: AdminService) -> None:
    with pytest.raises(NotFoundError) as raised:
        await admin.deactivate_client_tokens(UNKNOWN)

    assert raised.value.message == "Client not found."


# ------------------------------------------------------------------------------- connections


async def test_rotate_connection_secret_replaces_secret_and_keeps_tokens(
    admin: AdminService, grant: RefreshTokenGrant, world: World, db: FakeDatabase
) -> None:
    old_params = world.params()

    new = await admin.rotate_connection_secret(world.client_id, world.connection_id)

    assert new.connection.id == world.connection_id
    assert new.connection.client_id == world.client_id
    assert db.connections[world.connection_id].secret_hash == sha256(new.secret)
    assert new.secret != world.client_secret
    with pytest.raises(InvalidClientError):
        await grant.handle(old_params)
    issued = await grant.handle(old_params | {"client_secret": new.secret})
    assert issued.user_id == world.user_id
    assert world.refresh_token_id in live_tokens(db)


async def test_rotate_connection_secret_leaves_other_connections_alone(
    admin: AdminService, world: World, db: FakeDatabase
) -> None:
    other_secret, other_id = add_connection(db, world.client_id)

    await admin.rotate_connection_secret(world.client_id, world.connection_id)

    assert db.connections[other_id].secret_hash == sha256(other_secret)


async def test_rotate_connection_secret_refuses_connection_of_another_client(
    admin: AdminService, world: World, db: FakeDatabase
) -> None:
    before = dict(db.connections)

    with pytest.raises(NotFoundError) as raised:
        await admin.rotate_connection_secret(world.other_client_id, world.connection_id)

    assert raised.value.message == "Connection not found."
    assert db.connections == before


async def test_rotate_connection_secret_refuses_unknown_connection(
    admin: AdminService, world: World
) -> None:
    with pytest.raises(NotFoundError) as raised:
        await admin.rotate_connection_secret(world.client_id, UNKNOWN)

    assert raised.value.message == "Connection not found."
