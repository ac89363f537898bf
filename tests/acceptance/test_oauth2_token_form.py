"""`POST /oauth/tokens` with a form body (RFC 6749; CONTRACT §8), on both backends: the answer,
client authentication, the RFC 6749 §5.2 errors, and the same checks, order and policies as
the eHealth JSON mode. Every answer is checked against /openapi.json."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from ehealth_auth.protocol.grants.refresh_token import REVOKED_FOR_REUSE
from ehealth_auth.protocol.model import TokenName
from ehealth_auth.settings import Settings
from ehealth_auth.storage.tables import approvals, clients, tokens, users
from ehealth_auth.wiring import Services
from tests.admin_support import checked_client
from tests.fakes import FakeClock
from tests.flow_support import authorize
from tests.oauth2_support import (
    TOKEN_PATH,
    basic,
    code_form,
    json_of,
    oauth_error,
    post_credentials,
    refresh_form,
    world_basic,
)
from tests.support import SCOPE, World, seed_world, snapshot

BASIC_CHALLENGE = 'Basic realm="ehealth-auth"'


@pytest.fixture
async def oauth(settings: Settings, services: Services) -> AsyncIterator[httpx.AsyncClient]:
    async with checked_client(settings, services) as (client, _answers):
        yield client


async def test_refresh_with_http_basic_answers_an_rfc6749_token(
    oauth: httpx.AsyncClient, world: World
) -> None:
    response = await oauth.post(TOKEN_PATH, data=refresh_form(world), headers=world_basic(world))

    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["pragma"] == "no-cache"
    assert response.headers["content-type"] == "application/json"
    body = json_of(response)
    assert set(body) == {"access_token", "token_type", "expires_in", "scope"}
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 28_800
    assert body["scope"] == SCOPE
    assert len(body["access_token"]) >= 43


async def test_refresh_with_client_secret_post_answers_the_same(
    oauth: httpx.AsyncClient, world: World
) -> None:
    form = {**refresh_form(world), **post_credentials(world)}

    response = await oauth.post(TOKEN_PATH, data=form)

    assert response.status_code == 200, response.text
    assert json_of(response)["scope"] == SCOPE


async def test_basic_credentials_are_form_urlencoded_before_base64(
    oauth: httpx.AsyncClient, world: World
) -> None:
    # Every character of the id percent-encoded: the server must decode it (RFC 6749 §2.3.1).
    encoded_id = "".join(f"%{byte:02X}" for byte in str(world.client_id).encode())
    raw = f"{encoded_id}:{world.client_secret}".encode()
    headers = {"Authorization": "Basic " + base64.b64encode(raw).decode()}

    response = await oauth.post(TOKEN_PATH, data=refresh_form(world), headers=headers)

    assert response.status_code == 200, response.text


async def test_form_token_is_a_token_of_the_json_mode_too(
    oauth: httpx.AsyncClient, world: World
) -> None:
    """One core: a refresh token refreshed in one dialect works in the other."""
    form = await oauth.post(TOKEN_PATH, data=refresh_form(world), headers=world_basic(world))
    as_json = await oauth.post(TOKEN_PATH, json=world.refresh_body())

    assert form.status_code == 200
    assert as_json.status_code == 201
    assert as_json.json()["data"]["details"]["scope"] == json_of(form)["scope"]


async def test_both_authentication_methods_at_once_are_refused_and_change_nothing(
    oauth: httpx.AsyncClient, world: World, services: Services
) -> None:
    before = await snapshot(services.engine)
    form = {**refresh_form(world), **post_credentials(world)}

    response = await oauth.post(TOKEN_PATH, data=form, headers=world_basic(world))

    oauth_error(
        response,
        400,
        "invalid_request",
        "Use one client authentication method: HTTP Basic or client_secret, not both.",
    )
    assert await snapshot(services.engine) == before


async def test_body_client_id_must_match_the_basic_one(
    oauth: httpx.AsyncClient, world: World
) -> None:
    form = {**refresh_form(world), "client_id": "00000000-0000-4000-8000-000000000000"}

    response = await oauth.post(TOKEN_PATH, data=form, headers=world_basic(world))

    oauth_error(
        response, 400, "invalid_request", "client_id differs from the HTTP Basic client id."
    )


async def test_the_same_client_id_beside_basic_is_accepted(
    oauth: httpx.AsyncClient, world: World
) -> None:
    form = {**refresh_form(world), "client_id": str(world.client_id)}

    response = await oauth.post(TOKEN_PATH, data=form, headers=world_basic(world))

    assert response.status_code == 200, response.text


async def test_a_repeated_parameter_is_invalid_request(
    oauth: httpx.AsyncClient, world: World, services: Services
) -> None:
    before = await snapshot(services.engine)
    body = (
        f"grant_type=refresh_token&refresh_token={world.refresh_token}"
        f"&refresh_token={world.refresh_token}"
    )

    response = await oauth.post(
        TOKEN_PATH,
        content=body,
        headers={**world_basic(world), "Content-Type": "application/x-www-form-urlencoded"},
    )

    oauth_error(
        response, 400, "invalid_request", "Parameter refresh_token is included more than once."
    )
    assert await snapshot(services.engine) == before


@pytest.mark.parametrize(
    ("form", "description"),
    [
        ({"refresh_token": "x"}, "Request must include grant_type."),
        ({"grant_type": "refresh_token"}, "Missing or invalid parameter: refresh_token."),
        (
            {"grant_type": "refresh_token", "refresh_token": ""},
            "Missing or invalid parameter: refresh_token.",
        ),
        ({"grant_type": "authorization_code"}, "Missing or invalid parameter: code, redirect_uri."),
    ],
)
async def test_missing_parameters_are_invalid_request(
    oauth: httpx.AsyncClient, world: World, form: dict[str, str], description: str
) -> None:
    response = await oauth.post(TOKEN_PATH, data=form, headers=world_basic(world))

    oauth_error(response, 400, "invalid_request", description)


@pytest.mark.parametrize("grant_type", ["password", "client_credentials", "implicit"])
async def test_other_grant_types_are_unsupported(
    oauth: httpx.AsyncClient, world: World, grant_type: str
) -> None:
    form = {"grant_type": grant_type, "username": world.user_email, "password": "x"}

    response = await oauth.post(TOKEN_PATH, data=form, headers=world_basic(world))

    oauth_error(response, 400, "unsupported_grant_type", "Grant type not allowed.")


async def test_wrong_secret_over_basic_is_401_with_a_basic_challenge(
    oauth: httpx.AsyncClient, world: World
) -> None:
    headers = basic(str(world.client_id), "wrong-secret")

    response = await oauth.post(TOKEN_PATH, data=refresh_form(world), headers=headers)

    oauth_error(response, 401, "invalid_client", "Invalid client id or secret.")
    assert response.headers["www-authenticate"] == BASIC_CHALLENGE


async def test_wrong_secret_in_the_form_is_401_without_a_challenge(
    oauth: httpx.AsyncClient, world: World
) -> None:
    form = {**refresh_form(world), "client_id": str(world.client_id), "client_secret": "wrong"}

    response = await oauth.post(TOKEN_PATH, data=form)

    oauth_error(response, 401, "invalid_client", "Invalid client id or secret.")
    assert "www-authenticate" not in response.headers


@pytest.mark.parametrize(
    ("headers", "description"),
    [
        ({}, "Client authentication is required: HTTP Basic or client_id and client_secret."),
        ({"Authorization": "Basic !!!"}, "Malformed HTTP Basic client credentials."),
        (
            {"Authorization": "Basic " + base64.b64encode(b"no-colon").decode()},
            "Malformed HTTP Basic client credentials.",
        ),
        (
            {"Authorization": "Bearer some-token"},
            "Client authentication must use the HTTP Basic scheme.",
        ),
        (
            {"Authorization": "Basic " + base64.b64encode(b":").decode()},
            "Client authentication is required: HTTP Basic or client_id and client_secret.",
        ),
    ],
)
async def test_missing_or_malformed_credentials_are_401_with_a_basic_challenge(
    oauth: httpx.AsyncClient, world: World, headers: dict[str, str], description: str
) -> None:
    response = await oauth.post(TOKEN_PATH, data=refresh_form(world), headers=headers)

    oauth_error(response, 401, "invalid_client", description)
    assert response.headers["www-authenticate"] == BASIC_CHALLENGE


async def test_client_id_without_a_secret_is_invalid_client(
    oauth: httpx.AsyncClient, world: World
) -> None:
    form = {**refresh_form(world), "client_id": str(world.client_id)}

    response = await oauth.post(TOKEN_PATH, data=form)

    oauth_error(response, 401, "invalid_client", "Invalid client id or secret.")


async def _block_client(services: Services, world: World) -> None:
    async with services.engine.begin() as conn:
        await conn.execute(
            clients.update().where(clients.c.id == world.client_id).values(is_blocked=True)
        )


async def _block_user(services: Services, world: World) -> None:
    async with services.engine.begin() as conn:
        await conn.execute(
            users.update().where(users.c.id == world.user_id).values(is_blocked=True)
        )


async def _drop_approval(services: Services, world: World) -> None:
    async with services.engine.begin() as conn:
        await conn.execute(approvals.delete().where(approvals.c.user_id == world.user_id))


async def _expire(services: Services, world: World) -> None:
    async with services.engine.begin() as conn:
        await conn.execute(
            tokens.update().where(tokens.c.id == world.refresh_token_id).values(expires_at=1)
        )


async def _nothing(services: Services, world: World) -> None:
    del services, world


@pytest.mark.parametrize(
    ("change", "token", "status", "error"),
    [
        (_block_client, "own", 401, "invalid_client"),
        (_nothing, "unknown", 400, "invalid_grant"),
        (_nothing, "other client's", 400, "invalid_grant"),
        (_expire, "own", 400, "invalid_grant"),
        (_block_user, "own", 400, "invalid_grant"),
        (_drop_approval, "own", 400, "invalid_grant"),
    ],
    ids=["client blocked", "unknown", "other client's", "expired", "user blocked", "approval"],
)
async def test_each_refusal_of_the_json_mode_has_its_rfc6749_code_and_the_same_message(
    oauth: httpx.AsyncClient,
    services: Services,
    world: World,
    change: Any,
    token: str,
    status: int,
    error: str,
) -> None:
    value = {
        "own": world.refresh_token,
        "unknown": "no-such-token",
        "other client's": (await seed_world(services.admin, tag="b")).refresh_token,
    }[token]
    await change(services, world)
    before = await snapshot(services.engine)

    as_json = await oauth.post(TOKEN_PATH, json=world.refresh_body(refresh_token=value))
    as_form = await oauth.post(
        TOKEN_PATH, data=refresh_form(world, refresh_token=value), headers=world_basic(world)
    )

    assert as_json.status_code == 401
    oauth_error(as_form, status, error, as_json.json()["error"]["message"])
    assert await snapshot(services.engine) == before


async def test_a_narrower_scope_narrows_the_access_token(
    oauth: httpx.AsyncClient, world: World
) -> None:
    form = refresh_form(world, scope="employee:read legal_entity:read employee:read")

    response = await oauth.post(TOKEN_PATH, data=form, headers=world_basic(world))

    assert response.status_code == 200, response.text
    assert json_of(response)["scope"] == "employee:read legal_entity:read"


async def test_a_scope_beyond_the_approval_is_invalid_scope_and_issues_nothing(
    oauth: httpx.AsyncClient, world: World, services: Services
) -> None:
    before = await snapshot(services.engine)
    form = refresh_form(world, scope="employee:read employee:write")

    response = await oauth.post(TOKEN_PATH, data=form, headers=world_basic(world))

    oauth_error(
        response,
        400,
        "invalid_scope",
        "The requested scope exceeds the scope the user approved for the client.",
    )
    assert await snapshot(services.engine) == before


async def test_the_json_mode_ignores_a_scope_key_as_before(
    oauth: httpx.AsyncClient, world: World
) -> None:
    response = await oauth.post(TOKEN_PATH, json=world.refresh_body(scope="employee:write"))

    assert response.status_code == 201
    assert response.json()["data"]["details"]["scope"] == SCOPE


async def test_code_exchange_in_form_mode_then_reuse_revokes_the_family(
    oauth: httpx.AsyncClient, world: World
) -> None:
    code = await authorize(oauth, world)
    form = code_form(code)

    first = await oauth.post(TOKEN_PATH, data=form, headers=world_basic(world))
    again = await oauth.post(TOKEN_PATH, data=form, headers=world_basic(world))

    assert first.status_code == 200, first.text
    issued = json_of(first)
    assert set(issued) == {"access_token", "token_type", "expires_in", "scope", "refresh_token"}
    assert issued["scope"] == "legal_entity:read"
    oauth_error(again, 400, "invalid_grant", "Token has already been used.")
    refreshed = await oauth.post(
        TOKEN_PATH,
        data=refresh_form(world, refresh_token=issued["refresh_token"]),
        headers=world_basic(world),
    )
    oauth_error(refreshed, 400, "invalid_grant", REVOKED_FOR_REUSE)


async def test_body_over_the_limit_is_413_invalid_request(
    oauth: httpx.AsyncClient, world: World
) -> None:
    form = refresh_form(world, padding="x" * 70_000)

    response = await oauth.post(TOKEN_PATH, data=form, headers=world_basic(world))

    oauth_error(response, 413, "invalid_request", "Request body is too large.")


async def test_a_body_that_is_not_utf8_is_invalid_request(
    oauth: httpx.AsyncClient, world: World
) -> None:
    response = await oauth.post(
        TOKEN_PATH,
        content=b"grant_type=refresh_token&refresh_token=%FF%FE",
        headers={**world_basic(world), "Content-Type": "application/x-www-form-urlencoded"},
    )

    oauth_error(response, 400, "invalid_request", "Request body is not valid UTF-8 form data.")


@pytest.mark.parametrize(
    "setting_overrides", [{"refresh_rotation": "on", "refresh_reuse_grace": 0}]
)
async def test_rotation_and_reuse_detection_are_the_json_modes(
    oauth: httpx.AsyncClient, world: World, clock: FakeClock
) -> None:
    first = await oauth.post(TOKEN_PATH, data=refresh_form(world), headers=world_basic(world))
    assert first.status_code == 200, first.text
    successor = json_of(first)["refresh_token"]
    clock.advance(5)

    reused = await oauth.post(TOKEN_PATH, data=refresh_form(world), headers=world_basic(world))
    after = await oauth.post(
        TOKEN_PATH,
        data=refresh_form(world, refresh_token=successor),
        headers=world_basic(world),
    )

    oauth_error(reused, 400, "invalid_grant", "Token has already been used.")
    # Reuse revoked the family: the successor is dead too, in both dialects.
    oauth_error(after, 400, "invalid_grant", REVOKED_FOR_REUSE)
    as_json = await oauth.post(TOKEN_PATH, json=world.refresh_body(refresh_token=successor))
    error = as_json.json()["error"]
    assert (error["type"], error["message"]) == ("invalid_grant", REVOKED_FOR_REUSE)


async def test_form_refresh_stores_what_the_json_refresh_stores(
    oauth: httpx.AsyncClient, services: Services, world: World
) -> None:
    form = await oauth.post(TOKEN_PATH, data=refresh_form(world), headers=world_basic(world))
    as_json = await oauth.post(TOKEN_PATH, json=world.refresh_body())
    assert (form.status_code, as_json.status_code) == (200, 201)

    async with services.engine.connect() as conn:
        rows = (
            await conn.execute(
                sa.select(
                    tokens.c.details, tokens.c.family_id, tokens.c.parent_id, tokens.c.scope
                ).where(tokens.c.name == TokenName.ACCESS_TOKEN.value)
            )
        ).all()
    assert len(rows) == 2
    assert rows[0] == rows[1]
    assert rows[0].details == {
        "client_id": str(world.client_id),
        "grant_type": "refresh_token",
        "scope": SCOPE,
    }


async def test_a_form_with_too_many_parameters_is_invalid_request(
    oauth: httpx.AsyncClient, world: World
) -> None:
    form = {**refresh_form(world), **{f"extra{index}": "x" for index in range(70)}}

    response = await oauth.post(TOKEN_PATH, data=form, headers=world_basic(world))

    oauth_error(response, 400, "invalid_request", "Request body has too many parameters.")
