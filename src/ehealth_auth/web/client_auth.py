"""Client authentication of the standard dialect (RFC 6749 §2.3.1): the one place where a
client's credentials are taken from a request and checked, for the token endpoint's form mode,
revocation and introspection.

A client authenticates with HTTP Basic (`client_secret_basic`: the form-urlencoded client id and
secret, base64-encoded) or with `client_id` and `client_secret` in the form
(`client_secret_post`), never both at once (400 `invalid_request`). A failure is 401
`invalid_client`; when the client tried Basic, or sent no credentials at all, the answer
carries `WWW-Authenticate: Basic` (RFC 6749 §5.2).

`ClientAuthentication.attempt` is where every client authentication passes, whatever the endpoint
and whatever the dialect (the eHealth JSON token endpoint too, whose grants take the credentials
from the body): the place for anything that must see each success or failure of a client's
authentication, such as the throttle.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar
from urllib.parse import unquote_plus
from uuid import UUID

from starlette.requests import Request

from ehealth_auth.logs import note_client
from ehealth_auth.protocol.errors import InvalidClientError, RequestMalformedError
from ehealth_auth.protocol.oauth.client_auth import ClientAuthenticator
from ehealth_auth.protocol.throttle import ClientAuthThrottle
from ehealth_auth.web.client_address import SourceAddress

T = TypeVar("T")

CLIENT_SECRET_BASIC = "client_secret_basic"  # noqa: S105  (a method's name, not a secret)
CLIENT_SECRET_POST = "client_secret_post"  # noqa: S105
AUTH_METHODS = (CLIENT_SECRET_BASIC, CLIENT_SECRET_POST)

NO_CREDENTIALS = "Client authentication is required: HTTP Basic or client_id and client_secret."
MALFORMED_BASIC = "Malformed HTTP Basic client credentials."
NOT_BASIC = "Client authentication must use the HTTP Basic scheme."
BOTH_METHODS = "Use one client authentication method: HTTP Basic or client_secret, not both."
OTHER_CLIENT_ID = "client_id differs from the HTTP Basic client id."


class ClientChallengeError(InvalidClientError):
    """`invalid_client` for a client that tried HTTP Basic (or sent no credentials)."""

    @property
    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": 'Basic realm="ehealth-auth"'}


@dataclass(frozen=True)
class ClientCredentials:
    client_id: str
    client_secret: str
    method: str  # CLIENT_SECRET_BASIC or CLIENT_SECRET_POST


def _decode_basic(value: str) -> tuple[str, str]:
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        client_id, colon, client_secret = decoded.partition(":")
        if not colon:
            raise ValueError
        # RFC 6749 §2.3.1: both are form-urlencoded before they are joined.
        return unquote_plus(client_id, errors="strict"), unquote_plus(
            client_secret, errors="strict"
        )
    except (binascii.Error, ValueError):  # UnicodeDecodeError is a ValueError
        raise ClientChallengeError(MALFORMED_BASIC) from None


def client_credentials(authorization: str | None, form: Mapping[str, str]) -> ClientCredentials:
    """The credentials of a request, by the one method it used; refused when there are none,
    when they are malformed, or when it used both methods."""
    if authorization is not None:
        scheme, _, value = authorization.strip().partition(" ")
        if scheme.lower() != "basic":
            raise ClientChallengeError(NOT_BASIC)
        if "client_secret" in form:
            raise RequestMalformedError(BOTH_METHODS)
        client_id, client_secret = _decode_basic(value)
        if form.get("client_id", client_id) != client_id:
            raise RequestMalformedError(OTHER_CLIENT_ID)
        method = CLIENT_SECRET_BASIC
    else:
        client_id = form.get("client_id", "")
        client_secret = form.get("client_secret", "")
        method = CLIENT_SECRET_POST
        if not client_id and not client_secret:
            raise ClientChallengeError(NO_CREDENTIALS)
    if not client_id.strip() or not client_secret.strip():
        if method == CLIENT_SECRET_BASIC:
            raise ClientChallengeError(NO_CREDENTIALS)
        raise InvalidClientError()
    return ClientCredentials(client_id, client_secret, method)


class ClientAuthentication:
    """`throttle` counts failed client authentications by source address and client id, and
    refuses (429) past its limits before any secret is checked; `sources` tells the address."""

    def __init__(
        self,
        authenticator: ClientAuthenticator,
        throttle: ClientAuthThrottle,
        sources: SourceAddress,
    ) -> None:
        self._authenticator = authenticator
        self._throttle = throttle
        self._sources = sources

    async def authenticated(
        self,
        request: Request,
        form: Mapping[str, str],
        action: Callable[[ClientCredentials], Awaitable[T]],
    ) -> T:
        """Run `action` with the request's client credentials; `action` checks them (the token
        endpoint's grants in their own read, or `verified_client`) and raises
        InvalidClientError when they do not hold. Every client authentication passes here."""
        credentials = client_credentials(request.headers.get("authorization"), form)
        note_client(credentials.client_id)
        source = self._sources.of(request)
        try:
            return await self.attempt(source, credentials.client_id, lambda: action(credentials))
        except InvalidClientError as error:
            if credentials.method == CLIENT_SECRET_BASIC and not isinstance(
                error, ClientChallengeError
            ):
                raise ClientChallengeError(error.message) from None
            raise

    async def attempt(
        self, source: str, client_id: object, action: Callable[[], Awaitable[T]]
    ) -> T:
        """Run `action`, which authenticates the client that `client_id` names, under the
        throttle: refused (429) at its limits before `action` runs, and a failed authentication
        counted by `source` and `client_id`."""
        async with self._throttle.authenticating(source, client_id):
            return await action()

    async def verified_client(self, request: Request, form: Mapping[str, str]) -> UUID:
        """The id of the client that authenticated the request (revocation, introspection)."""
        return await self.authenticated(request, form, self._verify)

    async def _verify(self, credentials: ClientCredentials) -> UUID:
        return await self._authenticator.authenticate(
            credentials.client_id, credentials.client_secret
        )
