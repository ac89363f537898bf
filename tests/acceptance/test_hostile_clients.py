"""Hostile clients over HTTP, on both backends: forwarded addresses, key roles, least privilege,
the access log's redaction, the browser session, connection-bound refresh tokens."""

from __future__ import annotations

import logging
import uuid
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from pydantic import ValidationError as SettingsError

from ehealth_auth.crypto import HmacSecretHasher
from ehealth_auth.settings import Settings
from ehealth_auth.storage.tables import auth_failures, connections, tokens
from ehealth_auth.wiring import Services
from tests.admin_support import ADMIN_KEY, AUTH
from tests.fakes import FakeClock
from tests.flow_support import (
    REDIRECT_URI,
    assert_error,
    authorize,
    exchange_body,
    login,
    login_body,
    page_forms,
)
from tests.support import TEST_SECRET_KEY, World

GATEWAY_KEY = "gateway-key-0123456789abcdef-0123456789"
ROLES = {"admin_keys": (ADMIN_KEY,), "gateway_keys": (GATEWAY_KEY,)}
GATEWAY = {"Authorization": f"Bearer {GATEWAY_KEY}"}
PROXY = {"trusted_proxies": "127.0.0.1/32", "client_max_failures": 2, "login_max_failures": 2}


def wrong_secret(world: World) -> dict[str, Any]:
    return world.refresh_body(client_secret="not-the-secret")


# ------------------------------------------------------------------ forwarded addresses


@pytest.mark.parametrize("setting_overrides", [PROXY])
async def test_behind_a_trusted_proxy_the_forwarded_address_is_throttled(
    http: httpx.AsyncClient, world: World
) -> None:
    attacker = {"X-Forwarded-For": "198.51.100.9, 192.0.2.66"}  # the proxy appended the last
    honest = {"X-Forwarded-For": "192.0.2.77"}
    statuses = [
        (await http.post("/oauth/tokens", json=wrong_secret(world), headers=attacker)).status_code
        for _ in range(4)
    ]
    assert statuses == [401, 401, 429, 429]

    served = await http.post("/oauth/tokens", json=world.refresh_body(), headers=honest)
    assert served.status_code == 201
    # The client-written left part of the header does not pick another address.
    spoofed = {"X-Forwarded-For": "192.0.2.77, 192.0.2.66"}
    answer = await http.post("/oauth/tokens", json=world.refresh_body(), headers=spoofed)
    assert answer.status_code == 429


@pytest.mark.parametrize("setting_overrides", [{"client_max_failures": 2}])
async def test_without_a_trusted_proxy_x_forwarded_for_is_ignored(
    http: httpx.AsyncClient, world: World
) -> None:
    for n in range(2):
        headers = {"X-Forwarded-For": f"192.0.2.{n}"}
        await http.post("/oauth/tokens", json=wrong_secret(world), headers=headers)

    headers = {"X-Forwarded-For": "192.0.2.99"}
    answer = await http.post("/oauth/tokens", json=world.refresh_body(), headers=headers)
    assert_error(
        answer,
        429,
        "too_many_requests",
        "Too many failed client authentications. Try again later.",
    )
    assert answer.headers["cache-control"] == "no-store"


@pytest.mark.parametrize("setting_overrides", [{"client_max_failures": 2}])
async def test_code_exchange_guesses_count_like_refresh_guesses(
    http: httpx.AsyncClient, world: World, services: Services
) -> None:
    body = exchange_body(world, "some-code", client_secret="not-the-secret")
    statuses = [(await http.post("/oauth/tokens", json=body)).status_code for _ in range(3)]
    assert statuses == [401, 401, 429]
    async with services.engine.connect() as conn:
        assert (await conn.execute(sa.select(sa.func.count()).select_from(auth_failures))).scalar()


# ------------------------------------------------------------------------------ key roles


@pytest.mark.parametrize("setting_overrides", [ROLES])
async def test_a_gateway_key_verifies_tokens_and_nothing_else(
    http: httpx.AsyncClient, world: World
) -> None:
    token = (await http.post("/oauth/tokens", json=world.refresh_body())).json()["data"]
    verified = await http.get(f"/admin/tokens/{token['value']}/verify", headers=GATEWAY)
    assert verified.status_code == 200, verified.text

    client = f"/admin/clients/{world.client_id}"
    for method, path in [
        ("GET", "/admin/clients"),
        ("GET", client),
        ("PATCH", f"{client}/actions/block"),
        ("GET", "/admin/tokens"),
        ("DELETE", f"/admin/tokens/{token['id']}"),
        ("POST", "/admin/users"),
    ]:
        answer = await http.request(method, path, headers=GATEWAY, json={})
        assert_error(answer, 403, "forbidden", "A gateway key may only verify tokens.")
        assert answer.headers["cache-control"] == "no-store"
    # Nothing was blocked or revoked.
    assert (await http.get(f"/admin/tokens/{token['value']}/verify", headers=AUTH)).status_code == (
        200
    )
    assert (await http.get(client, headers=AUTH)).json()["data"]["is_blocked"] is False


