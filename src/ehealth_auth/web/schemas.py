"""JSON Schemas (OpenAPI 3.1 dialect) of the envelope, the errors and every resource we render.

A schema with a `title` becomes a named component of /openapi.json; the others stay inline.
The acceptance tests check real responses against these, so they describe what is sent.
"""

from __future__ import annotations

from typing import Any

from ehealth_auth.protocol.errors import VALIDATION_MESSAGE
from ehealth_auth.protocol.model import TokenName
from ehealth_auth.protocol.paging import MAX_PAGE_SIZE

Schema = dict[str, Any]

UUID: Schema = {"type": "string", "format": "uuid"}
NULLABLE_UUID: Schema = {"type": ["string", "null"], "format": "uuid"}
STRING: Schema = {"type": "string"}
# Text the service stores or compares: not blank, and no control characters (U+0000 among
# them) except spaces, tabs and line ends around it, which are trimmed (CONTRACT §4).
_CONTROL = "\\u0000-\\u001f\\u007f-\\u009f"
TEXT: Schema = {
    "type": "string",
    "minLength": 1,
    "pattern": f"^[ \\t\\r\\n]*[^{_CONTROL}]*[^\\s{_CONTROL}][^{_CONTROL}]*[ \\t\\r\\n]*$",
}
# Optional text: may be blank; tabs and line ends anywhere, no other control characters.
OPTIONAL_TEXT: Schema = {
    "type": "string",
    "pattern": "^[^\\u0000-\\u0008\\u000b\\u000c\\u000e-\\u001f\\u007f-\\u009f]*$",
}
BOOLEAN: Schema = {"type": "boolean"}
UNIX_TIME: Schema = {"type": "integer", "description": "Unix seconds."}


def obj(properties: dict[str, Schema], *, title: str | None = None, **extra: Any) -> Schema:
    """A closed object whose properties are all required."""
    schema: Schema = {
        "type": "object",
        "required": list(properties),
        "properties": properties,
        "additionalProperties": False,
        **extra,
    }
    return {"title": title, **schema} if title else schema


def array(items: Schema) -> Schema:
    return {"type": "array", "items": items}


# ------------------------------------------------------------------------ envelope and errors

META = obj(
    {
        "code": {"type": "integer", "description": "The HTTP status."},
        "url": {"type": "string", "description": "Scheme, host, port if not default, path."},
        "type": {"type": "string", "enum": ["object", "list"]},
        "request_id": {"type": "string", "description": "Also sent as X-Request-ID."},
    },
    title="Meta",
)

PAGING = obj(
    {
        "page_number": {"type": "integer", "minimum": 1},
        "page_size": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE},
        "total_pages": {"type": "integer", "minimum": 1},
        "total_entries": {"type": "integer", "minimum": 0},
    },
    title="Paging",
)

RULE = obj(
    {"rule": STRING, "description": STRING, "params": array(STRING)},
    title="ValidationRule",
)

INVALID_ENTRY = obj(
    {
        "entry_type": {"type": "string", "enum": ["json_data_property", "query_parameter"]},
        "entry": {"type": "string", "description": "JSON path of the field, e.g. $.client.name."},
        "rules": array(RULE),
    },
    title="InvalidEntry",
)

ERROR: Schema = {
    "title": "Error",
    "type": "object",
    "required": ["type", "message"],
    "properties": {
        "type": {"type": "string", "description": "Machine code, e.g. invalid_grant."},
        "message": {"type": "string", "examples": [VALIDATION_MESSAGE]},
        "invalid": {**array(INVALID_ENTRY), "description": "Only on 422 validation errors."},
    },
    "additionalProperties": False,
}

ERROR_RESPONSE = obj({"meta": META, "error": ERROR}, title="ErrorResponse")


def envelope(
    data: Schema, *, kind: str = "object", extra: dict[str, Schema] | None = None
) -> Schema:
    """`{"meta", "data"}`; lists add `paging`, a few answers add other top-level keys."""
    properties: dict[str, Schema] = {"meta": META, "data": data}
    if kind == "list":
        properties["paging"] = PAGING
    return obj({**properties, **(extra or {})})


# ------------------------------------------------------------------------------------ tokens

TOKEN = obj(
    {
        "id": UUID,
        "name": {"type": "string", "enum": [name.value for name in TokenName]},
        "value": {"type": "string", "description": "The token itself."},
        "expires_at": UNIX_TIME,
        "user_id": UUID,
        "details": {
            "type": "object",
            "description": "client_id, grant_type, scope and, by grant, redirect_uri and "
            "refresh_token.",
            "additionalProperties": STRING,
        },
    },
    title="Token",
)


def _issued(title: str, name: TokenName, details: Schema, description: str) -> Schema:
    """A token of one kind as issued, with the details that kind carries."""
    return obj(
        {
            "id": UUID,
            "name": {"const": name.value},
            "value": {"type": "string", "description": "The token itself."},
            "expires_at": UNIX_TIME,
            "user_id": UUID,
            "details": details,
        },
        title=title,
        description=description,
    )


