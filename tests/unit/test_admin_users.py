"""AdminService: users (create, look up, list, set password, unlock, block, unblock, log out)."""

from __future__ import annotations

from uuid import UUID

import pytest

from ehealth_auth.protocol.admin import AdminService
from ehealth_auth.protocol.errors import ConflictError, NotFoundError, ValidationError
from ehealth_auth.protocol.grants.password import account_key
from ehealth_auth.protocol.paging import PageRequest
from tests.fakes import (
    FailureRow,
    FakeClock,
    FakeDatabase,
    FakePasswordHasher,
    Sha256SecretHasher,
    sha256,
)
from tests.unit.builders import live_tokens, new_client, new_user, stored_token
from tests.unit.invalid import failures

UNKNOWN = UUID("00000000-0000-4000-8000-000000000000")
BAD_EMAIL = ("format", "is not a valid email address", ())
SHORT_PASSWORD = ("length", "should be at least 8 characters", ("8",))


async def test_create_user_stores_trimmed_email_and_password_hash(
    admin: AdminService, db: FakeDatabase, passwords: FakePasswordHasher
) -> None:
    user = await admin.create_user("  Ann@Example.org ", "correct horse")

    assert (user.email, user.is_blocked) == ("Ann@Example.org", False)
    assert "correct horse" not in user.password_hash
    assert passwords.verify(user.password_hash, "correct horse")
    assert db.users == {user.id: user}


@pytest.mark.parametrize("email", ["", "  "])
async def test_create_user_rejects_blank_email(
    admin: AdminService, db: FakeDatabase, email: str
) -> None:
    with pytest.raises(ValidationError) as raised:
        await admin.create_user(email, "password-123")

    assert failures(raised.value) == [("$.user.email", "required", "can't be blank", ())]
    assert db.users == {}


@pytest.mark.parametrize("email", ["no-at-sign", "user@", "@example.org", "@", "@@"])
async def test_create_user_rejects_malformed_email(
    admin: AdminService, db: FakeDatabase, email: str
) -> None:
    with pytest.raises(ValidationError) as raised:
        await admin.create_user(email, "password-123")

    assert failures(raised.value) == [("$.user.email", *BAD_EMAIL)]
    assert db.users == {}


async def test_create_user_reports_too_long_email_only_as_too_long(
    admin: AdminService,
) -> None:
    with pytest.raises(ValidationError) as raised:
        await admin.create_user("a" * 321, "password-123")

    assert failures(raised.value) == [
        ("$.user.email", "length", "should be at most 320 characters", ("320",))
    ]


async def test_create_user_accepts_email_of_320_characters(admin: AdminService) -> None:
    email = "a" * 308 + "@example.org"
    assert len(email) == 320

    assert (await admin.create_user(email, "password-123")).email == email


@pytest.mark.parametrize(
    ("password", "failure"),
    [
        ("", ("required", "can't be blank", ())),
        (" " * 8, ("required", "can't be blank", ())),  # regression: was accepted
        ("1234567", SHORT_PASSWORD),
    ],
)
async def test_create_user_rejects_missing_or_short_password(
    admin: AdminService,
    db: FakeDatabase,
    password: str,
    failure: tuple[str, str, tuple[str, ...]],
) -> None:
    with pytest.raises(ValidationError) as raised:
        await admin.create_user("user@example.org", password)

    assert failures(raised.value) == [("$.user.password", *failure)]
    assert db.users == {}


async def test_create_user_accepts_password_of_eight_characters(admin: AdminService) -> None:
    assert (await admin.create_user("user@example.org", "12345678")).email == "user@example.org"


async def test_create_user_lists_email_and_password_failures_together(
    admin: AdminService,
) -> None:
    with pytest.raises(ValidationError) as raised:
        await admin.create_user("nobody", "short")

    assert failures(raised.value) == [
        ("$.user.email", *BAD_EMAIL),
        ("$.user.password", *SHORT_PASSWORD),
    ]


async def test_create_user_refuses_email_taken_in_another_case(
    admin: AdminService, db: FakeDatabase
) -> None:
    await admin.create_user("user@example.org", "password-123")

    with pytest.raises(ConflictError):
        await admin.create_user("USER@Example.ORG", "password-456")

    assert len(db.users) == 1


async def test_get_user_returns_the_stored_user(admin: AdminService) -> None:
    user = await new_user(admin)

    assert await admin.get_user(user.id) == user


async def test_get_user_refuses_unknown_user(admin: AdminService) -> None:
    with pytest.raises(NotFoundError) as raised:
        await admin.get_user(UNKNOWN)

    assert raised.value.message == "User not found."


