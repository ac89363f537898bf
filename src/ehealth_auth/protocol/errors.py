"""One error tree for the whole service (CONTRACT §1, §2, §4).

Each error knows its HTTP status, its `error.type` and its human message. The web layer renders
them in exactly one place; nothing here knows about HTTP frameworks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

VALIDATION_MESSAGE = (
    "Validation failed. You can find validators description at our API Manifest: "
    "http://docs.apimanifest.apiary.io/#introduction/interacting-with-api/errors."
)


@dataclass(frozen=True)
class Rule:
    rule: str
    description: str
    params: tuple[str, ...] = ()


@dataclass(frozen=True)
class InvalidEntry:
    """One failing field of a request body, addressed by its JSON path."""

    entry: str
    rules: tuple[Rule, ...]
    entry_type: str = "json_data_property"


REQUIRED = Rule("required", "can't be blank")
CAST_STRING = Rule("cast", "is invalid", ("string",))
CAST_INTEGER = Rule("cast", "is invalid", ("integer",))
CAST_UUID = Rule("cast", "is invalid", ("uuid",))
# U+0000 cannot be stored by PostgreSQL, and no control character belongs in an identifier,
# a name, an email address, a URI, a scope or a secret: such text is refused at validation.
CONTROL_CHARACTERS = Rule("format", "must not contain control characters")
QUERY_PARAMETER = "query_parameter"


class ServiceError(Exception):
    """Base of every error the service answers with. Its text never carries a secret."""

    status: ClassVar[int] = 500
    type: ClassVar[str] = "internal_error"
    default_message: ClassVar[str] = "Internal server error."

    def __init__(self, message: str | None = None) -> None:
        self.message = message or self.default_message
        super().__init__(self.message)

    @property
    def headers(self) -> dict[str, str]:
        """HTTP headers that belong to this answer (e.g. Retry-After)."""
        return {}


class RequestMalformedError(ServiceError):
    status = 400
    type = "request_malformed"
    default_message = "Request body is malformed."


class UnauthorizedError(ServiceError):
    status = 401
    type = "access_denied"
    default_message = "Access denied."


class InvalidGrantError(UnauthorizedError):
    type = "invalid_grant"
    default_message = "Grant type not allowed."


class UnsupportedGrantTypeError(InvalidGrantError):
    """A grant_type the token endpoint does not take (CONTRACT §2 check 3). The eHealth dialect
    answers it like any invalid grant; the standard dialect as `unsupported_grant_type`."""


class InvalidClientError(UnauthorizedError):
    type = "invalid_client"
    default_message = "Invalid client id or secret."


class TokenNotFoundError(UnauthorizedError):
    type = "token_not_found"
    default_message = "Token not found."


class TokenExpiredError(UnauthorizedError):
    type = "token_expired"
    default_message = "Token expired."


class UserBlockedError(UnauthorizedError):
    type = "user_blocked"
    default_message = "User blocked."


class InvalidScopeError(ServiceError):
    """A standard-dialect refresh asked for a scope the user's approval does not cover
    (RFC 6749 §6); the eHealth dialect has no `scope` parameter."""

    status = 400
    type = "invalid_scope"
    default_message = "The requested scope exceeds the scope the user approved for the client."


class AccessDeniedError(UnauthorizedError):
    type = "access_denied"
    default_message = "Resource owner revoked access for the client."


class InvalidUserError(UnauthorizedError):
    """The user behind a token is blocked (the gateway's verify call, CONTRACT §3)."""

    type = "invalid_user"
    default_message = "Authentication failed."


class AdminKeyError(UnauthorizedError):
    """An /admin request without a configured admin key in `Authorization: Bearer`."""

    type = "access_denied"
    default_message = "Missing or invalid admin key."


class BearerRequiredError(UnauthorizedError):
    """No usable `Authorization: Bearer` header (RFC 6750 §3)."""

    default_message = "Authorization header with a Bearer token is required."

    @property
    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": 'Bearer realm="ehealth-auth"'}


class ForbiddenError(ServiceError):
    status = 403
    type = "forbidden"
    default_message = "Your scope does not allow to access this resource."


class NotFoundError(ServiceError):
    status = 404
    type = "not_found"
    default_message = "Not found."


# A token given to the store for a user, client or connection that does not exist.
UNKNOWN_TOKEN_OWNER = "User, client or connection not found."  # noqa: S105 - a message


class MethodNotAllowedError(ServiceError):
    status = 405
    type = "method_not_allowed"
    default_message = "Method not allowed."


class ConflictError(ServiceError):
    status = 409
    type = "conflict"
    default_message = "Conflict."


class PayloadTooLargeError(ServiceError):
    status = 413
    type = "request_too_large"
    default_message = "Request body is too large."


class ContentTypeInvalidError(ServiceError):
    status = 415
    type = "content_type_invalid"
    default_message = "Invalid Content-Type header. Expected: application/json."


class TooManyRequestsError(ServiceError):
    status = 429
    type = "too_many_requests"
    default_message = "Too many failed login attempts. Try again later."

    def __init__(self, retry_after: int, message: str | None = None) -> None:
        super().__init__(message)
        self.retry_after = max(1, retry_after)

    @property
    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


class RequestTimeoutError(ServiceError):
    """The request's body did not arrive in time (CONTRACT §7); the connection is closed."""

    status = 408
    type = "request_timeout"
    default_message = "The request did not arrive in time."

    @property
    def headers(self) -> dict[str, str]:
        return {"Connection": "close"}


class ServiceUnavailableError(ServiceError):
    """The service cannot take this request now: the database cannot be reached (CONTRACT §7),
    or every password-hashing slot is busy; the client may try again after `Retry-After`
    seconds."""

    status = 503
    type = "service_unavailable"
    default_message = "The service is temporarily unavailable. Try again later."

    def __init__(self, retry_after: int = 1, message: str | None = None) -> None:
        super().__init__(message)
        self.retry_after = max(1, retry_after)

    @property
    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


class ValidationError(ServiceError):
    status = 422
    type = "validation_failed"
    default_message = VALIDATION_MESSAGE

    def __init__(self, invalid: tuple[InvalidEntry, ...] = (), message: str | None = None) -> None:
        super().__init__(message)
        self.invalid = invalid


@dataclass
class InvalidCollector:
    """Gathers failing fields so that one 422 lists all of them (CONTRACT §4)."""

    entries: list[InvalidEntry] = field(default_factory=list)

    def add(self, path: str, rule: Rule, entry_type: str = "json_data_property") -> None:
        self.entries.append(InvalidEntry(path, (rule,), entry_type))

    def raise_if_any(self, message: str | None = None) -> None:
        if self.entries:
            raise ValidationError(tuple(self.entries), message)
