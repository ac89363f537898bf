"""CONTRACT §7: a database that cannot be reached is a 503 with Retry-After, never a 500, and
the service recovers by itself when it is back. PostgreSQL only: SQLite has no server to lose.

The database is cut off through a proxy (tests/pg_proxy.py) or by terminating this test
database's own backends; the shared PostgreSQL server is never restarted.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import asyncpg  # type: ignore[import-untyped]
import httpx
import pytest
from sqlalchemy.engine import make_url

from ehealth_auth.settings import Settings
from ehealth_auth.storage import migrate
from ehealth_auth.wiring import Services, build_app, build_services
from tests.admin_support import ADMIN_KEY, AUTH
from tests.conftest import PG_ADMIN_URL, create_pg_database, drop_pg_database
from tests.pg_proxy import PostgresProxy, postgres_proxy
from tests.support import CHEAP_PASSWORD_HASHING, TEST_SECRET_KEY, World, seed_world


@dataclass
class Outage:
    proxy: PostgresProxy
    services: Services
    http: httpx.AsyncClient
    world: World
    database: str


@pytest.fixture
def pg_url() -> Iterator[str]:
    url = create_pg_database()
    migrate.upgrade(url)
    yield url
    drop_pg_database(url)


@pytest.fixture
async def outage(pg_url: str) -> AsyncIterator[Outage]:
    with postgres_proxy(pg_url) as proxy:
        settings = Settings.model_validate(
            {
                "database_url": proxy.url,
                "secret_key": TEST_SECRET_KEY,
                "admin_keys": ADMIN_KEY,
                **CHEAP_PASSWORD_HASHING,
            }
        )
        services = build_services(settings)
        world = await seed_world(services.admin)
        transport = httpx.ASGITransport(app=build_app(settings, services))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield Outage(proxy, services, http, world, make_url(pg_url).database or "")
        await services.close()


async def _refresh(outage: Outage) -> httpx.Response:
    return await outage.http.post("/oauth/tokens", json=outage.world.refresh_body())


def _assert_unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["Retry-After"] == "1"
    body = response.json()
    assert body["meta"]["code"] == 503
    assert body["error"]["type"] == "service_unavailable"
    assert "internal" not in body["error"]["message"].lower()


async def test_refresh_answers_503_while_the_database_is_cut_off_and_201_once_it_is_back(
    outage: Outage,
) -> None:
    assert (await _refresh(outage)).status_code == 201
    outage.proxy.cut()
    for _ in range(3):
        _assert_unavailable(await _refresh(outage))
    outage.proxy.restore()
    # The very first request after the database is back succeeds: no restart of the service.
    assert (await _refresh(outage)).status_code == 201
    scrape = await outage.http.get("/metrics", headers=AUTH)
    assert "ehealth_auth_database_unavailable_total 3.0" in scrape.text.splitlines()


async def test_admin_and_verify_routes_answer_503_and_recover_without_a_500(
    outage: Outage,
) -> None:
    http = outage.http
    login = await http.post(
        "/auth/login",
        json={
            "token": {
                "grant_type": "password",
                "email": outage.world.user_email,
                "password": outage.world.user_password,
                "client_id": str(outage.world.client_id),
                "scope": "app:authorize",
            }
        },
    )
    assert login.status_code == 201
    access = login.json()["data"]["value"]
    assert (await http.get("/admin/clients", headers=AUTH)).status_code == 200
    outage.proxy.cut()
    _assert_unavailable(await http.get("/admin/clients", headers=AUTH))
    _assert_unavailable(await http.get(f"/admin/tokens/{access}/verify", headers=AUTH))
    _assert_unavailable(
        await http.post(
            "/admin/users",
            headers=AUTH,
            json={"user": {"email": "new@example.org", "password": "password-new"}},
        )
    )
    outage.proxy.restore()
    assert (await http.get("/admin/clients", headers=AUTH)).status_code == 200
    assert (await http.get(f"/admin/tokens/{access}/verify", headers=AUTH)).status_code == 200
    # The refused create changed nothing: the same user can be created now.
    created = await http.post(
        "/admin/users",
        headers=AUTH,
        json={"user": {"email": "new@example.org", "password": "password-new"}},
    )
    assert created.status_code == 201


async def test_an_outage_is_logged_once_not_once_per_request(
    outage: Outage, caplog: pytest.LogCaptureFixture
) -> None:
    assert (await _refresh(outage)).status_code == 201
    with caplog.at_level(logging.INFO):
        for _episode in range(2):
            outage.proxy.cut()
            for _ in range(4):
                _assert_unavailable(await _refresh(outage))
                _assert_unavailable(await outage.http.get("/admin/clients", headers=AUTH))
            outage.proxy.restore()
            assert (await _refresh(outage)).status_code == 201
    outage_lines = [r for r in caplog.records if r.name == "ehealth_auth.database"]
    assert [r.getMessage() for r in outage_lines] == ["database unavailable"] * 2
    assert not [r for r in caplog.records if r.name == "ehealth_auth.error"]
    assert not [r for r in caplog.records if r.exc_info]


async def _terminate_backends(database: str) -> int:
    conn = await asyncpg.connect(PG_ADMIN_URL, timeout=10)
    try:
        killed: int = await conn.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = $1 AND pid <> pg_backend_pid()",
            database,
        )
        return killed
    finally:
        await conn.close()


async def test_connections_killed_by_the_server_are_replaced_before_the_next_request(
    outage: Outage,
) -> None:
    http = outage.http
    assert (await _refresh(outage)).status_code == 201
    assert (await http.get("/admin/clients", headers=AUTH)).status_code == 200
    assert await _terminate_backends(outage.database) > 0
    await asyncio.sleep(0.2)  # let the clients read the servers' goodbye
    # Pooled connections that the server ended are replaced: the next requests succeed.
    assert (await http.get("/admin/clients", headers=AUTH)).status_code == 200
    assert (await _refresh(outage)).status_code == 201
