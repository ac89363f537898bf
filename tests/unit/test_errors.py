"""The error tree (CONTRACT §1, §2, §4): each class's status, type and message."""

from __future__ import annotations

import pytest

from ehealth_auth.protocol import errors
from ehealth_auth.protocol.errors import (
    CAST_INTEGER,
    CAST_STRING,
    CAST_UUID,
    QUERY_PARAMETER,
    REQUIRED,
    InvalidCollector,
    InvalidEntry,
    Rule,
    ServiceError,
    UnauthorizedError,
    ValidationError,
)

VALIDATION_TEXT = (
    "Validation failed. You can find validators description at our API Manifest: "
    "http://docs.apimanifest.apiary.io/#introduction/interacting-with-api/errors."
)

ERRORS: list[tuple[type[ServiceError], int, str, str]] = [
    (errors.ServiceError, 500, "internal_error", "Internal server error."),
    (errors.RequestMalformedError, 400, "request_malformed", "Request body is malformed."),
    (errors.UnauthorizedError, 401, "access_denied", "Access denied."),
    (errors.InvalidGrantError, 401, "invalid_grant", "Grant type not allowed."),
    (errors.InvalidClientError, 401, "invalid_client", "Invalid client id or secret."),
    (errors.TokenNotFoundError, 401, "token_not_found", "Token not found."),
    (errors.TokenExpiredError, 401, "token_expired", "Token expired."),
    (errors.UserBlockedError, 401, "user_blocked", "User blocked."),
    (
        errors.AccessDeniedError,
        401,
        "access_denied",
        "Resource owner revoked access for the client.",
    ),
    (errors.InvalidUserError, 401, "invalid_user", "Authentication failed."),
    (errors.AdminKeyError, 401, "access_denied", "Missing or invalid admin key."),
    (
        errors.BearerRequiredError,
        401,
        "access_denied",
        "Authorization header with a Bearer token is required.",
    ),
    (
        errors.ForbiddenError,
        403,
        "forbidden",
        "Your scope does not allow to access this resource.",
    ),
    (errors.NotFoundError, 404, "not_found", "Not found."),
    (errors.MethodNotAllowedError, 405, "method_not_allowed", "Method not allowed."),
    (errors.ConflictError, 409, "conflict", "Conflict."),
    (errors.PayloadTooLargeError, 413, "request_too_large", "Request body is too large."),
    (
        errors.ContentTypeInvalidError,
        415,
        "content_type_invalid",
        "Invalid Content-Type header. Expected: application/json.",
    ),
    (errors.ValidationError, 422, "validation_failed", VALIDATION_TEXT),
]


@pytest.mark.parametrize(
    ("cls", "status", "type_", "message"), ERRORS, ids=[row[0].__name__ for row in ERRORS]
)
def test_error_knows_its_status_type_and_default_message(
    cls: type[ServiceError], status: int, type_: str, message: str
) -> None:
    error = cls()

    assert (error.status, error.type, error.message) == (status, type_, message)
    assert str(error) == message
    assert isinstance(error, Exception)


@pytest.mark.parametrize("cls", [row[0] for row in ERRORS], ids=lambda cls: cls.__name__)
def test_error_message_can_be_replaced_without_changing_type(cls: type[ServiceError]) -> None:
    error = cls(message="Something specific.")

    assert error.message == str(error) == "Something specific."
    assert error.type == cls.type


@pytest.mark.parametrize("cls", [row[0] for row in ERRORS], ids=lambda cls: cls.__name__)
def test_error_with_empty_message_falls_back_to_default(cls: type[ServiceError]) -> None:
    assert cls(message="").message == cls.default_message != ""


@pytest.mark.parametrize(
    "cls",
    [row[0] for row in ERRORS if row[1] == 401],
    ids=lambda cls: cls.__name__,
)
def test_every_401_error_is_an_unauthorized_error(cls: type[ServiceError]) -> None:
    assert issubclass(cls, UnauthorizedError)


def test_error_types_are_distinct_except_access_denied() -> None:
    types = [row[2] for row in ERRORS]

    assert sorted(t for t in set(types) if types.count(t) > 1) == ["access_denied"]


