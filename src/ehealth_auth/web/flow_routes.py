"""The operations of the authorization-code flow (CONTRACT §3): login, app authorization over
the API, and the browser pages. The code exchange itself is a grant of `/oauth/tokens`."""

from __future__ import annotations

from dataclasses import dataclass

from ehealth_auth.protocol.authorize import AppAuthorizer
from ehealth_auth.protocol.grants.password import PasswordGrant
from ehealth_auth.protocol.token_endpoint import TokenEndpoint
from ehealth_auth.web import schemas as s
from ehealth_auth.web.apps_routes import AppsAuthorizeRoute
from ehealth_auth.web.client_address import SourceAddress
from ehealth_auth.web.operations import REQUEST_ID, Answer, Header, Operation, Param
from ehealth_auth.web.pages.authorize_pages import (
    AUTHORIZE_PATH,
    CONSENT_PATH,
    REQUEST_KEYS,
    SIGN_IN_PATH,
    SIGN_OUT_PATH,
    AuthorizePages,
)
from ehealth_auth.web.pages.i18n import LANGS
from ehealth_auth.web.pages.session import COOKIE, COOKIE_PATH, SessionCookies
from ehealth_auth.web.token_routes import TokenRoute


@dataclass(frozen=True)
class AuthorizationFlow:
    login: PasswordGrant
    login_endpoint: TokenEndpoint  # `/auth/login`'s token endpoint: the `password` grant alone
    authorizer: AppAuthorizer
    cookie_key: bytes  # seals the pages' session cookie
    session_ttl: int  # seconds; the login token's lifetime
    sources: SourceAddress
    cookie_secure: bool = False  # always mark the cookie Secure (behind a TLS proxy)


_LOGIN_REQUEST = s.request_body(
    "token",
    {
        "grant_type": {"const": "password"},
        "email": s.TEXT,
        "password": s.TEXT,
        "client_id": {**s.UUID, "description": "The client the user logs in through."},
        "scope": {**s.TEXT, "examples": ["app:authorize"]},
    },
    ["grant_type", "email", "password", "client_id", "scope"],
)

# ------------------------------------------------------------------------------ the pages

FORM = "application/x-www-form-urlencoded"

# The authorization request (RFC 6749 §4.1.1, RFC 7636 §4.3), in the query of the page and
# carried along as hidden fields of its forms.
_REQUEST_FIELDS: dict[str, tuple[str, s.Schema]] = {
    "response_type": ("Only `code`, the default.", {"const": "code"}),
    "client_id": ("The client asking for access.", s.UUID),
    "redirect_uri": ("One of the client's registered redirect URIs.", s.TEXT),
    "scope": ("The scopes asked for, space-separated.", s.STRING),
    "state": ("Returned unchanged to the client.", s.STRING),
    "code_challenge": ("PKCE: the S256 challenge of the client's code verifier.", s.STRING),
    "code_challenge_method": ("Required with a code_challenge.", {"const": "S256"}),
}
assert tuple(_REQUEST_FIELDS) == REQUEST_KEYS
_NEEDED = ("client_id", "redirect_uri", "scope")
_LANG: s.Schema = {
    "type": "string",
    "enum": list(LANGS),
    "description": "The page's language; without it, from Accept-Language.",
}

_FORM_FIELDS: dict[str, s.Schema] = {
    "csrf_token": {"type": "string", "description": "The hidden field of the page's form."},
    **{name: {**schema, "description": text} for name, (text, schema) in _REQUEST_FIELDS.items()},
    "lang": _LANG,
}
_SET_COOKIE = (
    f"The session cookie `{COOKIE}` (path {COOKIE_PATH}, HttpOnly, SameSite=Lax, Secure over "
    "HTTPS or when EHEALTH_AUTH_COOKIE_SECURE is on), encrypted: the CSRF token of the forms "
    "and, once signed in, the login token."
)
_SESSION = Header("Set-Cookie", _SET_COOKIE, required=True)
_MAYBE_SESSION = Header("Set-Cookie", _SET_COOKIE + " Only when signed in.")
_LOCATION = Header("Location", "Where the browser goes next.", required=True)
_PAGES = (
    "Pages are never cached, cannot be framed and run no script (Content-Security-Policy). "
    "A problem with the client or its redirect URI gets an error page, never a redirect; "
    "other problems with the request go back to the client as `error` (RFC 6749 §4.1.2.1)."
)


def _page(status: int, description: str, *headers: Header) -> Answer:
    return Answer(status, description, "text/html", s.HTML, (REQUEST_ID, *headers))


def _redirect(description: str) -> Answer:
    return Answer(303, description, None, None, (_LOCATION,))


_CLIENT_ERROR_PAGE = _page(
    400, "Error page: the client is unknown or blocked, or the redirect URI is not registered."
)
_BACK_WITH_ERROR = (
    "to the client's redirect URI with `error` (unsupported_response_type, invalid_request or "
    "invalid_scope) and `state` when the request is not valid"
)
_SESSION_EXPIRED = "Error page: the session expired (no session cookie, or another CSRF token)."