async def test_list_users_pages_by_email(admin: AdminService) -> None:
    for email in ("c@x.org", "a@x.org", "b@x.org"):
        await new_user(admin, email)

    page = await admin.list_users(PageRequest(number=2, size=2))

    assert [user.email for user in page.entries] == ["c@x.org"]
    assert (page.total_entries, page.total_pages) == (3, 2)


def lock_out(db: FakeDatabase, email: str, now: int) -> bytes:
    """Counted login failures for the email's account (its own and one address's), as the
    login throttle keeps them."""
    account = account_key(Sha256SecretHasher(), email)
    db.auth_failures[(account, now)] = FailureRow(account, 100, now + 900)
    db.auth_failures[(sha256("pair" + email), now)] = FailureRow(account, 5, now + 900)
    return account


def locked(db: FakeDatabase) -> list[bytes]:
    """The accounts with counted failures, each once, in the order they were counted."""
    return list(dict.fromkeys(row.target for row in db.auth_failures.values() if row.target))


async def test_set_password_replaces_the_hash_and_answers_the_updated_user(
    admin: AdminService, db: FakeDatabase, passwords: FakePasswordHasher
) -> None:
    user = await new_user(admin, "ann@example.org")

    updated = await admin.set_password(user.id, "new secret 1")

    assert (updated.id, updated.email, updated.is_blocked) == (user.id, user.email, False)
    assert db.users[user.id] == updated
    assert passwords.verify(updated.password_hash, "new secret 1")
    assert not passwords.verify(updated.password_hash, "password-123")
    assert "new secret 1" not in updated.password_hash


async def test_set_password_keeps_a_blocked_user_blocked(
    admin: AdminService, db: FakeDatabase
) -> None:
    user = await new_user(admin)
    await admin.block_user(user.id)

    assert (await admin.set_password(user.id, "new secret 1")).is_blocked is True
    assert db.users[user.id].is_blocked is True


async def test_set_password_lifts_the_lockout_of_that_users_account_only(
    admin: AdminService, db: FakeDatabase, clock: FakeClock
) -> None:
    user = await new_user(admin, "Ann@Example.org")
    other = lock_out(db, "bob@example.org", clock.now())
    lock_out(db, " ann@EXAMPLE.org", clock.now())

    await admin.set_password(user.id, "new secret 1")

    assert locked(db) == [other]


async def test_set_password_revokes_no_token(
    admin: AdminService, db: FakeDatabase, clock: FakeClock
) -> None:
    user = await new_user(admin)
    token_id = stored_token(db, user.id, (await new_client(admin)).client.id, clock.now())

    await admin.set_password(user.id, "new secret 1")

    assert live_tokens(db) == {token_id}


@pytest.mark.parametrize(
    ("password", "failure"),
    [
        ("", ("required", "can't be blank", ())),
        ("        ", ("required", "can't be blank", ())),
        ("1234567", SHORT_PASSWORD),
    ],
)
async def test_set_password_refuses_blank_or_short_password_and_changes_nothing(
    admin: AdminService,
    db: FakeDatabase,
    clock: FakeClock,
    password: str,
    failure: tuple[str, str, tuple[str, ...]],
) -> None:
    user = await new_user(admin, "ann@example.org")
    account = lock_out(db, user.email, clock.now())

    with pytest.raises(ValidationError) as raised:
        await admin.set_password(user.id, password)

    assert failures(raised.value) == [("$.user.password", *failure)]
    assert db.users[user.id] == user
    assert account in locked(db)


async def test_set_password_refuses_unknown_user(admin: AdminService, db: FakeDatabase) -> None:
    with pytest.raises(NotFoundError) as raised:
        await admin.set_password(UNKNOWN, "new secret 1")

    assert raised.value.message == "User not found."
    assert db.users == {}


async def test_set_password_checks_the_password_before_looking_for_the_user(
    admin: AdminService,
) -> None:
    with pytest.raises(ValidationError):
        await admin.set_password(UNKNOWN, "short")


@pytest.mark.parametrize("email", ["ann@example.org", "  ANN@Example.ORG "])
async def test_clear_login_attempts_lifts_the_lockout_of_the_normalised_email(
    admin: AdminService, db: FakeDatabase, clock: FakeClock, email: str
) -> None:
    lock_out(db, "ann@example.org", clock.now())
    other = lock_out(db, "bob@example.org", clock.now())

    assert await admin.clear_login_attempts(email) is True

    assert locked(db) == [other]


