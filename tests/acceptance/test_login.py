"""CONTRACT §3 `POST /auth/login` (grant_type=password) over HTTP, on both backends."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from ehealth_auth.storage.tables import auth_failures, users
from ehealth_auth.wiring import Services
from tests.fakes import FakeClock
from tests.flow_support import assert_error, login_body
from tests.support import World, seed_world, snapshot

WRONG = ("access_denied", "Identity, password combination is wrong.")
LOCKOUT = {"login_max_failures": 3, "throttle_window": 60}
BUSY = "Too many sign-ins in progress. Try again shortly."


def start_of_a_window(clock: FakeClock, window: int = 60) -> None:
    clock.set(clock.now() - clock.now() % window + window)


async def post_login(http: httpx.AsyncClient, body: Any) -> httpx.Response:
    return await http.post("/auth/login", json=body)


async def test_login_returns_a_login_token_in_the_envelope(
    http: httpx.AsyncClient, world: World, clock: FakeClock
) -> None:
    response = await post_login(http, login_body(world))
    assert response.status_code == 201, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["meta"]["url"] == "http://testserver/auth/login"
    data = body["data"]
    assert set(data) == {"id", "name", "value", "expires_at", "user_id", "details"}
    assert data["name"] == "access_token"
    assert data["user_id"] == str(world.user_id)
    assert data["expires_at"] == clock.now() + 3_600
    assert data["details"] == {
        "client_id": str(world.client_id),
        "grant_type": "password",
        "scope": "app:authorize",
    }


async def test_login_email_is_case_and_space_insensitive(
    http: httpx.AsyncClient, world: World
) -> None:
    response = await post_login(http, login_body(world, email=f" {world.user_email.upper()} "))
    assert response.status_code == 201, response.text


async def test_wrong_password_and_unknown_email_get_the_same_answer(
    http: httpx.AsyncClient, world: World
) -> None:
    wrong = await post_login(http, login_body(world, password="not-the-password"))
    unknown = await post_login(http, login_body(world, email="nobody@example.org"))
    assert_error(wrong, 401, *WRONG)
    assert_error(unknown, 401, *WRONG)
    assert wrong.json()["error"] == unknown.json()["error"]


async def test_blocked_user_is_told_only_with_the_right_password(
    http: httpx.AsyncClient, world: World, services: Services
) -> None:
    async with services.engine.begin() as conn:
        await conn.execute(users.update().values(is_blocked=True))
    assert_error(await post_login(http, login_body(world)), 401, "user_blocked", "User blocked.")
    assert_error(await post_login(http, login_body(world, password="wrong-password")), 401, *WRONG)


async def test_login_unknown_client_is_invalid_client(
    http: httpx.AsyncClient, world: World
) -> None:
    for client_id in ("not-a-uuid", "00000000-0000-0000-0000-000000000000"):
        response = await post_login(http, login_body(world, client_id=client_id))
        assert_error(response, 401, "invalid_client", "Invalid client id.")


async def test_login_blocked_client(
    http: httpx.AsyncClient, world: World, services: Services
) -> None:
    await services.admin.set_client_blocked(world.client_id, True)
    response = await post_login(http, login_body(world))
    assert_error(response, 401, "invalid_client", "Client is blocked.")


async def test_login_scope_beyond_client_type(http: httpx.AsyncClient, world: World) -> None:
    response = await post_login(http, login_body(world, scope="app:authorize admin:everything"))
    assert_error(response, 422, "validation_failed", "Scope is not allowed by client type.")


async def test_login_missing_fields_are_listed(http: httpx.AsyncClient) -> None:
    response = await post_login(http, {"token": {"grant_type": "password", "email": 5}})
    assert response.status_code == 422
    invalid = response.json()["error"]["invalid"]
    assert [(entry["entry"], entry["rules"][0]["rule"]) for entry in invalid] == [
        ("$.token.email", "cast"),
        ("$.token.password", "required"),
        ("$.token.client_id", "required"),
        ("$.token.scope", "required"),
    ]


async def test_login_allows_only_the_password_grant(http: httpx.AsyncClient, world: World) -> None:
    for grant in ("refresh_token", "authorization_code", "client_credentials"):
        response = await post_login(http, login_body(world, grant_type=grant))
        assert_error(response, 401, "invalid_grant", "Grant type not allowed.")
    response = await post_login(http, login_body(world, grant_type=...))
    assert_error(response, 422, "validation_failed", "Request must include grant_type.")


async def test_token_endpoint_refuses_the_password_grant(
    http: httpx.AsyncClient, world: World
) -> None:
    response = await http.post("/oauth/tokens", json=login_body(world))
    assert_error(response, 401, "invalid_grant", "Grant type not allowed.")


@pytest.mark.parametrize("setting_overrides", [LOCKOUT])
async def test_too_many_failures_lock_the_account_with_retry_after(
    http: httpx.AsyncClient, world: World, clock: FakeClock
) -> None:
    start_of_a_window(clock)
    for _ in range(3):
        assert_error(await post_login(http, login_body(world, password="wrong-pass")), 401, *WRONG)
    clock.advance(20)
    for body in (login_body(world, password="wrong-pass"), login_body(world)):
        locked = await post_login(http, body)
        assert locked.status_code == 429
        assert locked.headers["retry-after"] == "40"
        assert locked.json()["error"]["type"] == "too_many_requests"
    clock.advance(40)  # the window is over
    assert (await post_login(http, login_body(world))).status_code == 201


@pytest.mark.parametrize("setting_overrides", [LOCKOUT])
async def test_lockout_counts_unknown_emails_like_known_ones(
    http: httpx.AsyncClient, world: World
) -> None:
    statuses = [
        (await post_login(http, login_body(world, email="ghost@example.org"))).status_code
        for _ in range(4)
    ]
    assert statuses == [401, 401, 401, 429]


@pytest.mark.parametrize("setting_overrides", [LOCKOUT])
async def test_lockout_is_per_account_and_success_resets_it(
    http: httpx.AsyncClient, world: World, services: Services
) -> None:
    other = await seed_world(services.admin, tag="b", client_type=world.client_type)
    for _ in range(2):
        await post_login(http, login_body(world, password="wrong-pass"))
    assert (await post_login(http, login_body(other))).status_code == 201
    assert (await post_login(http, login_body(world))).status_code == 201  # resets
    for _ in range(3):
        assert (await post_login(http, login_body(world, password="x"))).status_code == 401
    assert (await post_login(http, login_body(world))).status_code == 429


# Room for every attempt in the password work, so that only the limits answer.
@pytest.mark.parametrize("setting_overrides", [{**LOCKOUT, "password_hash_queue": 7}])
async def test_simultaneous_failures_never_pass_the_limit(
    http: httpx.AsyncClient, world: World
) -> None:
    answers = await asyncio.gather(
        *(post_login(http, login_body(world, password="wrong-pass")) for _ in range(8))
    )
    assert sorted(answer.status_code for answer in answers) == [401] * 3 + [429] * 5


async def test_attempt_counter_names_no_account(
    http: httpx.AsyncClient, world: World, services: Services
) -> None:
    await post_login(http, login_body(world, password="wrong-pass"))
    async with services.engine.connect() as conn:
        rows = (await conn.execute(sa.select(auth_failures))).all()
    assert len(rows) == 3  # the address, the address and account, the account
    for row in rows:
        for column in (row.key_hash, row.target_hash or b""):
            assert world.user_email.encode() not in bytes(column)
            assert b"127.0.0.1" not in bytes(column)


async def test_rejected_logins_change_no_token(
    http: httpx.AsyncClient, world: World, services: Services
) -> None:
    before = (await snapshot(services.engine))["tokens"]
    for body in (
        login_body(world, password="wrong-pass"),
        login_body(world, scope="nope"),
        login_body(world, client_id="x"),
    ):
        assert (await post_login(http, body)).status_code >= 400
    assert (await snapshot(services.engine))["tokens"] == before


@pytest.mark.parametrize(
    "setting_overrides",
    [{"password_hash_rate": 0.01, "password_hash_concurrency": 1, "password_hash_queue": 1}],
)
async def test_beyond_the_password_hash_rate_a_login_is_refused_at_once_and_not_counted(
    http: httpx.AsyncClient, world: World, services: Services
) -> None:
    # A burst of two hashes, spent: the process's dummy hash and this login's verification (the
    # user's own hash, made by the world's seeding, is an operator's and not counted).
    assert (await post_login(http, login_body(world))).status_code == 201
    async with services.engine.connect() as conn:
        before = (await conn.execute(sa.select(auth_failures))).all()

    for body in (login_body(world), login_body(world, email="ghost@example.org")):
        refused = await post_login(http, body)
        assert_error(refused, 503, "service_unavailable", BUSY)
        # The next hash, at 0.01 per second (less the few seconds passed).
        assert 90 <= int(refused.headers["retry-after"]) <= 100

    async with services.engine.connect() as conn:
        assert (await conn.execute(sa.select(auth_failures))).all() == before