@pytest.mark.parametrize(
    "cls",
    [row[0] for row in ERRORS if row[0] is not errors.BearerRequiredError],
    ids=lambda cls: cls.__name__,
)
def test_error_brings_no_headers_of_its_own(cls: type[ServiceError]) -> None:
    assert cls().headers == {}


def test_bearer_required_error_challenges_for_a_bearer_token() -> None:
    # RFC 6750 §3: a 401 for a protected resource names the scheme it wants.
    assert errors.BearerRequiredError().headers == {
        "WWW-Authenticate": 'Bearer realm="ehealth-auth"'
    }


def test_too_many_requests_error_says_when_to_retry() -> None:
    error = errors.TooManyRequestsError(120)

    assert (error.status, error.type, error.message) == (
        429,
        "too_many_requests",
        "Too many failed login attempts. Try again later.",
    )
    assert error.retry_after == 120
    assert error.headers == {"Retry-After": "120"}


@pytest.mark.parametrize("retry_after", [0, -5])
def test_too_many_requests_error_retries_after_at_least_one_second(retry_after: int) -> None:
    error = errors.TooManyRequestsError(retry_after)

    assert (error.retry_after, error.headers) == (1, {"Retry-After": "1"})


def test_too_many_requests_error_message_can_be_replaced() -> None:
    error = errors.TooManyRequestsError(3, message="Slow down.")

    assert (error.message, error.retry_after) == ("Slow down.", 3)


def test_validation_error_carries_its_invalid_entries() -> None:
    entry = InvalidEntry("$.token.client_id", (REQUIRED,))

    error = ValidationError((entry,), message="Request must include grant_type.")

    assert error.invalid == (entry,)
    assert error.message == "Request must include grant_type."


def test_validation_error_has_no_entries_by_default() -> None:
    assert ValidationError().invalid == ()


def test_cast_rules_name_the_expected_type() -> None:
    assert [(rule.rule, rule.description, rule.params) for rule in (CAST_INTEGER, CAST_UUID)] == [
        ("cast", "is invalid", ("integer",)),
        ("cast", "is invalid", ("uuid",)),
    ]


def test_rules_match_contract_text() -> None:
    assert (REQUIRED.rule, REQUIRED.description, REQUIRED.params) == (
        "required",
        "can't be blank",
        (),
    )
    assert (CAST_STRING.rule, CAST_STRING.description, CAST_STRING.params) == (
        "cast",
        "is invalid",
        ("string",),
    )


def test_invalid_entry_is_a_json_data_property_by_default() -> None:
    assert InvalidEntry("$.a", (REQUIRED,)).entry_type == "json_data_property"


def test_invalid_collector_without_entries_does_not_raise() -> None:
    collector = InvalidCollector()

    collector.raise_if_any()

    assert collector.entries == []


def test_invalid_collector_raises_one_error_with_entries_in_order() -> None:
    custom = Rule("length", "is too long", ("max", "10"))
    collector = InvalidCollector()
    collector.add("$.token.b", REQUIRED)
    collector.add("$.token.a", custom)

    with pytest.raises(ValidationError) as raised:
        collector.raise_if_any()

    assert raised.value.invalid == (
        InvalidEntry("$.token.b", (REQUIRED,)),
        InvalidEntry("$.token.a", (custom,)),
    )
    assert raised.value.message == VALIDATION_TEXT


def test_invalid_collector_records_entry_type_and_raises_with_given_message() -> None:
    collector = InvalidCollector()
    collector.add("page_size", CAST_INTEGER, QUERY_PARAMETER)

    with pytest.raises(ValidationError) as raised:
        collector.raise_if_any("Query is invalid.")

    assert raised.value.invalid == (InvalidEntry("page_size", (CAST_INTEGER,), "query_parameter"),)
    assert raised.value.message == "Query is invalid."


def test_invalid_collectors_do_not_share_entries() -> None:
    first, second = InvalidCollector(), InvalidCollector()
    first.add("$.a", REQUIRED)

    second.raise_if_any()

    assert second.entries == []