@pytest.mark.parametrize("setting_overrides", [ROLES])
async def test_an_unknown_key_is_still_401_on_every_admin_route(http: httpx.AsyncClient) -> None:
    answer = await http.get("/admin/clients", headers={"Authorization": "Bearer " + "x" * 40})
    assert answer.status_code == 401
    assert answer.json()["error"]["type"] == "access_denied"


@pytest.mark.parametrize("field", ["admin_keys", "gateway_keys"])
def test_keys_shorter_than_32_characters_are_refused_at_start(field: str) -> None:
    short: dict[str, Any] = {field: "a-key-of-31-characters-exactly!"}
    with pytest.raises(SettingsError) as raised:
        Settings(**short)
    assert "at least 32 characters" in str(raised.value)
    assert "a-key-of-31" not in str(raised.value)
    enough: dict[str, Any] = {field: "a-key-of-32-characters-exactly!!"}
    assert Settings(**enough).model_fields_set == {field}


# ------------------------------------------------------------------------ least privilege


async def test_login_token_beyond_the_users_approval_is_refused_naming_the_scopes(
    http: httpx.AsyncClient, world: World, services: Services
) -> None:
    other = await services.admin.create_user("narrow@example.org", "narrow-password-1")
    await services.admin.approve(other.id, world.client_id, "legal_entity:read")
    body = login_body(
        world,
        email="narrow@example.org",
        password="narrow-password-1",
        scope="app:authorize legal_entity:read employee:read",
    )

    answer = await http.post("/auth/login", json=body)

    assert answer.status_code == 422
    error = answer.json()["error"]
    assert error["message"] == "Scope is not approved by the user for this client: employee:read."
    assert error["invalid"][0]["entry"] == "$.token.scope"
    narrowed = login_body(
        world,
        email="narrow@example.org",
        password="narrow-password-1",
        scope="app:authorize legal_entity:read",
    )
    assert (await http.post("/auth/login", json=narrowed)).status_code == 201


@pytest.mark.parametrize("setting_overrides", [ROLES])
async def test_verify_refuses_a_token_carrying_a_scope_the_user_never_approved(
    http: httpx.AsyncClient, world: World, services: Services
) -> None:
    token = (await http.post("/oauth/tokens", json=world.refresh_body())).json()["data"]
    async with services.engine.begin() as conn:
        await conn.execute(
            tokens.update()
            .where(tokens.c.id == uuid.UUID(token["id"]))
            .values(scope="legal_entity:read employee:write")
        )

    answer = await http.get(f"/admin/tokens/{token['value']}/verify", headers=GATEWAY)

    assert_error(answer, 401, "invalid_grant", "Token expired or client approval was revoked.")


async def test_code_exchange_needs_the_redirect_uri_character_for_character(
    http: httpx.AsyncClient, world: World
) -> None:
    code = await authorize(http, world)
    for spelling in ("https://MIS.example.org/cb", "https://mis.example.org:443/cb"):
        answer = await http.post(
            "/oauth/tokens", json=exchange_body(world, code, redirect_uri=spelling)
        )
        assert_error(
            answer,
            401,
            "invalid_grant",
            "The redirection URI provided does not match a pre-registered value.",
        )
    exact = await http.post("/oauth/tokens", json=exchange_body(world, code))
    assert exact.status_code == 201, exact.text


async def test_a_refresh_token_of_a_connection_refreshes_only_with_that_connections_secret(
    http: httpx.AsyncClient, world: World, services: Services, clock: FakeClock
) -> None:
    code = await authorize(http, world)
    issued = (await http.post("/oauth/tokens", json=exchange_body(world, code))).json()["data"]
    refresh_token = issued["details"]["refresh_token"]
    other_secret = "second-connection-secret-0123456789abcdef"
    async with services.engine.begin() as conn:
        await conn.execute(
            connections.insert().values(
                id=uuid.uuid4(),
                client_id=world.client_id,
                secret_hash=HmacSecretHasher(TEST_SECRET_KEY.encode()).digest(other_secret),
                redirect_uri=REDIRECT_URI,
                inserted_at=clock.now(),
                updated_at=clock.now(),
            )
        )

    other = world.refresh_body(client_secret=other_secret, refresh_token=refresh_token)
    assert_error(
        await http.post("/oauth/tokens", json=other),
        401,
        "invalid_grant",
        "Token not found or expired.",
    )
    own = world.refresh_body(refresh_token=refresh_token)
    assert (await http.post("/oauth/tokens", json=own)).status_code == 201


