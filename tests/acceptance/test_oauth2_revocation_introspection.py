"""RFC 7009 revocation, RFC 7662 introspection and RFC 8414 metadata, on both backends.

Introspection must agree with the gateway's verify call on every case. Every answer is checked
against /openapi.json."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from ehealth_auth.settings import Settings
from ehealth_auth.storage.tables import approvals, clients, tokens, users
from ehealth_auth.wiring import Services
from tests.admin_support import ADMIN_KEY, admin_overrides, checked_client
from tests.fakes import FakeClock
from tests.flow_support import authorize, login
from tests.oauth2_support import (
    INTROSPECT_PATH,
    METADATA_PATH,
    REVOKE_PATH,
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

GATEWAY = {"Authorization": f"Bearer {ADMIN_KEY}"}


@pytest.fixture
def setting_overrides() -> dict[str, Any]:
    return admin_overrides()


@pytest.fixture
async def oauth(settings: Settings, services: Services) -> AsyncIterator[httpx.AsyncClient]:
    async with checked_client(settings, services) as (client, _answers):
        yield client


async def access_token(oauth: httpx.AsyncClient, world: World) -> str:
    response = await oauth.post(TOKEN_PATH, data=refresh_form(world), headers=world_basic(world))
    assert response.status_code == 200, response.text
    value: str = json_of(response)["access_token"]
    return value


async def introspect(
    oauth: httpx.AsyncClient, token: str, headers: dict[str, str], **form: str
) -> dict[str, Any]:
    response = await oauth.post(INTROSPECT_PATH, data={"token": token, **form}, headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    return json_of(response)


async def verify_status(oauth: httpx.AsyncClient, token: str) -> int:
    return (await oauth.get(f"/admin/tokens/{token}/verify", headers=GATEWAY)).status_code


# ----------------------------------------------------------------------------- revocation


async def revoke(oauth: httpx.AsyncClient, world: World, token: str, **form: str) -> httpx.Response:
    return await oauth.post(REVOKE_PATH, data={"token": token, **form}, headers=world_basic(world))


async def test_revoking_an_access_token_kills_it_alone(
    oauth: httpx.AsyncClient, world: World
) -> None:
    token = await access_token(oauth, world)

    response = await revoke(oauth, world, token, token_type_hint="access_token")

    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["cache-control"] == "no-store"
    assert await verify_status(oauth, token) == 401
    # The refresh token it came from still works.
    assert await access_token(oauth, world)


async def test_revoking_a_refresh_token_kills_its_family(
    oauth: httpx.AsyncClient, world: World
) -> None:
    token = await access_token(oauth, world)

    response = await revoke(oauth, world, world.refresh_token, token_type_hint="refresh_token")

    assert response.status_code == 200
    assert await verify_status(oauth, token) == 401
    refreshed = await oauth.post(TOKEN_PATH, data=refresh_form(world), headers=world_basic(world))
    oauth_error(refreshed, 400, "invalid_grant", "Token expired.")


async def test_a_wrong_hint_still_finds_the_token(oauth: httpx.AsyncClient, world: World) -> None:
    token = await access_token(oauth, world)

    response = await revoke(oauth, world, token, token_type_hint="refresh_token")

    assert response.status_code == 200
    assert await verify_status(oauth, token) == 401


async def test_client_secret_post_revokes_too(oauth: httpx.AsyncClient, world: World) -> None:
    token = await access_token(oauth, world)

    response = await oauth.post(REVOKE_PATH, data={"token": token, **post_credentials(world)})

    assert response.status_code == 200
    assert await verify_status(oauth, token) == 401


async def _unknown(oauth: httpx.AsyncClient, world: World, services: Services) -> str:
    del oauth, world, services
    return "no-such-token"


async def _other_clients(oauth: httpx.AsyncClient, world: World, services: Services) -> str:
    other = await seed_world(services.admin, tag="b")
    return await access_token(oauth, other)


async def _code(oauth: httpx.AsyncClient, world: World, services: Services) -> str:
    del services
    return await authorize(oauth, world)


async def _revoked(oauth: httpx.AsyncClient, world: World, services: Services) -> str:
    token = await access_token(oauth, world)
    assert (await revoke(oauth, world, token)).status_code == 200
    del services
    return token


@pytest.mark.parametrize(
    "make",
    [_unknown, _other_clients, _code, _revoked],
    ids=["unknown", "another client's", "authorization code", "already revoked"],
)
async def test_anything_else_is_answered_200_and_left_as_it_is(
    oauth: httpx.AsyncClient,
    world: World,
    services: Services,
    make: Callable[[httpx.AsyncClient, World, Services], Awaitable[str]],
) -> None:
    token = await make(oauth, world, services)
    before = await snapshot(services.engine)

    response = await revoke(oauth, world, token)

    assert response.status_code == 200
    assert response.content == b""
    assert await snapshot(services.engine) == before


async def test_revocation_needs_client_authentication(
    oauth: httpx.AsyncClient, world: World, services: Services
) -> None:
    token = await access_token(oauth, world)
    before = await snapshot(services.engine)

    anonymous = await oauth.post(REVOKE_PATH, data={"token": token})
    wrong = await oauth.post(
        REVOKE_PATH, data={"token": token}, headers=basic(str(world.client_id), "wrong")
    )

    oauth_error(
        anonymous,
        401,
        "invalid_client",
        "Client authentication is required: HTTP Basic or client_id and client_secret.",
    )
    assert anonymous.headers["www-authenticate"] == 'Basic realm="ehealth-auth"'
    oauth_error(wrong, 401, "invalid_client", "Invalid client id or secret.")
    assert await snapshot(services.engine) == before


async def test_a_blocked_client_cannot_revoke(
    oauth: httpx.AsyncClient, world: World, services: Services
) -> None:
    token = await access_token(oauth, world)
    async with services.engine.begin() as conn:
        await conn.execute(
            clients.update().where(clients.c.id == world.client_id).values(is_blocked=True)
        )

    response = await revoke(oauth, world, token)

    oauth_error(response, 401, "invalid_client", "Client is blocked.")


@pytest.mark.parametrize("path", [REVOKE_PATH, INTROSPECT_PATH])
async def test_bad_requests_are_rfc6749_errors(
    oauth: httpx.AsyncClient, world: World, path: str
) -> None:
    missing = await oauth.post(path, data={"token_type_hint": "x"}, headers=world_basic(world))
    as_json = await oauth.post(path, json={"token": "x"}, headers=world_basic(world))
    both = await oauth.post(
        path, data={"token": "x", **post_credentials(world)}, headers=world_basic(world)
    )

    oauth_error(missing, 400, "invalid_request", "Missing or invalid parameter: token.")
    oauth_error(
        as_json,
        415,
        "invalid_request",
        "Invalid Content-Type header. Expected: application/x-www-form-urlencoded.",
    )
    oauth_error(
        both,
        400,
        "invalid_request",
        "Use one client authentication method: HTTP Basic or client_secret, not both.",
    )


# -------------------------------------------------------------------------- introspection


async def test_a_live_access_token_is_active_with_its_claims(
    oauth: httpx.AsyncClient, world: World, clock: FakeClock
) -> None:
    token = await access_token(oauth, world)

    for headers in (world_basic(world), GATEWAY):
        answer = await introspect(oauth, token, headers, token_type_hint="access_token")
        assert answer == {
            "active": True,
            "scope": SCOPE,
            "client_id": str(world.client_id),
            "token_type": "Bearer",
            "exp": clock.now() + 28_800,
            "iat": clock.now(),
            "sub": str(world.user_id),
        }


async def test_another_clients_token_is_inactive_to_the_client_but_not_to_the_gateway(
    oauth: httpx.AsyncClient, world: World, services: Services
) -> None:
    other = await seed_world(services.admin, tag="b")
    token = await access_token(oauth, other)

    assert await introspect(oauth, token, world_basic(world)) == {"active": False}
    assert (await introspect(oauth, token, GATEWAY))["active"] is True


async def _refresh_token(oauth: httpx.AsyncClient, world: World, services: Services) -> str:
    del oauth, services
    return world.refresh_token


async def _live(oauth: httpx.AsyncClient, world: World, services: Services) -> str:
    del services
    return await access_token(oauth, world)


async def _login_token(oauth: httpx.AsyncClient, world: World, services: Services) -> str:
    del services
    return await login(oauth, world)


def _changed(
    change: Callable[[Services, World], Awaitable[None]],
) -> Callable[[httpx.AsyncClient, World, Services], Awaitable[str]]:
    async def make(oauth: httpx.AsyncClient, world: World, services: Services) -> str:
        token = await access_token(oauth, world)
        await change(services, world)
        return token

    return make


async def _run(services: Services, statement: Any) -> None:
    async with services.engine.begin() as conn:
        await conn.execute(statement)


async def _block_user(services: Services, world: World) -> None:
    await _run(services, users.update().where(users.c.id == world.user_id).values(is_blocked=True))


async def _block_client(services: Services, world: World) -> None:
    await _run(
        services, clients.update().where(clients.c.id == world.client_id).values(is_blocked=True)
    )


async def _drop_approval(services: Services, world: World) -> None:
    await _run(services, approvals.delete().where(approvals.c.user_id == world.user_id))


async def _expire(services: Services, world: World) -> None:
    await _run(
        services, tokens.update().where(tokens.c.name == "access_token").values(expires_at=1)
    )


async def _revoke_all(services: Services, world: World) -> None:
    await _run(services, tokens.update().values(revoked_at=1))


CASES = {
    "live": (_live, True),
    "login token": (_login_token, True),
    "refresh token": (_refresh_token, False),
    "authorization code": (_code, False),
    "unknown": (_unknown, False),
    "expired": (_changed(_expire), False),
    "revoked": (_changed(_revoke_all), False),
    "user blocked": (_changed(_block_user), False),
    "client blocked": (_changed(_block_client), False),
    "approval gone": (_changed(_drop_approval), False),
}


@pytest.mark.parametrize("case", list(CASES))
async def test_introspection_agrees_with_verify(
    oauth: httpx.AsyncClient, world: World, services: Services, case: str
) -> None:
    make, active = CASES[case]
    token = await make(oauth, world, services)

    verified = await verify_status(oauth, token)
    by_gateway = await introspect(oauth, token, GATEWAY)
    by_client = await oauth.post(INTROSPECT_PATH, data={"token": token}, headers=world_basic(world))

    assert (verified == 200) is active
    assert by_gateway["active"] is active
    if not active:
        assert by_gateway == {"active": False}
    if case == "client blocked":  # a blocked client cannot authenticate at all
        oauth_error(by_client, 401, "invalid_client", "Client is blocked.")
    else:
        assert json_of(by_client) == by_gateway


async def test_a_wrong_gateway_key_is_invalid_token(oauth: httpx.AsyncClient, world: World) -> None:
    token = await access_token(oauth, world)

    response = await oauth.post(
        INTROSPECT_PATH, data={"token": token}, headers={"Authorization": "Bearer not-a-key"}
    )

    oauth_error(response, 401, "invalid_token", "Missing or invalid gateway key.")
    assert response.headers["www-authenticate"] == (
        'Bearer realm="ehealth-auth", error="invalid_token"'
    )


async def test_introspection_needs_an_authenticated_caller(
    oauth: httpx.AsyncClient, world: World
) -> None:
    token = await access_token(oauth, world)

    anonymous = await oauth.post(INTROSPECT_PATH, data={"token": token})
    wrong = await oauth.post(
        INTROSPECT_PATH,
        data={"token": token, "client_id": str(world.client_id), "client_secret": "wrong"},
    )

    assert anonymous.status_code == 401
    assert json_of(anonymous)["error"] == "invalid_client"
    oauth_error(wrong, 401, "invalid_client", "Invalid client id or secret.")


# ------------------------------------------------------------------------------- metadata


async def test_metadata_names_the_endpoints_at_the_requests_origin(
    oauth: httpx.AsyncClient,
) -> None:
    response = await oauth.get(METADATA_PATH)

    assert response.status_code == 200
    issuer = "http://testserver"
    assert json_of(response) == {
        "issuer": issuer,
        "authorization_endpoint": issuer + "/oauth/authorize",
        "token_endpoint": issuer + "/oauth/tokens",
        "revocation_endpoint": issuer + "/oauth/revoke",
        "introspection_endpoint": issuer + "/oauth/introspect",
        "service_documentation": issuer + "/docs",
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "revocation_endpoint_auth_methods_supported": [
            "client_secret_basic",
            "client_secret_post",
        ],
        "introspection_endpoint_auth_methods_supported": [
            "client_secret_basic",
            "client_secret_post",
        ],
        "code_challenge_methods_supported": ["S256"],
    }
    spec = json_of(await oauth.get("/openapi.json"))
    for name in ("authorization_endpoint", "token_endpoint", "revocation_endpoint"):
        assert json_of(response)[name].removeprefix(issuer) in spec["paths"]


@pytest.mark.parametrize(
    "setting_overrides", [{**admin_overrides(), "issuer": "https://auth.example.org/"}]
)
async def test_metadata_uses_the_configured_issuer(oauth: httpx.AsyncClient) -> None:
    document = json_of(await oauth.get(METADATA_PATH))

    assert document["issuer"] == "https://auth.example.org"
    assert document["token_endpoint"] == "https://auth.example.org/oauth/tokens"


@pytest.mark.parametrize("issuer", ["ftp://x.org", "https://x.org/?a=1", "not a url", "/path"])
def test_an_issuer_that_is_not_an_http_url_is_refused(issuer: str) -> None:
    with pytest.raises(ValueError, match="issuer"):
        Settings(issuer=issuer)


async def test_introspection_of_a_code_flow_token_shows_the_codes_scope(
    oauth: httpx.AsyncClient, world: World
) -> None:
    code = await authorize(oauth, world)
    form = code_form(code)
    issued = json_of(await oauth.post(TOKEN_PATH, data=form, headers=world_basic(world)))

    answer = await introspect(oauth, issued["access_token"], world_basic(world))

    assert answer["scope"] == "legal_entity:read"
    assert (await introspect(oauth, issued["refresh_token"], GATEWAY)) == {"active": False}


async def test_introspection_reads_nothing_it_should_not_change(
    oauth: httpx.AsyncClient, world: World, services: Services
) -> None:
    token = await access_token(oauth, world)
    before = await snapshot(services.engine)

    await introspect(oauth, token, world_basic(world))
    await introspect(oauth, token, GATEWAY)

    assert await snapshot(services.engine) == before
    async with services.engine.connect() as conn:
        assert await conn.scalar(sa.select(sa.func.count()).select_from(tokens)) == 2
