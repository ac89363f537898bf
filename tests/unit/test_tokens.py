"""tokens.mint, new_token_value (CONTRACT §5: random, URL-safe, >= 128 bits, hash stored) and
new_token_id (UUIDv7, ordered by issue time)."""

from __future__ import annotations

import base64
import re
import time
import uuid

from ehealth_auth.protocol.model import TokenName
from ehealth_auth.protocol.tokens import TOKEN_BYTES, mint, new_token_id, new_token_value
from tests.fakes import Sha256SecretHasher, sha256

URL_SAFE = re.compile(r"[A-Za-z0-9_-]+")


def test_token_value_is_url_safe_with_at_least_128_bits() -> None:
    value = new_token_value()

    assert URL_SAFE.fullmatch(value)
    raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    assert len(raw) * 8 >= 128
    assert len(raw) == TOKEN_BYTES


def test_token_values_do_not_repeat() -> None:
    values = {new_token_value() for _ in range(2_000)}

    assert len(values) == 2_000


def test_token_ids_are_uuid7_of_the_current_time_and_later_ones_sort_after() -> None:
    before_ms = time.time_ns() // 1_000_000
    first = new_token_id()
    time.sleep(0.003)  # a later millisecond: within one, RFC 9562 leaves the order to randomness
    second = new_token_id()
    after_ms = time.time_ns() // 1_000_000

    assert isinstance(first, uuid.UUID)
    assert (first.version, second.version) == (7, 7)
    assert first.variant == uuid.RFC_4122
    # RFC 9562 §5.7: the first 48 bits are the Unix time in milliseconds.
    assert before_ms <= first.int >> 80 <= second.int >> 80 <= after_ms
    assert first < second
    assert len({new_token_id() for _ in range(2_000)}) == 2_000


def test_mint_builds_stored_record_and_answer_from_one_value() -> None:
    user_id, client_id = uuid.uuid4(), uuid.uuid4()
    details = {"client_id": str(client_id), "scope": "a b"}

    minted = mint(
        Sha256SecretHasher(),
        name=TokenName.REFRESH_TOKEN,
        now=1_000,
        ttl=50,
        user_id=user_id,
        client_id=client_id,
        scope="a b",
        details=details,
    )

    record, issued = minted.record, minted.issued
    assert record.id == issued.id
    assert record.id.version == 7
    assert record.name is issued.name is TokenName.REFRESH_TOKEN
    assert record.value_hash == sha256(issued.value)
    assert (record.issued_at, record.expires_at, issued.expires_at) == (1_000, 1_050, 1_050)
    assert (record.user_id, issued.user_id, record.client_id) == (user_id, user_id, client_id)
    assert record.scope == "a b"
    assert record.details == issued.details == details
    assert URL_SAFE.fullmatch(issued.value)
    assert issued.value not in repr(record)


def test_mint_starts_a_new_family_when_none_is_given() -> None:
    minted = mint(
        Sha256SecretHasher(),
        name=TokenName.ACCESS_TOKEN,
        now=0,
        ttl=1,
        user_id=uuid.uuid4(),
        client_id=uuid.uuid4(),
        scope="",
        details={},
    )

    assert minted.record.family_id == minted.record.id
    assert minted.record.parent_id is None
    assert minted.record.connection_id is None


def test_mint_keeps_given_family_parent_and_connection() -> None:
    family_id, parent_id, connection_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()

    minted = mint(
        Sha256SecretHasher(),
        name=TokenName.ACCESS_TOKEN,
        now=0,
        ttl=1,
        user_id=uuid.uuid4(),
        client_id=uuid.uuid4(),
        scope="",
        details={},
        family_id=family_id,
        parent_id=parent_id,
        connection_id=connection_id,
    )

    assert minted.record.family_id == family_id
    assert minted.record.parent_id == parent_id
    assert minted.record.connection_id == connection_id
    assert minted.record.id not in (family_id, parent_id)


def test_mint_gives_each_token_its_own_id_and_value() -> None:
    hasher = Sha256SecretHasher()
    minted = [
        mint(
            hasher,
            name=TokenName.ACCESS_TOKEN,
            now=0,
            ttl=1,
            user_id=uuid.UUID(int=1),
            client_id=uuid.UUID(int=2),
            scope="",
            details={},
        )
        for _ in range(50)
    ]

    assert len({token.issued.id for token in minted}) == 50
    assert len({token.issued.value for token in minted}) == 50
