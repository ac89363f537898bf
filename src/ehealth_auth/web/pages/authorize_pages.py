"""`GET /oauth/authorize` and its forms (RFC 6749 §4.1.1-4.1.2): sign in, consent, back to the
MIS with `code` and `state`.

The pages only parse and render: every check is the protocol's, the same as over the API
(`PasswordGrant` for the sign-in, `AppAuthorizer` for the consent). An unknown client or a
redirect URI that is not registered gets an error page, never a redirect; other problems with
the request go back to the MIS as `error=...` (RFC 6749 §4.1.2.1).
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import parse_qsl, urlencode, urlsplit

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ehealth_auth.logs import noting_errors
from ehealth_auth.protocol import redirect_uri as redirects
from ehealth_auth.protocol.approvals import SCOPE_NOT_ALLOWED
from ehealth_auth.protocol.authorize import (
    APP_AUTHORIZE,
    CLIENT_NOT_FOUND,
    AppAuthorizer,
    AuthorizationRequest,
)
from ehealth_auth.protocol.errors import (
    CONTROL_CHARACTERS,
    AccessDeniedError,
    InvalidClientError,
    ServiceError,
    ServiceUnavailableError,
    TooManyRequestsError,
    UserBlockedError,
    ValidationError,
)
from ehealth_auth.protocol.grants.password import PasswordGrant
from ehealth_auth.protocol.scope import parse
from ehealth_auth.web.body import read_body
from ehealth_auth.web.client_address import SourceAddress
from ehealth_auth.web.pages.i18n import LANGS, Lang, choose_lang, describe_scope, text
from ehealth_auth.web.pages.render import PageRenderer
from ehealth_auth.web.pages.session import PageSession, SessionCookies, new_session

AUTHORIZE_PATH = "/oauth/authorize"
SIGN_IN_PATH = "/oauth/authorize/sign-in"
CONSENT_PATH = "/oauth/authorize/consent"
SIGN_OUT_PATH = "/oauth/authorize/sign-out"
# The parameters of the authorization request that travel through the forms.
REQUEST_KEYS = (
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "code_challenge",
    "code_challenge_method",
)
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
# The sign-in form's credentials: the login grant validates them.
_CREDENTIALS = frozenset({"email", "password"})


def _redirect(url: str) -> Response:
    return RedirectResponse(url, status_code=303, headers=_NO_STORE)


def _back_to_client(params: Mapping[str, str], answer: dict[str, str]) -> Response:
    """Redirect to the (already checked) redirect URI with the answer and the state."""
    state = params.get("state")
    if state:
        answer = {**answer, "state": state}
    return _redirect(redirects.with_params(params["redirect_uri"], answer))


def _request_error(error: ValidationError) -> str:
    about_scope = error.message == SCOPE_NOT_ALLOWED or any(
        entry.entry.endswith(".scope") for entry in error.invalid
    )
    return "invalid_scope" if about_scope else "invalid_request"


def _client_error_key(error: ServiceError) -> str:
    if isinstance(error, InvalidClientError):
        return "client_blocked"
    if error.message == CLIENT_NOT_FOUND:
        return "unknown_client"
    return "redirect_mismatch"


class AuthorizePages:
    def __init__(
        self,
        authorizer: AppAuthorizer,
        login: PasswordGrant,
        cookies: SessionCookies,
        max_body_bytes: int,
        sources: SourceAddress,
    ) -> None:
        self._authorizer = authorizer
        self._login = login
        self._cookies = cookies
        self._max_body_bytes = max_body_bytes
        self._sources = sources
        self._renderer = PageRenderer()

    async def show(self, request: Request) -> Response:
        params = {key: value for key, value in request.query_params.items()}
        return await self._flow(request, params, self._cookies.read(request))

    async def sign_in(self, request: Request) -> Response:
        params, session = await self._form(request)
        if session is None:
            return self._session_expired(request, params)
        checked = await self._check(request, params)
        if isinstance(checked, Response):
            return checked
        try:
            issued = await noting_errors(
                self._login.handle(
                    {
                        "grant_type": "password",
                        "email": params.get("email", ""),
                        "password": params.get("password", ""),
                        "client_id": params["client_id"],
                        "scope": APP_AUTHORIZE,
                    },
                    source=self._sources.of(request),
                )
            )
        except TooManyRequestsError as error:
            minutes = str(-(-error.retry_after // 60))
            return self._sign_in_page(
                request,
                params,
                session,
                checked,
                ("too_many_attempts", minutes),
                429,
                error.headers,
            )
        except UserBlockedError:
            return self._sign_in_page(request, params, session, checked, ("user_blocked", ""), 403)
        except AccessDeniedError:
            return self._sign_in_page(
                request, params, session, checked, ("wrong_credentials", ""), 401
            )
        except ValidationError as error:
            if error.message == SCOPE_NOT_ALLOWED:
                return self._error_page(request, params, "sign_in_not_allowed")
            key = "missing_credentials"
            if any(CONTROL_CHARACTERS in entry.rules for entry in error.invalid):
                key = "invalid_characters"
                params = {**params, "email": ""}  # never echoed back
            return self._sign_in_page(request, params, session, checked, (key, ""), 422)
        except InvalidClientError as error:
            return self._error_page(request, params, _client_error_key(error))
        except ServiceUnavailableError as error:
            return self._sign_in_page(
                request, params, session, checked, ("busy", ""), 503, error.headers
            )
        response = _redirect(self._authorize_url(params))
        self._cookies.write(request, response, new_session(issued.value))
        return response

    async def consent(self, request: Request) -> Response:
        params, session = await self._form(request)
        if session is None:
            return self._session_expired(request, params)
        checked = await self._check(request, params)
        if isinstance(checked, Response):
            return checked
        if params.get("decision") != "approve":
            return _back_to_client(params, {"error": "access_denied"})
        try:
            user_id = await self._authorizer.authenticate(session.token)
        except ServiceError:
            return _redirect(self._authorize_url(params))  # signed out meanwhile: sign in again
        app = await self._authorizer.grant(user_id, checked)
        state = params.get("state")
        return _redirect(
            redirects.with_params(app.location, {"state": state}) if state else app.location
        )

    async def sign_out(self, request: Request) -> Response:
        params, session = await self._form(request)
        if session is None:
            return self._session_expired(request, params)
        if session.token:
            await self._login.sign_out(session.token)
        response = _redirect(self._authorize_url(params))
        self._cookies.write(request, response, new_session())
        return response

    async def _flow(
        self, request: Request, params: dict[str, str], session: PageSession | None
    ) -> Response:
        checked = await self._check(request, params)
        if isinstance(checked, Response):
            return checked
        session = session or new_session()
        signed_in = False
        if session.token:
            try:
                await self._authorizer.authenticate(session.token)
                signed_in = True
            except ServiceError:
                session = new_session()
        if signed_in:
            response = self._consent_page(request, params, session, checked)
        else:
            response = self._sign_in_page(request, params, session, checked)
        self._cookies.write(request, response, session)
        return response

    async def _check(
        self, request: Request, params: dict[str, str]
    ) -> AuthorizationRequest | Response:
        """The checked request, or the answer: an error page or a redirect with `error`."""
        if any(
            "\x00" in key or ("\x00" in value and key not in _CREDENTIALS)
            for key, value in params.items()
        ):
            # Never echoed, not even in the error page's hidden fields. The sign-in form's
            # credentials are checked by the login itself (a page that says why, without them).
            return self._error_page(request, {}, "bad_request")
        try:
            await self._authorizer.check_client(
                params.get("client_id", ""), params.get("redirect_uri", "")
            )
        except ServiceError as error:
            return self._error_page(request, params, _client_error_key(error))
        if params.get("response_type", "code") != "code":
            return _back_to_client(params, {"error": "unsupported_response_type"})
        try:
            return await self._authorizer.request(params, prefix="$.query")
        except ValidationError as error:
            return _back_to_client(params, {"error": _request_error(error)})

    async def _form(self, request: Request) -> tuple[dict[str, str], PageSession | None]:
        """The form's fields, and the session when its CSRF token matches the form's."""
        try:
            raw = await read_body(request, self._max_body_bytes)
        except ServiceError:
            raw = b""
        params = dict(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))
        session = self._cookies.read(request)
        if session is None or not session.csrf_matches(params.get("csrf_token")):
            return params, None
        return params, session

    def _lang(self, request: Request, params: Mapping[str, str]) -> Lang:
        return choose_lang(params.get("lang"), request.headers.get("accept-language", ""))

    def _authorize_url(self, params: Mapping[str, str], lang: str | None = None) -> str:
        kept = [(key, params[key]) for key in REQUEST_KEYS if params.get(key)]
        chosen = lang or params.get("lang")
        if chosen:
            kept.append(("lang", chosen))
        return f"{AUTHORIZE_PATH}?{urlencode(kept)}"

    def _context(self, params: Mapping[str, str], lang: Lang) -> dict[str, object]:
        fields = [(key, params[key]) for key in REQUEST_KEYS if params.get(key)]
        return {
            "switch_urls": {code: self._authorize_url(params, code) for code in LANGS},
            "request_fields": [*fields, ("lang", lang)],
        }

    def _sign_in_page(
        self,
        request: Request,
        params: Mapping[str, str],
        session: PageSession,
        checked: AuthorizationRequest,
        error: tuple[str, str] | None = None,
        status: int = 200,
        headers: Mapping[str, str] | None = None,
    ) -> Response:
        lang = self._lang(request, params)
        message = text(error[0], lang, minutes=error[1]) if error else None
        response = self._renderer.render(
            request,
            "sign_in.html",
            lang=lang,
            status=status,
            headers=headers,
            context={
                "csrf": session.csrf,
                "client_name": checked.client_name,
                "email": params.get("email", ""),
                "error": message,
                "sign_in_url": SIGN_IN_PATH,
                **self._context(params, lang),
            },
        )
        return response

    def _consent_page(
        self,
        request: Request,
        params: Mapping[str, str],
        session: PageSession,
        checked: AuthorizationRequest,
    ) -> Response:
        lang = self._lang(request, params)
        return self._renderer.render(
            request,
            "consent.html",
            lang=lang,
            context={
                "csrf": session.csrf,
                "client_name": checked.client_name,
                "scopes": [(scope, describe_scope(scope, lang)) for scope in parse(checked.scope)],
                "redirect_host": urlsplit(checked.redirect_uri).netloc,
                "consent_url": CONSENT_PATH,
                "sign_out_url": SIGN_OUT_PATH,
                **self._context(params, lang),
            },
        )

    def _error_page(
        self, request: Request, params: Mapping[str, str], key: str, status: int = 400
    ) -> Response:
        lang = self._lang(request, params)
        return self._renderer.render(
            request,
            "error.html",
            lang=lang,
            status=status,
            context={"error": text(key, lang), **self._context(params, lang)},
        )

    def _session_expired(self, request: Request, params: Mapping[str, str]) -> Response:
        return self._error_page(request, params, "session_expired", status=403)
