"""JSON Schemas of the standard OAuth 2.0 dialect: its forms (RFC 6749 Appendix B) and answers.

Form parameters are strings; a parameter sent empty counts as omitted (RFC 6749 §3.1) and
unknown parameters are ignored, so the forms are open objects.
"""

from __future__ import annotations

from ehealth_auth.web import schemas as s
from ehealth_auth.web.client_auth import AUTH_METHODS

_VALUE: s.Schema = {"type": "string", "minLength": 1, "pattern": r"\S"}

_CLIENT_FIELDS: dict[str, s.Schema] = {
    "client_id": {
        **_VALUE,
        "description": "client_secret_post: the client id (with HTTP Basic, if sent, the same).",
    },
    "client_secret": {
        **_VALUE,
        "description": "client_secret_post: the connection's secret. Never with HTTP Basic.",
    },
}

REFRESH_FORM: s.Schema = {
    "title": "OAuthRefreshTokenForm",
    "type": "object",
    "description": "RFC 6749 §6. The client authenticates with HTTP Basic or client_id and "
    "client_secret.",
    "required": ["grant_type", "refresh_token"],
    "properties": {
        "grant_type": {"const": "refresh_token"},
        "refresh_token": _VALUE,
        "scope": {
            "type": "string",
            "description": "Optional, space-separated: a narrower scope for the access token; "
            "a scope the user has not approved for the client is `invalid_scope`.",
        },
        **_CLIENT_FIELDS,
    },
}

CODE_FORM: s.Schema = {
    "title": "OAuthAuthorizationCodeForm",
    "type": "object",
    "description": "RFC 6749 §4.1.3 with PKCE (RFC 7636 §4.5). The client authenticates with "
    "HTTP Basic or client_id and client_secret.",
    "required": ["grant_type", "code", "redirect_uri"],
    "properties": {
        "grant_type": {"const": "authorization_code"},
        "code": _VALUE,
        "redirect_uri": _VALUE,
        "code_verifier": {"type": "string", "description": "The PKCE code verifier."},
        **_CLIENT_FIELDS,
    },
}

TOKEN_FORM: s.Schema = {"oneOf": [REFRESH_FORM, CODE_FORM]}

_TOKEN_TYPE_HINT: s.Schema = {
    "type": "string",
    "description": "`access_token` or `refresh_token`: where to look first. The token is found "
    "whatever its kind, so a wrong or unknown hint changes nothing.",
}

REVOCATION_FORM: s.Schema = {
    "title": "OAuthRevocationForm",
    "type": "object",
    "required": ["token"],
    "properties": {
        "token": {**_VALUE, "description": "The access or refresh token to revoke."},
        "token_type_hint": _TOKEN_TYPE_HINT,
        **_CLIENT_FIELDS,
    },
}

INTROSPECTION_FORM: s.Schema = {
    "title": "OAuthIntrospectionForm",
    "type": "object",
    "required": ["token"],
    "properties": {
        "token": {**_VALUE, "description": "The token to introspect."},
        "token_type_hint": _TOKEN_TYPE_HINT,
        **_CLIENT_FIELDS,
    },
}

OAUTH_ERROR = s.obj(
    {
        "error": {
            "type": "string",
            "examples": ["invalid_request", "invalid_client", "invalid_grant"],
            "description": "RFC 6749 §5.2 code (`invalid_token` for a bad gateway key).",
        },
        "error_description": {"type": "string", "description": "What was wrong, for people."},
    },
    title="OAuthError",
)

ACCESS_TOKEN = s.obj(
    {
        "access_token": {"type": "string"},
        "token_type": {"const": "Bearer"},
        "expires_in": {"type": "integer", "minimum": 0, "description": "Seconds."},
        "scope": s.STRING,
        "refresh_token": {
            "type": "string",
            "description": "A new refresh token: always after a code exchange, after a refresh "
            "when refresh tokens rotate.",
        },
    },
    title="OAuthAccessToken",
)
ACCESS_TOKEN["required"] = ["access_token", "token_type", "expires_in", "scope"]

INTROSPECTION = {
    "title": "OAuthIntrospection",
    "type": "object",
    "description": 'RFC 7662 §2.2: `{"active": false}` alone for anything but a live access '
    "token the caller may see.",
    "required": ["active"],
    "properties": {
        "active": s.BOOLEAN,
        "scope": s.STRING,
        "client_id": s.UUID,
        "token_type": {"const": "Bearer"},
        "exp": s.UNIX_TIME,
        "iat": s.UNIX_TIME,
        "sub": {**s.UUID, "description": "The user's id."},
    },
    "additionalProperties": False,
}

_URL: s.Schema = {"type": "string", "format": "uri"}
_NAMES: s.Schema = s.array(s.STRING)

METADATA = s.obj(
    {
        "issuer": _URL,
        "authorization_endpoint": _URL,
        "token_endpoint": _URL,
        "revocation_endpoint": _URL,
        "introspection_endpoint": _URL,
        "service_documentation": _URL,
        "grant_types_supported": _NAMES,
        "response_types_supported": _NAMES,
        "response_modes_supported": _NAMES,
        "token_endpoint_auth_methods_supported": _NAMES,
        "revocation_endpoint_auth_methods_supported": _NAMES,
        "introspection_endpoint_auth_methods_supported": _NAMES,
        "code_challenge_methods_supported": _NAMES,
    },
    title="AuthorizationServerMetadata",
    description="RFC 8414 §2. The auth methods are " + ", ".join(AUTH_METHODS) + ".",
)
# The authorization endpoint is listed when the service serves the authorization pages.
METADATA["required"] = [name for name in METADATA["required"] if name != "authorization_endpoint"]
