"""Off-the-shelf OAuth 2.0 client libraries, unmodified, against the service (CONTRACT §8).

Authlib's httpx client runs over the ASGI app; the requests-based clients (requests-oauthlib,
Authlib's requests flavour) talk to a real server process. The client libraries find the
endpoints in the RFC 8414 metadata, as an integrator's configuration would.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests
from authlib.integrations.httpx_client import (  # type: ignore[import-untyped]
    AsyncOAuth2Client,
    OAuthError,
)
from authlib.integrations.requests_client import (  # type: ignore[import-untyped]
    OAuth2Session as AuthlibSession,
)
from oauthlib.oauth2.rfc6749 import errors as oauth2_errors  # type: ignore[import-untyped]
from requests.auth import HTTPBasicAuth
from requests_oauthlib import OAuth2Session  # type: ignore[import-untyped]

from ehealth_auth.settings import Settings
from ehealth_auth.wiring import Services, build_app
from tests.admin_support import ADMIN_KEY, admin_overrides
from tests.oauth2_support import METADATA_PATH, approve_in_browser, approve_in_browser_sync
from tests.servers import clean_env, free_port, start_server, stop
from tests.support import TEST_SECRET_KEY, World

REDIRECT_URI = "https://mis.example.org/cb"
SCOPE = "legal_entity:read employee:read"
BASE = "http://127.0.0.1"  # loopback: the libraries allow plain HTTP to it (RFC 8252 §7.3)


@pytest.fixture
def setting_overrides() -> dict[str, Any]:
    # Reuse is detected at once (no grace window), as the error-case tests need.
    return {**admin_overrides(), "refresh_rotation": "on", "refresh_reuse_grace": 0}


@pytest.fixture
def app_transport(settings: Settings, services: Services) -> httpx.ASGITransport:
    return httpx.ASGITransport(app=build_app(settings, services))


@pytest.fixture
async def metadata(app_transport: httpx.ASGITransport) -> dict[str, Any]:
    async with httpx.AsyncClient(transport=app_transport, base_url=BASE) as http:
        response = await http.get(METADATA_PATH)
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    return document


def authlib_client(transport: httpx.ASGITransport, world: World, method: str, **kwargs: Any) -> Any:
    return AsyncOAuth2Client(
        client_id=str(world.client_id),
        client_secret=world.client_secret,
        token_endpoint_auth_method=method,
        revocation_endpoint_auth_method=method,
        transport=transport,
        base_url=BASE,
        **kwargs,
    )


@asynccontextmanager
async def code_flow_client(
    transport: httpx.ASGITransport, world: World, method: str
) -> AsyncIterator[Any]:
    client = authlib_client(
        transport,
        world,
        method,
        scope=SCOPE,
        redirect_uri=REDIRECT_URI,
        code_challenge_method="S256",
    )
    async with client:
        yield client


async def approved_location(
    client: Any,
    transport: httpx.ASGITransport,
    metadata: dict[str, Any],
    world: World,
    verifier: str,
) -> str:
    """Authlib's authorization URL (with its PKCE challenge), approved by the user."""
    url, _state = client.create_authorization_url(
        metadata["authorization_endpoint"], code_verifier=verifier
    )
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as browser:
        return await approve_in_browser(browser, url, world)


async def authlib_code_flow(
    client: Any, transport: httpx.ASGITransport, metadata: dict[str, Any], world: World
) -> dict[str, Any]:
    """Authlib's own code flow with PKCE, a user approving in between: the token."""
    verifier = secrets.token_urlsafe(48)
    location = await approved_location(client, transport, metadata, world, verifier)
    token = await client.fetch_token(
        metadata["token_endpoint"], authorization_response=location, code_verifier=verifier
    )
    return dict(token)


@pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post"])
async def test_authlib_code_flow_with_pkce_then_refresh_revoke_and_introspect(
    app_transport: httpx.ASGITransport, metadata: dict[str, Any], world: World, method: str
) -> None:
    async with code_flow_client(app_transport, world, method) as client:
        token = await authlib_code_flow(client, app_transport, metadata, world)
        assert token["token_type"] == "Bearer"
        assert token["scope"] == SCOPE
        assert token["expires_in"] == 28_800

        refreshed = dict(await client.refresh_token(metadata["token_endpoint"]))
        assert refreshed["access_token"] != token["access_token"]
        assert refreshed["refresh_token"] != token["refresh_token"]  # rotation is on

        live = await client.introspect_token(
            metadata["introspection_endpoint"], token=refreshed["access_token"]
        )
        assert live.status_code == 200
        assert live.json()["active"] is True
        assert live.json()["scope"] == SCOPE
        assert live.json()["sub"] == str(world.user_id)

        revoked = await client.revoke_token(
            metadata["revocation_endpoint"],
            token=refreshed["refresh_token"],
            token_type_hint="refresh_token",
        )
        assert revoked.status_code == 200
        # The family went with the refresh token: its access token is inactive, and verify
        # refuses it as well.
        dead = await client.introspect_token(
            metadata["introspection_endpoint"], token=refreshed["access_token"]
        )
        assert dead.json() == {"active": False}
        verify = await client.get(
            f"/admin/tokens/{refreshed['access_token']}/verify",
            headers={"Authorization": f"Bearer {ADMIN_KEY}"},
        )
        assert verify.status_code == 401
        with pytest.raises(OAuthError) as raised:
            await client.refresh_token(metadata["token_endpoint"])
        assert raised.value.error == "invalid_grant"