GRANTED_TOKEN = _issued(
    "GrantedToken",
    TokenName.ACCESS_TOKEN,
    {
        "type": "object",
        "required": ["client_id", "grant_type", "scope"],
        "properties": {
            "client_id": UUID,
            "grant_type": {"type": "string", "enum": ["refresh_token", "authorization_code"]},
            "scope": STRING,
            "refresh_token": {
                "type": "string",
                "description": "The new refresh token, shown this once: always for "
                "grant_type=authorization_code, for refresh_token when refresh tokens rotate.",
            },
            "redirect_uri": {
                "type": "string",
                "description": "Only for grant_type=authorization_code: the code's redirect URI.",
            },
        },
        "additionalProperties": False,
    },
    "An access token from `POST /oauth/tokens`, and the refresh token that goes with it.",
)

LOGIN_TOKEN = _issued(
    "LoginToken",
    TokenName.ACCESS_TOKEN,
    obj({"client_id": UUID, "grant_type": {"const": "password"}, "scope": STRING}),
    "A user's login token: an access token, usually of scope `app:authorize`.",
)

AUTHORIZATION_CODE = _issued(
    "AuthorizationCode",
    TokenName.AUTHORIZATION_CODE,
    obj(
        {
            "client_id": UUID,
            "redirect_uri": {"type": "string", "description": "Where the code is sent."},
            "scope_request": {"type": "string", "description": "The scope the code is for."},
        }
    ),
    "An authorization code, single-use, for the client to exchange at `POST /oauth/tokens`.",
)


STORED_TOKEN = obj(
    {
        "id": UUID,
        "name": {"type": "string", "enum": [name.value for name in TokenName]},
        "user_id": UUID,
        "client_id": UUID,
        "scope": STRING,
        "issued_at": UNIX_TIME,
        "expires_at": UNIX_TIME,
        "revoked_at": {"type": ["integer", "null"], "description": "Unix seconds, if revoked."},
    },
    title="StoredToken",
    description="A token as operators see it: never its value.",
)

URGENT = obj(
    {"mis_client_id": {**NULLABLE_UUID, "description": "The MIS (consumer) client, if known."}},
    title="Urgent",
)

# ---------------------------------------------------------------------- operator resources

CLIENT_TYPE = obj({"id": UUID, "name": STRING, "scope": STRING}, title="ClientType")

CONNECTION = obj(
    {"id": UUID, "redirect_uri": STRING, "consumer_id": NULLABLE_UUID}, title="Connection"
)

CLIENT = obj(
    {
        "id": UUID,
        "name": STRING,
        "client_type": {"type": "string", "description": "Name of the client type."},
        "is_blocked": BOOLEAN,
        "connections": array(CONNECTION),
    },
    title="Client",
)

NEW_CLIENT = obj(
    {
        "id": UUID,
        "name": STRING,
        "client_type": STRING,
        "is_blocked": BOOLEAN,
        "connection": obj(
            {
                "id": UUID,
                "redirect_uri": STRING,
                "consumer_id": NULLABLE_UUID,
                "secret": {"type": "string", "description": "Shown this once, never again."},
            }
        ),
    },
    title="NewClient",
)

CONNECTION_SECRET = obj(
    {
        "id": UUID,
        "client_id": UUID,
        "redirect_uri": STRING,
        "secret": {"type": "string", "description": "Shown this once, never again."},
    },
    title="ConnectionSecret",
)

USER = obj({"id": UUID, "email": STRING, "is_blocked": BOOLEAN}, title="User")

APPROVAL = obj({"id": UUID, "user_id": UUID, "client_id": UUID, "scope": STRING}, title="Approval")

CLIENT_TOKENS_REVOKED = obj(
    {"id": UUID, "revoked_tokens": {"type": "integer", "minimum": 0}},
    title="ClientTokensRevoked",
)

USER_TOKENS_REVOKED = obj(
    {
        "user_id": UUID,
        "client_id": NULLABLE_UUID,
        "revoked_tokens": {"type": "integer", "minimum": 0},
    },
    title="UserTokensRevoked",
)

DELETED = obj({"id": UUID, "deleted": {"const": True}}, title="Deleted")


def request_body(key: str, fields: dict[str, Schema], required: list[str]) -> Schema:
    """`{"<key>": {...fields}}`; unknown keys are ignored, as on the token endpoint."""
    return {
        "type": "object",
        "required": [key],
        "properties": {
            key: {"type": "object", "required": required, "properties": fields},
        },
    }


def wrapped(key: str, inner: Schema) -> Schema:
    """`{"<key>": <inner>}`, for a request body whose object is not one plain shape."""
    return {"type": "object", "required": [key], "properties": {key: inner}}


# ------------------------------------------------------------------------------ the pages

HTML: Schema = {"type": "string", "description": "An HTML page."}


def form(fields: dict[str, Schema], required: list[str]) -> Schema:
    """An application/x-www-form-urlencoded body; unknown fields are ignored."""
    return {"type": "object", "required": required, "properties": fields}
