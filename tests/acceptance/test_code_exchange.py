"""CONTRACT §3 `grant_type=authorization_code` over HTTP, on both backends: the answer, each
check in its order, single use with family revocation, simultaneous exchanges, and PKCE."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import uuid
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from ehealth_auth.protocol.grants.refresh_token import REVOKED_FOR_REUSE
from ehealth_auth.protocol.pkce import s256
from ehealth_auth.storage.tables import approvals, tokens, users
from ehealth_auth.wiring import Services
from tests.fakes import FakeClock
from tests.flow_support import (
    ALREADY_USED,
    REDIRECT_URI,
    authorize,
    exchange_body,
)
from tests.flow_support import assert_error as check_error
from tests.support import World, seed_world, snapshot

VERIFIER = "dBjftJeZ4CVP-mJ92K1DXxa9UQAkGyqXh5s8ZCkfcp0"
# BASE64URL(SHA256(verifier)) without padding, worked out independently of the service's code.
CHALLENGE = base64.urlsafe_b64encode(hashlib.sha256(VERIFIER.encode()).digest()).decode()[:43]
MISMATCH = "The redirection URI provided does not match a pre-registered value."


async def exchange(http: httpx.AsyncClient, body: Any) -> httpx.Response:
    return await http.post("/oauth/tokens", json=body)


async def family(services: Services, code_id: str) -> list[Any]:
    async with services.engine.connect() as conn:
        rows = await conn.execute(sa.select(tokens).where(tokens.c.family_id == uuid.UUID(code_id)))
        return list(rows)


async def code_id_of(services: Services, world: World) -> str:
    async with services.engine.connect() as conn:
        value = (
            (
                await conn.execute(
                    sa.select(tokens.c.id)
                    .where(tokens.c.name == "authorization_code")
                    .order_by(tokens.c.issued_at.desc())
                )
            )
            .scalars()
            .first()
        )
    return str(value)


def test_s256_challenge_is_unpadded_base64url_of_sha256() -> None:
    assert s256(VERIFIER) == CHALLENGE
    assert len(CHALLENGE) == 43


async def test_exchange_returns_access_and_refresh_tokens_then_refresh_works(
    http: httpx.AsyncClient, world: World, clock: FakeClock
) -> None:
    code = await authorize(http, world)
    response = await exchange(http, exchange_body(world, code))

    assert response.status_code == 201, response.text
    assert response.headers["cache-control"] == "no-store"
    data = response.json()["data"]
    assert set(data) == {"id", "name", "value", "expires_at", "user_id", "details"}
    assert data["name"] == "access_token"
    assert data["user_id"] == str(world.user_id)
    assert data["expires_at"] == clock.now() + 28_800
    refresh_token = data["details"].pop("refresh_token")
    assert data["details"] == {
        "client_id": str(world.client_id),
        "grant_type": "authorization_code",
        "scope": "legal_entity:read",
        "redirect_uri": REDIRECT_URI,
    }
    refreshed = await http.post(
        "/oauth/tokens", json=world.refresh_body(refresh_token=refresh_token)
    )
    assert refreshed.status_code == 201, refreshed.text
    # A refresh answers with the approval's current scope (CONTRACT §2): the code's request
    # widened it, new scopes first.
    assert refreshed.json()["data"]["details"]["scope"] == (
        "legal_entity:read app:authorize employee:read"
    )


async def test_exchange_starts_a_family_rooted_in_the_code(
    http: httpx.AsyncClient, world: World, services: Services
) -> None:
    code = await authorize(http, world)
    data = (await exchange(http, exchange_body(world, code))).json()["data"]
    code_id = await code_id_of(services, world)
    rows = {row.name: row for row in await family(services, code_id)}
    assert set(rows) == {"authorization_code", "refresh_token", "access_token"}
    assert rows["access_token"].id == uuid.UUID(data["id"])
    assert rows["authorization_code"].retired_at_ms is not None  # consumed
    assert rows["authorization_code"].successor_id == rows["refresh_token"].id
    assert all("refresh_token" not in row.details for row in rows.values())


async def test_second_use_fails_and_revokes_what_the_first_issued(
    http: httpx.AsyncClient, world: World, services: Services
) -> None:
    code = await authorize(http, world)
    first = (await exchange(http, exchange_body(world, code))).json()["data"]
    again = await exchange(http, exchange_body(world, code))
    check_error(again, 401, *ALREADY_USED.values())

    rows = await family(services, await code_id_of(services, world))
    assert len(rows) == 3
    assert all(row.revoked_at is not None for row in rows)
    body = world.refresh_body(refresh_token=first["details"]["refresh_token"])
    # The refresh token it issued says why it is dead.
    check_error(await exchange(http, body), 401, "invalid_grant", REVOKED_FOR_REUSE)
    # The operator-minted refresh token of another authorization lives on.
    assert (await exchange(http, world.refresh_body())).status_code == 201


async def test_simultaneous_exchanges_have_exactly_one_winner(
    http: httpx.AsyncClient, world: World, services: Services
) -> None:
    for _ in range(3):
        code = await authorize(http, world)
        answers = await asyncio.gather(
            *(exchange(http, exchange_body(world, code)) for _ in range(4))
        )
        assert sorted(a.status_code for a in answers) == [201, 401, 401, 401]
        assert all(a.json()["error"] == ALREADY_USED for a in answers if a.status_code == 401)
        rows = await family(services, await code_id_of(services, world))
        assert len([r for r in rows if r.name == "refresh_token"]) == 1
        assert all(row.revoked_at is not None for row in rows), "reuse revoked the family"


async def test_check_fields_are_required(http: httpx.AsyncClient) -> None:
    response = await exchange(
        http, {"token": {"grant_type": "authorization_code", "client_id": "", "code": 7}}
    )
    assert response.status_code == 422
    assert [
        (entry["entry"], entry["rules"][0]["rule"]) for entry in response.json()["error"]["invalid"]
    ] == [
        ("$.token.client_id", "required"),
        ("$.token.client_secret", "required"),
        ("$.token.code", "cast"),
        ("$.token.redirect_uri", "required"),
    ]


async def test_check_wrong_secret_or_non_uuid_client(http: httpx.AsyncClient, world: World) -> None:
    code = await authorize(http, world)
    for overrides in ({"client_secret": "wrong"}, {"client_id": "nope"}):
        response = await exchange(http, exchange_body(world, code, **overrides))
        check_error(response, 401, "invalid_client", "Invalid client id or secret.")


async def test_check_blocked_client(
    http: httpx.AsyncClient, world: World, services: Services
) -> None:
    code = await authorize(http, world)
    await services.admin.set_client_blocked(world.client_id, True)
    response = await exchange(http, exchange_body(world, code))
    check_error(response, 401, "invalid_client", "Client is blocked.")


async def test_check_unknown_code(http: httpx.AsyncClient, world: World) -> None:
    response = await exchange(http, exchange_body(world, "no-such-code"))
    check_error(response, 401, "token_not_found", "Token not found.")
    # A refresh token is not a code.
    response = await exchange(http, exchange_body(world, world.refresh_token))
    check_error(response, 401, "token_not_found", "Token not found.")


async def test_check_code_of_another_client(
    http: httpx.AsyncClient, world: World, services: Services
) -> None:
    other = await seed_world(services.admin, tag="b", client_type=world.client_type)
    code = await authorize(http, world)
    body = exchange_body(other, code)
    check_error(await exchange(http, body), 401, "invalid_grant", "Token not found or expired.")


async def test_check_expired_code(http: httpx.AsyncClient, world: World, clock: FakeClock) -> None:
    code = await authorize(http, world)
    clock.advance(300)  # expires_at <= now is expired
    response = await exchange(http, exchange_body(world, code))
    check_error(response, 401, "token_expired", "Token expired.")


async def test_check_revoked_code(
    http: httpx.AsyncClient, world: World, services: Services
) -> None:
    code = await authorize(http, world)
    await services.admin.deactivate_client_tokens(world.client_id)
    response = await exchange(http, exchange_body(world, code))
    check_error(response, 401, "token_expired", "Token expired.")


@pytest.mark.parametrize(
    "uri",
    ["https://mis.example.org/other", "http://mis.example.org/cb", "https://mis.example.org:1/cb"],
)
async def test_check_redirect_uri_must_be_the_codes(
    http: httpx.AsyncClient, world: World, uri: str
) -> None:
    code = await authorize(http, world)
    response = await exchange(http, exchange_body(world, code, redirect_uri=uri))
    check_error(response, 401, "invalid_grant", MISMATCH)


async def test_check_blocked_user(
    http: httpx.AsyncClient, world: World, services: Services
) -> None:
    code = await authorize(http, world)
    async with services.engine.begin() as conn:
        await conn.execute(users.update().values(is_blocked=True))
    check_error(
        await exchange(http, exchange_body(world, code)), 401, "user_blocked", "User blocked."
    )


async def test_check_approval_gone(
    http: httpx.AsyncClient, world: World, services: Services
) -> None:
    code = await authorize(http, world)
    async with services.engine.begin() as conn:
        await conn.execute(approvals.delete())
    response = await exchange(http, exchange_body(world, code))
    check_error(response, 401, "access_denied", "Resource owner revoked access for the client.")


async def test_first_failing_check_decides(
    http: httpx.AsyncClient, world: World, services: Services, clock: FakeClock
) -> None:
    code = await authorize(http, world, code_challenge=CHALLENGE, code_challenge_method="S256")
    async with services.engine.begin() as conn:
        await conn.execute(users.update().values(is_blocked=True))
        await conn.execute(approvals.delete())
    body = exchange_body(world, code, redirect_uri="https://evil.example.org/cb")
    check_error(await exchange(http, body), 401, "invalid_grant", MISMATCH)
    clock.advance(300)
    check_error(await exchange(http, body), 401, "token_expired", "Token expired.")


async def test_pkce_right_verifier(http: httpx.AsyncClient, world: World) -> None:
    code = await authorize(http, world, code_challenge=CHALLENGE, code_challenge_method="S256")
    response = await exchange(http, exchange_body(world, code, code_verifier=VERIFIER))
    assert response.status_code == 201, response.text


@pytest.mark.parametrize(
    ("verifier", "message"),
    [
        (..., "Code verifier is required: the code was issued with a code challenge."),
        ("", "Code verifier is required: the code was issued with a code challenge."),
        (VERIFIER[:-1] + "1", "Code verifier does not match the code challenge."),
        ("short", "Code verifier does not match the code challenge."),
    ],
)
async def test_pkce_missing_or_wrong_verifier(
    http: httpx.AsyncClient, world: World, services: Services, verifier: Any, message: str
) -> None:
    code = await authorize(http, world, code_challenge=CHALLENGE, code_challenge_method="S256")
    before = await snapshot(services.engine)
    response = await exchange(http, exchange_body(world, code, code_verifier=verifier))
    check_error(response, 401, "invalid_grant", message)
    assert await snapshot(services.engine) == before, "a failed PKCE check leaves the code usable"
    right = await exchange(http, exchange_body(world, code, code_verifier=VERIFIER))
    assert right.status_code == 201


async def test_pkce_verifier_for_a_code_without_challenge(
    http: httpx.AsyncClient, world: World
) -> None:
    code = await authorize(http, world)
    response = await exchange(http, exchange_body(world, code, code_verifier=VERIFIER))
    check_error(
        response,
        401,
        "invalid_grant",
        "Code verifier given, but the code was issued without a code challenge.",
    )


async def test_pkce_verifier_of_the_wrong_type(http: httpx.AsyncClient, world: World) -> None:
    code = await authorize(http, world, code_challenge=CHALLENGE, code_challenge_method="S256")
    response = await exchange(http, exchange_body(world, code, code_verifier=5))
    assert response.status_code == 422
    assert response.json()["error"]["invalid"][0]["entry"] == "$.token.code_verifier"