async def test_authlib_sees_reuse_detection_as_invalid_grant(
    app_transport: httpx.ASGITransport, metadata: dict[str, Any], world: World
) -> None:
    async with code_flow_client(app_transport, world, "client_secret_basic") as client:
        token = await authlib_code_flow(client, app_transport, metadata, world)
        await client.refresh_token(metadata["token_endpoint"])
        with pytest.raises(OAuthError) as raised:
            await client.refresh_token(
                metadata["token_endpoint"], refresh_token=token["refresh_token"]
            )
    assert raised.value.error == "invalid_grant"
    assert raised.value.description == "Token has already been used."


async def test_authlib_exchange_with_a_wrong_verifier_is_invalid_grant(
    app_transport: httpx.ASGITransport, metadata: dict[str, Any], world: World
) -> None:
    async with code_flow_client(app_transport, world, "client_secret_basic") as client:
        verifier = secrets.token_urlsafe(48)
        location = await approved_location(client, app_transport, metadata, world, verifier)
        with pytest.raises(OAuthError) as raised:
            await client.fetch_token(
                metadata["token_endpoint"],
                authorization_response=location,
                code_verifier=secrets.token_urlsafe(48),
            )
    assert raised.value.error == "invalid_grant"
    assert raised.value.description == "Code verifier does not match the code challenge."


@pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post"])
async def test_authlib_with_a_wrong_secret_is_invalid_client(
    app_transport: httpx.ASGITransport, metadata: dict[str, Any], world: World, method: str
) -> None:
    client = AsyncOAuth2Client(
        client_id=str(world.client_id),
        client_secret="not-the-secret",
        token_endpoint_auth_method=method,
        transport=app_transport,
    )
    async with client:
        with pytest.raises(OAuthError) as raised:
            await client.refresh_token(
                metadata["token_endpoint"], refresh_token=world.refresh_token
            )
    assert raised.value.error == "invalid_client"


async def test_authlib_with_another_grant_type_is_unsupported_grant_type(
    app_transport: httpx.ASGITransport, metadata: dict[str, Any], world: World
) -> None:
    async with authlib_client(app_transport, world, "client_secret_basic") as client:
        with pytest.raises(OAuthError) as raised:
            await client.fetch_token(metadata["token_endpoint"], grant_type="client_credentials")
    assert raised.value.error == "unsupported_grant_type"


async def test_authlib_with_an_unapproved_scope_is_invalid_scope(
    app_transport: httpx.ASGITransport, metadata: dict[str, Any], world: World
) -> None:
    client = authlib_client(
        app_transport, world, "client_secret_post", scope="employee:read employee:write"
    )
    async with client:
        with pytest.raises(OAuthError) as raised:
            await client.refresh_token(
                metadata["token_endpoint"], refresh_token=world.refresh_token
            )
    assert raised.value.error == "invalid_scope"


# ---------------------------------------------------------------- a real server, requests


@pytest.fixture
def server(settings: Settings, services: Services, world: World, tmp_path: Path) -> Iterator[str]:
    """The real server process over the test's database (seeded with `world`)."""
    del services, world  # the database is emptied and seeded before the server starts
    env = clean_env(
        EHEALTH_AUTH_DATABASE_URL=settings.database_url,
        EHEALTH_AUTH_SECRET_KEY=TEST_SECRET_KEY,
        EHEALTH_AUTH_REFRESH_ROTATION="on",
        EHEALTH_AUTH_REFRESH_REUSE_GRACE="0",
        EHEALTH_AUTH_ADMIN_KEYS=ADMIN_KEY,
    )
    port = free_port()
    process = start_server(tmp_path, env, port, tmp_path / "server.log")
    try:
        yield f"{BASE}:{port}"
    finally:
        stop(process)


@pytest.fixture
def insecure_transport(monkeypatch: pytest.MonkeyPatch) -> None:
    # oauthlib refuses plain HTTP unless told; the server here is on the loopback interface.
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")


def _metadata(base: str) -> dict[str, Any]:
    document: dict[str, Any] = requests.get(base + METADATA_PATH, timeout=10).json()
    assert document["issuer"] == base
    return document


