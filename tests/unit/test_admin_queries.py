"""parse_list_query: paging and id filters of the admin listings, as CONTRACT §4 entries."""

from __future__ import annotations

import uuid

import pytest

from ehealth_auth.protocol.admin.queries import ListQuery, parse_list_query
from ehealth_auth.protocol.errors import ValidationError
from ehealth_auth.protocol.paging import PageRequest
from tests.unit.invalid import failures

NOT_INTEGER = ("cast", "is invalid", ("integer",))
NOT_UUID = ("cast", "is invalid", ("uuid",))
AT_LEAST_ONE = ("number", "must be greater than or equal to 1", ("1",))


def _rejected(query: dict[str, str], filters: tuple[str, ...] = ()) -> ValidationError:
    with pytest.raises(ValidationError) as raised:
        parse_list_query(query, filters)
    assert all(entry.entry_type == "query_parameter" for entry in raised.value.invalid)
    return raised.value


def test_list_query_defaults_to_first_page_of_fifty() -> None:
    assert parse_list_query({}) == ListQuery(PageRequest(1, 50), {})


def test_list_query_refuses_empty_parameters_as_the_document_says() -> None:
    # Absent is "use the default"; an empty value is not a number or a UUID.
    query = {"page": "", "page_size": "", "user_id": ""}
    assert failures(_rejected(query, ("user_id",))) == [
        ("$.page", *NOT_INTEGER),
        ("$.page_size", *NOT_INTEGER),
        ("$.user_id", *NOT_UUID),
    ]


def test_list_query_reads_page_and_size() -> None:
    assert parse_list_query({"page": "3", "page_size": "25"}).page == PageRequest(3, 25)


def test_list_query_ignores_leading_zeros() -> None:
    assert parse_list_query({"page": "007", "page_size": "0300"}).page == PageRequest(7, 300)


def test_list_query_accepts_largest_page_number_and_size() -> None:
    query = parse_list_query({"page": "1000000", "page_size": "300"})

    assert query.page == PageRequest(1_000_000, 300)


@pytest.mark.parametrize("raw", ["x", "-1", "+1", "1.5", " 1", "1e3", "\uff11", "\u0661"])
def test_list_query_rejects_page_that_is_not_a_plain_integer(raw: str) -> None:
    assert failures(_rejected({"page": raw})) == [("$.page", *NOT_INTEGER)]


@pytest.mark.parametrize(
    ("name", "raw", "limit"),
    [
        ("page", "1000001", "1000000"),
        ("page", "99999999999999999999999", "1000000"),
        # Longer than Python will convert to int (4300 digits): refused, not a crash.
        ("page", "9" * 5_000, "1000000"),
        ("page_size", "301", "300"),
        ("page_size", "00000301", "300"),
        ("page_size", "1000", "300"),
    ],
)
def test_list_query_rejects_numbers_over_the_limit(name: str, raw: str, limit: str) -> None:
    assert failures(_rejected({name: raw})) == [
        (f"$.{name}", "number", f"must be less than or equal to {limit}", (limit,))
    ]


@pytest.mark.parametrize("raw", ["0", "000"])
@pytest.mark.parametrize("name", ["page", "page_size"])
def test_list_query_rejects_zero(name: str, raw: str) -> None:
    assert failures(_rejected({name: raw})) == [(f"$.{name}", *AT_LEAST_ONE)]


def test_list_query_reads_uuid_filters_and_leaves_absent_ones_none() -> None:
    user_id = uuid.uuid4()

    query = parse_list_query({"user_id": str(user_id)}, ("user_id", "client_id"))

    assert query.filters == {"user_id": user_id, "client_id": None}


def test_list_query_ignores_parameters_it_was_not_asked_for() -> None:
    assert parse_list_query({"user_id": "not-a-uuid", "sort": "x"}).filters == {}


def test_list_query_lists_every_bad_parameter_in_one_error() -> None:
    error = _rejected(
        {"page": "zero", "page_size": "0", "user_id": "nope", "client_id": str(uuid.uuid4())},
        ("user_id", "client_id"),
    )

    assert failures(error) == [
        ("$.page", *NOT_INTEGER),
        ("$.page_size", *AT_LEAST_ONE),
        ("$.user_id", *NOT_UUID),
    ]