def page_operations(pages: AuthorizePages) -> list[Operation]:
    return [
        Operation(
            "GET",
            AUTHORIZE_PATH,
            pages.show,
            "showAuthorizePage",
            "The authorization page: sign in, or approve the client",
            "authorize pages",
            200,
            s.HTML,
            params=(
                *(
                    Param(name, "query", text, schema, needed=name in _NEEDED)
                    for name, (text, schema) in _REQUEST_FIELDS.items()
                ),
                Param("lang", "query", str(_LANG["description"]), _LANG),
            ),
            admin=False,
            media_type="text/html",
            headers=(REQUEST_ID, _SESSION),
            answers=(_CLIENT_ERROR_PAGE, _redirect(f"Back {_BACK_WITH_ERROR}.")),
            description="RFC 6749 §4.1.1. The sign-in page, or the consent page when the "
            "session's login token is still valid. " + _PAGES,
        ),
        Operation(
            "POST",
            SIGN_IN_PATH,
            pages.sign_in,
            "signInOnAuthorizePage",
            "Sign in from the authorization page",
            "authorize pages",
            303,
            None,
            body=s.form(
                _FORM_FIELDS | {"email": s.TEXT, "password": s.TEXT},
                ["csrf_token", "email", "password", *_NEEDED],
            ),
            admin=False,
            body_media_type=FORM,
            headers=(_LOCATION, _MAYBE_SESSION),
            answers=(
                _CLIENT_ERROR_PAGE,
                _page(401, "The sign-in page again: the email or password is wrong."),
                _page(403, f"The sign-in page again: the user is blocked. {_SESSION_EXPIRED}"),
                _page(422, "The sign-in page again: the email or password is missing."),
                _page(
                    429,
                    "The sign-in page again: too many failed attempts.",
                    Header(
                        "Retry-After",
                        "Seconds until the next attempt is allowed.",
                        required=True,
                        schema={"type": "integer", "minimum": 1},
                    ),
                ),
            ),
            description="The checks of `POST /auth/login`. Signed in: back to the authorization "
            f"page (now the consent page) with a new session; or back {_BACK_WITH_ERROR}. "
            "The client must be allowed scope app:authorize, else an error page (400).",
        ),
        Operation(
            "POST",
            CONSENT_PATH,
            pages.consent,
            "consentOnAuthorizePage",
            "Approve or deny the client",
            "authorize pages",
            303,
            None,
            body=s.form(
                _FORM_FIELDS | {"decision": {"type": "string", "enum": ["approve", "deny"]}},
                ["csrf_token", "decision", *_NEEDED],
            ),
            admin=False,
            body_media_type=FORM,
            headers=(_LOCATION,),
            answers=(_CLIENT_ERROR_PAGE, _page(403, _SESSION_EXPIRED)),
            description="The checks of `POST /oauth/apps/authorize`. decision=approve: to the "
            "redirect URI with `code` and `state`; otherwise with error=access_denied and "
            "`state`. Signed out meanwhile: back to the authorization page; or back "
            f"{_BACK_WITH_ERROR}.",
        ),
        Operation(
            "POST",
            SIGN_OUT_PATH,
            pages.sign_out,
            "signOutOnAuthorizePage",
            "Sign out, back to the sign-in page",
            "authorize pages",
            303,
            None,
            body=s.form(_FORM_FIELDS, ["csrf_token"]),
            admin=False,
            body_media_type=FORM,
            headers=(_LOCATION, _SESSION),
            answers=(_page(403, _SESSION_EXPIRED),),
            description="Revokes the session's login token; back to the authorization page, "
            "with a new session that is not signed in.",
        ),
    ]


def flow_operations(flow: AuthorizationFlow, max_body_bytes: int) -> list[Operation]:
    login = TokenRoute(flow.login_endpoint, max_body_bytes, flow.sources)
    pages = AuthorizePages(
        flow.authorizer,
        flow.login,
        SessionCookies(flow.cookie_key, flow.session_ttl, flow.cookie_secure),
        max_body_bytes,
        flow.sources,
    )
    return [
        Operation(
            "POST",
            "/auth/login",
            login.handle,
            "login",
            "Log a user in: a login token (grant_type=password)",
            "login",
            201,
            s.envelope(s.LOGIN_TOKEN),
            (400, 401, 413, 415, 422, 429, 503),
            body=_LOGIN_REQUEST,
            admin=False,
            description="CONTRACT §3. Checks in order (the first failure decides): "
            "grant_type (422 when missing, 401 invalid_grant when not password), the fields "
            "(422), the client (401 invalid_client when unknown or blocked), the scope ceiling "
            "(422), the attempt budget of the caller's address and of the email (429 with "
            "Retry-After), email and password (401 access_denied, the same answer for unknown "
            "emails), the user (401 user_blocked), the user's approval of every scope beyond "
            "app:authorize for this client (422). 503 with Retry-After when every password "
            "check of the process is busy. Answers are never cached.",
        ),
        AppsAuthorizeRoute(flow.authorizer, max_body_bytes).operation(),
        *page_operations(pages),
    ]