@pytest.mark.usefixtures("insecure_transport")
def test_requests_oauthlib_code_flow_with_pkce_and_refresh_with_both_methods(
    server: str, world: World
) -> None:
    metadata = _metadata(server)
    session = OAuth2Session(
        str(world.client_id), redirect_uri=REDIRECT_URI, scope=SCOPE.split(), pkce="S256"
    )
    url, _state = session.authorization_url(metadata["authorization_endpoint"])
    with httpx.Client(base_url=server) as browser:
        location = approve_in_browser_sync(browser, url, world)

    token = session.fetch_token(
        metadata["token_endpoint"],
        authorization_response=location,
        client_secret=world.client_secret,
    )
    assert token["scope"] == SCOPE.split()

    basic = session.refresh_token(
        metadata["token_endpoint"],
        refresh_token=token["refresh_token"],
        auth=HTTPBasicAuth(str(world.client_id), world.client_secret),
    )
    posted = session.refresh_token(
        metadata["token_endpoint"],
        refresh_token=basic["refresh_token"],
        client_id=str(world.client_id),
        client_secret=world.client_secret,
    )
    assert posted["access_token"] not in (token["access_token"], basic["access_token"])
    verify = httpx.get(
        f"{server}/admin/tokens/{posted['access_token']}/verify",
        headers={"Authorization": f"Bearer {ADMIN_KEY}"},
    )
    assert verify.status_code == 200
    assert verify.json()["data"]["details"]["scope"] == SCOPE


@pytest.mark.usefixtures("insecure_transport")
def test_requests_oauthlib_refresh_of_the_seeded_token_with_basic_auth(
    server: str, world: World
) -> None:
    session = OAuth2Session(str(world.client_id))

    token = session.refresh_token(
        _metadata(server)["token_endpoint"],
        refresh_token=world.refresh_token,
        auth=(str(world.client_id), world.client_secret),
    )

    assert token["token_type"] == "Bearer"
    assert token["expires_in"] == 28_800
    assert token["refresh_token"] != world.refresh_token


@pytest.mark.usefixtures("insecure_transport")
def test_requests_oauthlib_raises_the_rfc6749_errors(server: str, world: World) -> None:
    url = _metadata(server)["token_endpoint"]
    session = OAuth2Session(str(world.client_id))
    auth = (str(world.client_id), world.client_secret)

    with pytest.raises(oauth2_errors.InvalidClientError):
        session.refresh_token(url, refresh_token=world.refresh_token, auth=(auth[0], "wrong"))
    with pytest.raises(oauth2_errors.InvalidScopeError):
        OAuth2Session(str(world.client_id), scope=["employee:write"]).refresh_token(
            url, refresh_token=world.refresh_token, auth=auth
        )
    session.refresh_token(url, refresh_token=world.refresh_token, auth=auth)  # rotates it
    time.sleep(0.6)  # past the race window: presenting the retired token now is reuse
    with pytest.raises(oauth2_errors.InvalidGrantError) as raised:
        session.refresh_token(url, refresh_token=world.refresh_token, auth=auth)
    assert raised.value.description == "Token has already been used."


@pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post"])
def test_authlib_requests_client_refreshes_revokes_and_introspects(
    server: str, world: World, method: str
) -> None:
    metadata = _metadata(server)
    with AuthlibSession(
        str(world.client_id),
        world.client_secret,
        token_endpoint_auth_method=method,
        revocation_endpoint_auth_method=method,
    ) as session:
        token = session.refresh_token(metadata["token_endpoint"], refresh_token=world.refresh_token)
        introspected = session.introspect_token(
            metadata["introspection_endpoint"], token=token["access_token"]
        )
        assert introspected.json()["active"] is True
        revoked = session.revoke_token(
            metadata["revocation_endpoint"],
            token=token["access_token"],
            token_type_hint="access_token",
        )
        assert revoked.status_code == 200
        assert session.introspect_token(
            metadata["introspection_endpoint"], token=token["access_token"]
        ).json() == {"active": False}


def _log_with(path: Path, needle: str) -> str:
    """The server's log once it shows `needle` (the access line follows the answer)."""
    deadline = time.monotonic() + 10
    while needle not in (log := path.read_text()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert needle in log
    return log


def test_plain_curl_with_basic_auth_refreshes_and_nothing_secret_is_logged(
    server: str, world: World, tmp_path: Path
) -> None:
    answer = subprocess.run(
        [
            "curl",
            "-s",
            "-u",
            f"{world.client_id}:{world.client_secret}",
            f"{server}/oauth/tokens",
            "-d",
            "grant_type=refresh_token",
            "-d",
            f"refresh_token={world.refresh_token}",
            "-w",
            "\n%{http_code}",
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )

    body, status = answer.stdout.rsplit("\n", 1)
    assert status == "200", body
    token = json.loads(body)
    assert token["token_type"] == "Bearer"
    log = _log_with(tmp_path / "server.log", '"path":"/oauth/tokens"')
    for secret in (world.client_secret, world.refresh_token, token["access_token"]):
        assert secret not in log
