"""CONTRACT §3 `POST /oauth/apps/authorize` over HTTP, on both backends: approval and code."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from ehealth_auth.protocol.model import TokenName
from ehealth_auth.protocol.pkce import s256
from ehealth_auth.storage.tables import approvals, tokens, users
from ehealth_auth.wiring import Services
from tests.fakes import FakeClock
from tests.flow_support import (
    REDIRECT_URI,
    app_body,
    assert_error,
    bearer,
    login,
    query_of,
)
from tests.support import SCOPE, World, seed_world, snapshot

MISMATCH = "The redirection URI provided does not match a pre-registered value."
VERIFIER = "dBjftJeZ4CVP-mJ92K1DXxa9UQAkGyqXh5s8ZCkfcp0aa"


async def post_app(http: httpx.AsyncClient, body: Any, token: str | None) -> httpx.Response:
    headers = bearer(token) if token is not None else {}
    return await http.post("/oauth/apps/authorize", json=body, headers=headers)


async def approval_scope(services: Services, world: World) -> str | None:
    async with services.engine.connect() as conn:
        scope: str | None = (
            await conn.execute(
                sa.select(approvals.c.scope).where(approvals.c.user_id == world.user_id)
            )
        ).scalar_one_or_none()
    return scope


async def test_authorize_issues_a_code_and_redirects_with_it(
    http: httpx.AsyncClient, world: World, clock: FakeClock
) -> None:
    token = await login(http, world)
    response = await post_app(http, app_body(world), token)

    assert response.status_code == 201, response.text
    assert response.headers["cache-control"] == "no-store"
    data = response.json()["data"]
    assert set(data) == {"id", "name", "value", "expires_at", "user_id", "details"}
    assert data["name"] == "authorization_code"
    assert data["user_id"] == str(world.user_id)
    assert data["expires_at"] == clock.now() + 300
    assert data["details"] == {
        "client_id": str(world.client_id),
        "redirect_uri": REDIRECT_URI,
        "scope_request": "legal_entity:read",
    }
    assert response.headers["location"] == f"{REDIRECT_URI}?code={data['value']}"


async def test_location_keeps_the_redirect_uris_query(
    http: httpx.AsyncClient, world: World
) -> None:
    token = await login(http, world)
    uri = f"{REDIRECT_URI}?tenant=7&code=stale"
    response = await post_app(http, app_body(world, redirect_uri=uri), token)
    assert response.status_code == 201, response.text
    location = response.headers["location"]
    assert location.startswith(f"{REDIRECT_URI}?tenant=7&code=")
    assert query_of(location)["code"] == [response.json()["data"]["value"]]
    assert response.json()["data"]["details"]["redirect_uri"] == uri


async def test_authorize_creates_the_approval_or_widens_it(
    http: httpx.AsyncClient, world: World, services: Services
) -> None:
    async with services.engine.begin() as conn:
        await conn.execute(approvals.delete())
    token = await login(http, world)
    assert (await post_app(http, app_body(world, scope="employee:read"), token)).status_code == 201
    assert await approval_scope(services, world) == "employee:read"
    widened = app_body(world, scope="legal_entity:read employee:read")
    assert (await post_app(http, widened, token)).status_code == 201
    assert await approval_scope(services, world) == "legal_entity:read employee:read"


async def test_authorize_needs_a_bearer_token(http: httpx.AsyncClient, world: World) -> None:
    message = "Authorization header with a Bearer token is required."
    for headers in ({}, {"Authorization": "Basic abc"}, {"Authorization": "Bearer "}):
        response = await http.post("/oauth/apps/authorize", json=app_body(world), headers=headers)
        assert_error(response, 401, "access_denied", message)
        assert response.headers["www-authenticate"].startswith("Bearer")


async def test_authorize_unknown_or_non_access_bearer(
    http: httpx.AsyncClient, world: World
) -> None:
    for token in ("no-such-token", world.refresh_token):
        response = await post_app(http, app_body(world), token)
        assert_error(response, 401, "token_not_found", "Token not found.")


async def test_authorize_expired_or_revoked_bearer(
    http: httpx.AsyncClient, world: World, clock: FakeClock, services: Services
) -> None:
    token = await login(http, world)
    clock.advance(3_600)
    assert_error(
        await post_app(http, app_body(world), token), 401, "token_expired", "Token expired."
    )
    clock.advance(-3_600)
    await services.admin.deactivate_client_tokens(world.client_id)
    assert_error(
        await post_app(http, app_body(world), token), 401, "token_expired", "Token expired."
    )


async def test_authorize_bearer_without_app_authorize_is_forbidden(
    http: httpx.AsyncClient, world: World
) -> None:
    token = await login(http, world, scope="legal_entity:read")
    response = await post_app(http, app_body(world), token)
    assert_error(
        response,
        403,
        "forbidden",
        "Your scope does not allow to access this resource. Missing allowances: app:authorize",
    )


async def test_authorize_bearer_of_a_blocked_client(
    http: httpx.AsyncClient, world: World, services: Services
) -> None:
    token = await login(http, world)
    await services.admin.set_client_blocked(world.client_id, True)
    response = await post_app(http, app_body(world), token)
    assert_error(response, 401, "invalid_client", "Client is blocked.")


async def test_authorize_blocked_user(
    http: httpx.AsyncClient, world: World, services: Services
) -> None:
    token = await login(http, world)
    async with services.engine.begin() as conn:
        await conn.execute(users.update().values(is_blocked=True))
    assert_error(await post_app(http, app_body(world), token), 401, "user_blocked", "User blocked.")


async def test_authorize_unknown_client(http: httpx.AsyncClient, world: World) -> None:
    token = await login(http, world)
    for client_id in ("not-a-uuid", "00000000-0000-0000-0000-000000000000"):
        response = await post_app(http, app_body(world, client_id=client_id), token)
        assert_error(response, 422, "validation_failed", "Client not found.")


async def test_authorize_blocked_client(
    http: httpx.AsyncClient, world: World, services: Services
) -> None:
    other = await seed_world(services.admin, tag="b", client_type=world.client_type)
    token = await login(http, world)
    await services.admin.set_client_blocked(other.client_id, True)
    response = await post_app(http, app_body(world, client_id=str(other.client_id)), token)
    assert_error(response, 401, "invalid_client", "Client is blocked.")


@pytest.mark.parametrize(
    "uri",
    [
        "http://mis.example.org/cb",  # scheme
        "https://evil.example.org/cb",  # host
        "https://mis.example.org:8443/cb",  # port
        "https://mis.example.org/cb/other",  # path
        "https://mis.example.org/c",  # a prefix of the path
        "https://mis.example.org/cb#frag",  # fragments are never allowed
        "https://mis.example.org:99999/cb",  # not a port
        "not a uri",
    ],
)
async def test_authorize_redirect_uri_must_match_exactly(
    http: httpx.AsyncClient, world: World, uri: str
) -> None:
    token = await login(http, world)
    response = await post_app(http, app_body(world, redirect_uri=uri), token)
    assert_error(response, 422, "validation_failed", MISMATCH)


async def test_authorize_accepts_equivalent_redirect_uri_forms(
    http: httpx.AsyncClient, world: World
) -> None:
    token = await login(http, world)
    for uri in ("HTTPS://MIS.example.org/cb", "https://mis.example.org:443/cb"):
        assert (await post_app(http, app_body(world, redirect_uri=uri), token)).status_code == 201


async def test_authorize_scope_beyond_client_type(http: httpx.AsyncClient, world: World) -> None:
    token = await login(http, world)
    response = await post_app(http, app_body(world, scope="employee:read secret:write"), token)
    assert_error(response, 422, "validation_failed", "Scope is not allowed by client type.")


async def test_authorize_missing_fields_are_listed(http: httpx.AsyncClient, world: World) -> None:
    token = await login(http, world)
    response = await post_app(http, {"app": {"client_id": str(world.client_id)}}, token)
    assert response.status_code == 422
    assert [entry["entry"] for entry in response.json()["error"]["invalid"]] == [
        "$.app.redirect_uri",
        "$.app.scope",
    ]
    response = await post_app(http, {"token": {}}, token)
    assert response.status_code == 400


@pytest.mark.parametrize(
    ("pkce", "entry", "rule"),
    [
        (
            {"code_challenge": s256(VERIFIER), "code_challenge_method": "plain"},
            "method",
            "inclusion",
        ),
        ({"code_challenge": s256(VERIFIER)}, "method", "inclusion"),  # missing means plain
        ({"code_challenge_method": "S256"}, "code_challenge", "required"),
        ({"code_challenge": "short", "code_challenge_method": "S256"}, "code_challenge", "format"),
        ({"code_challenge": 5, "code_challenge_method": "S256"}, "code_challenge", "cast"),
    ],
)
async def test_authorize_refuses_bad_pkce_parameters(
    http: httpx.AsyncClient, world: World, pkce: dict[str, str], entry: str, rule: str
) -> None:
    token = await login(http, world)
    response = await post_app(http, app_body(world, **pkce), token)
    assert response.status_code == 422, response.text
    [invalid] = response.json()["error"]["invalid"]
    path = "$.app.code_challenge_method" if entry == "method" else f"$.app.{entry}"
    assert (invalid["entry"], invalid["rules"][0]["rule"]) == (path, rule)


async def test_code_is_stored_as_a_hash_with_its_redirect_uri_and_challenge(
    http: httpx.AsyncClient, world: World, services: Services
) -> None:
    token = await login(http, world)
    body = app_body(world, code_challenge=s256(VERIFIER), code_challenge_method="S256")
    code = (await post_app(http, body, token)).json()["data"]
    async with services.engine.connect() as conn:
        row = (
            await conn.execute(sa.select(tokens).where(tokens.c.id == uuid.UUID(code["id"])))
        ).one()
    assert row.name == TokenName.AUTHORIZATION_CODE
    assert row.redirect_uri == REDIRECT_URI
    assert row.code_challenge == s256(VERIFIER)
    assert row.family_id == row.id  # a code starts a new family
    assert code["value"].encode() not in bytes(row.value_hash)


async def test_rejected_authorizations_change_nothing(
    http: httpx.AsyncClient, world: World, services: Services
) -> None:
    token = await login(http, world)
    before = await snapshot(services.engine)
    body: dict[str, Any]
    for body in (
        app_body(world, scope=SCOPE + " more:scope"),
        app_body(world, redirect_uri="https://evil.example.org/cb"),
        app_body(world, client_id="x"),
        {"app": {}},
    ):
        assert (await post_app(http, body, token)).status_code == 422
    assert await snapshot(services.engine) == before