# ---------------------------------------------------------------------- logs and redirects


@pytest.mark.parametrize("setting_overrides", [ROLES])
@pytest.mark.parametrize(
    "path",
    [
        "/admin/tokens/{}/verify",
        "/admin/tokens/{}/verify/",
        "/admin//tokens//{}//verify",
        "/admin/tokens/{}",
        "/admin/tokens/{}/",
        "/ADMIN/tokens/{}/verify",
    ],
)
async def test_access_log_never_shows_what_follows_admin_tokens(
    http: httpx.AsyncClient, world: World, caplog: pytest.LogCaptureFixture, path: str
) -> None:
    token = (await http.post("/oauth/tokens", json=world.refresh_body())).json()["data"]["value"]
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="ehealth_auth.access"):
        answer = await http.get(path.format(token), headers=GATEWAY)

    assert answer.status_code in (200, 403, 404, 405)  # never a redirect
    assert "location" not in answer.headers
    logged = [
        record.__dict__["path"] for record in caplog.records if record.name.endswith("access")
    ]
    assert logged
    assert all(token not in line and "[REDACTED]" in line for line in logged)


# -------------------------------------------------------------------------------- browser


def authorize_url(world: World, state: str = "xyz") -> str:
    query = httpx.QueryParams(
        client_id=str(world.client_id),
        redirect_uri=REDIRECT_URI,
        scope="legal_entity:read",
        state=state,
    )
    return f"/oauth/authorize?{query}"


async def signed_in(http: httpx.AsyncClient, world: World) -> httpx.Response:
    page = await http.get(authorize_url(world))
    fields = next(f for f in page_forms(page.text) if f["action"] == "/oauth/authorize/sign-in")
    data = {**fields["fields"], "email": world.user_email, "password": world.user_password}
    answer = await http.post("/oauth/authorize/sign-in", data=data)
    assert answer.status_code == 303, answer.text
    return answer


async def test_sign_out_revokes_the_login_token(
    http: httpx.AsyncClient, world: World, services: Services
) -> None:
    await signed_in(http, world)
    consent = await http.get(authorize_url(world))
    fields = next(f for f in page_forms(consent.text) if f["action"] == "/oauth/authorize/sign-out")

    answer = await http.post("/oauth/authorize/sign-out", data=fields["fields"])

    assert answer.status_code == 303
    async with services.engine.connect() as conn:
        rows = (await conn.execute(sa.select(tokens.c.revoked_at, tokens.c.details))).all()
    login_tokens = [row for row in rows if "password" in str(row.details)]
    assert len(login_tokens) == 1
    assert login_tokens[0].revoked_at is not None


async def test_the_session_cookie_holds_nothing_usable_as_a_bearer_token(
    http: httpx.AsyncClient, world: World, services: Services
) -> None:
    answer = await signed_in(http, world)
    cookie = answer.cookies["ehealth_auth_session"]
    # The login token is not in the cookie: not in clear, not base64-encoded.
    async with services.engine.connect() as conn:
        hashes = (await conn.execute(sa.select(tokens.c.value_hash))).scalars().all()
    hasher = HmacSecretHasher(TEST_SECRET_KEY.encode())
    for part in [cookie, *cookie.replace("-", ".").replace("_", ".").split(".")]:
        assert hasher.digest(part) not in hashes
    bearer = {"Authorization": f"Bearer {cookie}"}
    refused = await http.post("/oauth/apps/authorize", json={"app": {}}, headers=bearer)
    assert refused.status_code == 401


@pytest.mark.parametrize("setting_overrides", [{"cookie_secure": True}])
async def test_cookie_secure_setting_marks_the_cookie_secure_over_plain_http(
    http: httpx.AsyncClient, world: World
) -> None:
    page = await http.get(authorize_url(world))
    assert "secure" in page.headers["set-cookie"].lower()


@pytest.mark.parametrize("state", ["a\x00b", "\x00"])
async def test_a_nul_in_state_is_refused_and_never_echoed(
    http: httpx.AsyncClient, world: World, state: str
) -> None:
    answer = await http.get(authorize_url(world, state=state))

    assert answer.status_code == 400
    assert "location" not in answer.headers
    assert "\x00" not in answer.text
    assert "%00" not in answer.text
    assert "a\\u0000b" not in answer.text


async def test_login_and_exchange_share_no_lockout_with_the_honest_party(
    http: httpx.AsyncClient, world: World
) -> None:
    """A smoke test of the default limits: a few failures change nothing for the right user."""
    for _ in range(3):
        await http.post("/auth/login", json=login_body(world, password="wrong-password"))
    assert await login(http, world)
