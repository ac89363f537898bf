"""The flow's fakes behave like the SQL stores they stand in for (the integration tier checks
the same facts of `SqlLoginStore` and `SqlCodeStore` against real databases)."""

from __future__ import annotations

import uuid

import pytest

from ehealth_auth.protocol.model import NewToken, TokenName
from ehealth_auth.protocol.throttle import CounterKey
from tests.fakes import (
    FakeClock,
    FakeCodeStore,
    FakeDatabase,
    FakeFailureCounters,
    FakeIntegrityError,
    FakeLoginStore,
    sha256,
)
from tests.unit.builders import (
    add_client,
    add_client_type,
    add_code,
    add_connection,
    add_token,
    add_user,
)

ACCOUNT = b"\x01" * 32
SOURCE = CounterKey(b"\x02" * 32, None, 5)
PAIR = CounterKey(b"\x03" * 32, ACCOUNT, 5)
TARGET = CounterKey(ACCOUNT, ACCOUNT, 5)


async def test_failure_counters_add_per_key_and_window(db: FakeDatabase) -> None:
    counters = FakeFailureCounters(db)
    assert await counters.add([SOURCE, TARGET], 1_000, 1_060, 1) == {SOURCE.key: 1, ACCOUNT: 1}
    assert await counters.add([SOURCE, PAIR], 1_000, 1_060, 1) == {SOURCE.key: 2, PAIR.key: 1}
    assert await counters.add([SOURCE], 1_060, 1_120, 1) == {SOURCE.key: 1}  # a new window
    assert await counters.add([SOURCE], 1_000, 1_060, -1) == {SOURCE.key: 1}


async def test_failure_counters_list_live_counts_and_purge_ended_windows(
    db: FakeDatabase,
) -> None:
    counters = FakeFailureCounters(db)
    await counters.add([SOURCE, TARGET], 1_000, 1_060, 3)
    await counters.add([PAIR], 1_000, 1_060, 1)
    await counters.add([SOURCE], 1_060, 1_120, 4)

    live = await counters.at_least(1_059, 3)
    assert sorted((row.key, row.expires_at, row.failures) for row in live) == sorted(
        [(SOURCE.key, 1_060, 3), (ACCOUNT, 1_060, 3), (SOURCE.key, 1_120, 4)]
    )
    assert await counters.purge(1_060) == 3
    assert [(row.key, row.failures) for row in await counters.at_least(1_060, 0)] == [
        (SOURCE.key, 4)
    ]


async def test_failure_counters_settle_refunds_and_forgets_the_pair(db: FakeDatabase) -> None:
    counters = FakeFailureCounters(db)
    await counters.add([SOURCE, PAIR, TARGET], 1_000, 1_060, 2)

    await counters.settle([SOURCE, TARGET], PAIR.key, 1_000)

    counts = {row.key: row.failures for row in await counters.at_least(1_000, 0)}
    assert counts == {SOURCE.key: 1, ACCOUNT: 1}


async def test_user_by_email_ignores_case(login_store: FakeLoginStore, db: FakeDatabase) -> None:
    user_id = add_user(db, "Ann@Example.org")

    found = await login_store.user_by_email("ANN@example.ORG")

    assert found is not None
    assert found.id == user_id
    assert await login_store.user_by_email("nobody@example.org") is None


async def test_client_profile_lists_connections_oldest_first(
    login_store: FakeLoginStore, db: FakeDatabase
) -> None:
    client_id, _, first = add_client(db, add_client_type(db, scope="a b"), "Clinic")
    db.inserted_at[first] = 20
    _, older = add_connection(db, client_id, "https://older.test/cb")
    db.inserted_at[older] = 10

    profile = await login_store.client_profile(client_id)

    assert profile is not None
    assert (profile.name, profile.type_scope, profile.is_blocked) == ("Clinic", "a b", False)
    assert [connection for connection, _ in profile.redirect_uris] == [older, first]
    assert await login_store.client_profile(uuid.uuid4()) is None


async def test_bearer_names_its_kind_as_the_column_does(
    login_store: FakeLoginStore, db: FakeDatabase, clock: FakeClock
) -> None:
    client_id, _, _ = add_client(db, add_client_type(db))
    value, _ = add_token(
        db,
        name=TokenName.ACCESS_TOKEN,
        user_id=add_user(db, "u@example.org"),
        client_id=client_id,
        issued_at=clock.now(),
        expires_at=clock.now() + 60,
    )
    bearer = await login_store.bearer(sha256(value))

    assert bearer is not None
    assert type(bearer.name) is str
    assert bearer.name == "access_token"
    assert await login_store.bearer(sha256("unknown")) is None


def _tokens_for(code: NewToken) -> tuple[NewToken, NewToken]:
    def token(name: TokenName) -> NewToken:
        token_id = uuid.uuid4()
        return NewToken(
            id=token_id,
            name=name,
            value_hash=token_id.bytes * 2,
            issued_at=code.issued_at,
            expires_at=code.expires_at,
            user_id=code.user_id,
            client_id=code.client_id,
            scope=code.scope,
            details={},
            family_id=code.family_id,
        )

    return token(TokenName.REFRESH_TOKEN), token(TokenName.ACCESS_TOKEN)


@pytest.fixture
def code(db: FakeDatabase, clock: FakeClock) -> NewToken:
    client_id, _, connection_id = add_client(db, add_client_type(db))
    _, code_id = add_code(
        db,
        user_id=add_user(db, "u@example.org"),
        client_id=client_id,
        connection_id=connection_id,
        issued_at=clock.now(),
        expires_at=clock.now() + 60,
    )
    return db.tokens[code_id].token


async def test_consume_code_succeeds_once(
    code_store: FakeCodeStore, db: FakeDatabase, code: NewToken
) -> None:
    refresh, access = _tokens_for(code)
    again = _tokens_for(code)

    assert await code_store.consume_code(code.id, 5_000, refresh, access) is True
    assert await code_store.consume_code(code.id, 6_000, *again) is False

    row = db.tokens[code.id]
    assert (row.retired_at_ms, row.successor_id) == (5_000, refresh.id)
    assert set(db.tokens) == {code.id, refresh.id, access.id}


async def test_consume_code_refuses_a_revoked_or_missing_code(
    code_store: FakeCodeStore, db: FakeDatabase, code: NewToken
) -> None:
    db.tokens[code.id].revoked_at = 1

    assert await code_store.consume_code(code.id, 5_000, *_tokens_for(code)) is False
    assert await code_store.consume_code(uuid.uuid4(), 5_000, *_tokens_for(code)) is False
    assert set(db.tokens) == {code.id}
    assert db.tokens[code.id].retired_at_ms is None


async def test_consume_code_writes_nothing_when_a_token_cannot_be_stored(
    code_store: FakeCodeStore, db: FakeDatabase, code: NewToken
) -> None:
    refresh, access = _tokens_for(code)
    clash = NewToken(**{**vars(access), "value_hash": refresh.value_hash})

    with pytest.raises(FakeIntegrityError):
        await code_store.consume_code(code.id, 5_000, refresh, clash)

    assert set(db.tokens) == {code.id}
    row = db.tokens[code.id]
    assert (row.retired_at_ms, row.successor_id) == (None, None)


async def test_code_context_of_an_unknown_secret_is_none(
    code_store: FakeCodeStore, code: NewToken
) -> None:
    assert await code_store.load_code_context(code.client_id, b"wrong", code.value_hash) is None