async def test_clear_login_attempts_of_an_email_without_attempts_answers_false(
    admin: AdminService, db: FakeDatabase, clock: FakeClock
) -> None:
    other = lock_out(db, "bob@example.org", clock.now())

    assert await admin.clear_login_attempts("nobody@example.org") is False
    assert locked(db) == [other]


async def test_clear_login_attempts_needs_no_user_with_the_email(
    admin: AdminService, db: FakeDatabase, clock: FakeClock
) -> None:
    """Attempts are counted for any email, so an operator can clear any of them."""
    lock_out(db, "ghost@example.org", clock.now())

    assert await admin.clear_login_attempts("ghost@example.org") is True
    assert locked(db) == []


@pytest.mark.parametrize("email", ["", " \t "])
async def test_clear_login_attempts_refuses_blank_email(
    admin: AdminService, db: FakeDatabase, clock: FakeClock, email: str
) -> None:
    lock_out(db, "", clock.now())

    with pytest.raises(ValidationError) as raised:
        await admin.clear_login_attempts(email)

    assert failures(raised.value) == [("$.user.email", "required", "can't be blank", ())]
    assert len(locked(db)) == 1


async def test_block_user_blocks_and_revokes_all_their_tokens(
    admin: AdminService, db: FakeDatabase, clock: FakeClock
) -> None:
    client_a = (await new_client(admin, "A")).client.id
    client_b = (await new_client(admin, "B")).client.id
    user = await new_user(admin, "blocked@example.org")
    other = await new_user(admin, "other@example.org")
    stored_token(db, user.id, client_a, clock.now())
    stored_token(db, user.id, client_b, clock.now())
    survivor = stored_token(db, other.id, client_a, clock.now())

    blocked = await admin.block_user(user.id)

    assert blocked.is_blocked is True
    assert db.users[user.id].is_blocked is True
    assert db.users[other.id].is_blocked is False
    assert live_tokens(db) == {survivor}


async def test_unblock_user_revives_no_token(
    admin: AdminService, db: FakeDatabase, clock: FakeClock
) -> None:
    client_id = (await new_client(admin)).client.id
    user = await new_user(admin)
    stored_token(db, user.id, client_id, clock.now())
    await admin.block_user(user.id)

    unblocked = await admin.unblock_user(user.id)

    assert unblocked.is_blocked is False
    assert db.users[user.id].is_blocked is False
    assert live_tokens(db) == set()


@pytest.mark.parametrize("action", ["block_user", "unblock_user"])
async def test_block_and_unblock_refuse_unknown_user(admin: AdminService, action: str) -> None:
    with pytest.raises(NotFoundError) as raised:
        await getattr(admin, action)(UNKNOWN)

    assert raised.value.message == "User not found."


async def test_revoke_user_tokens_logs_user_out_of_every_client(
    admin: AdminService, db: FakeDatabase, clock: FakeClock
) -> None:
    client_a = (await new_client(admin, "A")).client.id
    client_b = (await new_client(admin, "B")).client.id
    user = await new_user(admin, "one@example.org")
    other = await new_user(admin, "two@example.org")
    stored_token(db, user.id, client_a, clock.now())
    stored_token(db, user.id, client_b, clock.now())
    survivor = stored_token(db, other.id, client_a, clock.now())

    assert await admin.revoke_user_tokens(user.id) == 2

    assert live_tokens(db) == {survivor}
    assert db.users[user.id].is_blocked is False


async def test_revoke_user_tokens_logs_user_out_of_one_client(
    admin: AdminService, db: FakeDatabase, clock: FakeClock
) -> None:
    client_a = (await new_client(admin, "A")).client.id
    client_b = (await new_client(admin, "B")).client.id
    user = await new_user(admin)
    stored_token(db, user.id, client_a, clock.now())
    survivor = stored_token(db, user.id, client_b, clock.now())

    assert await admin.revoke_user_tokens(user.id, client_a) == 1

    assert live_tokens(db) == {survivor}


async def test_revoke_user_tokens_refuses_unknown_user_before_unknown_client(
    admin: AdminService,
) -> None:
    with pytest.raises(NotFoundError) as raised:
        await admin.revoke_user_tokens(UNKNOWN, UNKNOWN)

    assert raised.value.message == "User not found."


async def test_revoke_user_tokens_refuses_unknown_client(
    admin: AdminService, db: FakeDatabase, clock: FakeClock
) -> None:
    user = await new_user(admin)
    client_id = (await new_client(admin)).client.id
    token_id = stored_token(db, user.id, client_id, clock.now())

    with pytest.raises(NotFoundError) as raised:
        await admin.revoke_user_tokens(user.id, UNKNOWN)

    assert raised.value.message == "Client not found."
    assert live_tokens(db) == {token_id}
