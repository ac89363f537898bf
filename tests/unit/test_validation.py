"""protocol/validation.py: the CONTRACT §4 field rules of every request."""

from __future__ import annotations

import uuid

import pytest

from ehealth_auth.protocol.errors import ValidationError
from ehealth_auth.protocol.validation import optional_uuid, parse_uuid, require_strings, text_fields
from tests.unit.invalid import failures

NAMES = ("first", "second", "third")


def test_require_strings_returns_named_values_unchanged() -> None:
    params: dict[str, object] = {"first": "a", "second": " b ", "third": "c", "extra": 5}

    assert require_strings(params, NAMES, "$.x") == {"first": "a", "second": " b ", "third": "c"}


def test_require_strings_with_no_names_accepts_anything() -> None:
    assert require_strings({"first": None}, (), "$.x") == {}


@pytest.mark.parametrize("blank", [None, "", " ", "\t\r\n"], ids=repr)
def test_require_strings_marks_null_empty_and_whitespace_as_required(blank: object) -> None:
    with pytest.raises(ValidationError) as raised:
        require_strings({"first": "ok", "second": blank, "third": "ok"}, NAMES, "$.token")

    assert failures(raised.value) == [("$.token.second", "required", "can't be blank", ())]


def test_require_strings_marks_missing_field_as_required() -> None:
    with pytest.raises(ValidationError) as raised:
        require_strings({"first": "ok", "third": "ok"}, NAMES, "$.token")

    assert failures(raised.value) == [("$.token.second", "required", "can't be blank", ())]


@pytest.mark.parametrize("wrong", [0, 1, -1.5, True, False, [], ["a"], {}, {"a": "b"}], ids=repr)
def test_require_strings_marks_other_types_as_cast(wrong: object) -> None:
    with pytest.raises(ValidationError) as raised:
        require_strings({"first": wrong, "second": "ok", "third": "ok"}, NAMES, "$.app")

    assert failures(raised.value) == [("$.app.first", "cast", "is invalid", ("string",))]


def test_require_strings_lists_every_failure_in_field_order() -> None:
    with pytest.raises(ValidationError) as raised:
        require_strings({"third": 3, "first": ""}, NAMES, "$.token")

    assert failures(raised.value) == [
        ("$.token.first", "required", "can't be blank", ()),
        ("$.token.second", "required", "can't be blank", ()),
        ("$.token.third", "cast", "is invalid", ("string",)),
    ]
    assert all(entry.entry_type == "json_data_property" for entry in raised.value.invalid)
    assert raised.value.status == 422


def test_parse_uuid_reads_canonical_uuid() -> None:
    value = uuid.uuid4()

    assert parse_uuid(str(value)) == value


def test_parse_uuid_ignores_hex_case() -> None:
    value = uuid.uuid4()

    assert parse_uuid(str(value).upper()) == value


@pytest.mark.parametrize(
    "text",
    [
        "",
        "not-a-uuid",
        "1234",
        "00000000-0000-0000-0000-00000000000g",
        "00000000-0000-0000-0000-0000000000000",
        "00000000-0000-0000-0000-00000000000",
        "\x00",
        # Regressions: forms Python's UUID() also reads are not ids a client was given.
        "urn:uuid:12345678-1234-5678-1234-567812345678",
        "{12345678-1234-5678-1234-567812345678}",
        "12345678123456781234567812345678",
        "\uff11" * 8 + "-1234-5678-1234-567812345678",  # full-width digits
    ],
    ids=repr,
)
def test_parse_uuid_answers_none_for_malformed_text(text: str) -> None:
    assert parse_uuid(text) is None


def test_text_fields_reads_absent_and_null_fields_as_empty() -> None:
    params: dict[str, object] = {"first": " a\t", "second": None, "extra": 5}

    assert text_fields(params, "client", NAMES) == {"first": " a\t", "second": "", "third": ""}


def test_text_fields_lists_every_field_of_another_type_as_cast() -> None:
    with pytest.raises(ValidationError) as raised:
        text_fields({"first": 1, "second": "ok", "third": ["x"]}, "user", NAMES)

    assert failures(raised.value) == [
        ("$.user.first", "cast", "is invalid", ("string",)),
        ("$.user.third", "cast", "is invalid", ("string",)),
    ]


@pytest.mark.parametrize("blank", ["", "  ", "\t"], ids=repr)
def test_optional_uuid_reads_blank_as_none(blank: str) -> None:
    assert optional_uuid("$.connection.consumer_id", blank) is None


def test_optional_uuid_reads_a_uuid_with_surrounding_spaces() -> None:
    value = uuid.uuid4()

    assert optional_uuid("$.connection.consumer_id", f" {value} ") == value


def test_optional_uuid_refuses_other_text_as_cast_at_its_path() -> None:
    with pytest.raises(ValidationError) as raised:
        optional_uuid("$.connection.consumer_id", "not-a-uuid")

    assert failures(raised.value) == [("$.connection.consumer_id", "cast", "is invalid", ("uuid",))]
