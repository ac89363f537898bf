"""Two server processes on one PostgreSQL database, each with its verify cache live: whatever
revokes a token (an operator action on one server, a change made by any other code path in the
database, or its expiry) is seen by both within one second."""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import httpx
import pytest
from pydantic import SecretStr

from ehealth_auth.protocol.model import TokenName
from ehealth_auth.settings import Settings
from ehealth_auth.storage import migrate
from ehealth_auth.wiring import Services, build_services
from tests.admin_support import ADMIN_KEY, AUTH
from tests.conftest import create_pg_database, drop_pg_database
from tests.servers import clean_env, free_port, start_server, stop
from tests.support import CHEAP_PASSWORD_HASHING, TEST_SECRET_KEY, World, seed_world

BOUND = 1.0
DEAD = ("invalid_grant", "Token expired or client approval was revoked.")


@dataclass(frozen=True)
class Pair:
    url: str
    servers: tuple[httpx.Client, httpx.Client]


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    url = create_pg_database()
    migrate.upgrade(url)
    directory = tmp_path_factory.mktemp("servers")
    env = clean_env(
        EHEALTH_AUTH_DATABASE_URL=url,
        EHEALTH_AUTH_SECRET_KEY=TEST_SECRET_KEY,
        EHEALTH_AUTH_ADMIN_KEYS=ADMIN_KEY,
    )
    processes: list[subprocess.Popen[bytes]] = []
    clients: list[httpx.Client] = []
    try:
        for name in ("a", "b"):
            port = free_port()
            processes.append(start_server(directory, env, port, directory / f"{name}.log"))
            clients.append(
                httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=AUTH, timeout=5)
            )
        yield Pair(url, (clients[0], clients[1]))
    finally:
        for client in clients:
            client.close()
        for process in processes:
            stop(process)
        drop_pg_database(url)


@pytest.fixture
async def services(pair: Pair) -> AsyncIterator[Services]:
    """The test's own view of the shared database (it has no cache feed: it serves nothing)."""
    cheap: dict[str, Any] = dict(CHEAP_PASSWORD_HASHING)
    built = build_services(
        Settings(database_url=pair.url, secret_key=SecretStr(TEST_SECRET_KEY), **cheap)
    )
    yield built
    await built.close()


@pytest.fixture
async def sql(pair: Pair) -> AsyncIterator[asyncpg.Connection]:
    connection = await asyncpg.connect(pair.url)
    yield connection
    await connection.close()


async def _mint(services: Services, world: World, expires_at: int | None = None) -> Any:
    return await services.admin.create_token(
        TokenName.ACCESS_TOKEN, world.user_id, world.client_id, expires_at
    )


async def _caches_live(services: Services, sql: asyncpg.Connection, pair: Pair) -> None:
    """Wait until each server answers from its cache: a token revoked behind the triggers' back
    (no notification) still verifies there, which only a live cache can do."""
    world = await seed_world(services.admin, tag=f"probe{time.monotonic_ns()}")
    deadline = time.monotonic() + 20
    for server in pair.servers:
        while True:
            token = await _mint(services, world)
            assert server.get(f"/admin/tokens/{token.value}/verify").status_code == 200
            async with sql.transaction():
                await sql.execute("SET LOCAL session_replication_role = replica")
                await sql.execute("UPDATE tokens SET revoked_at = 1 WHERE id = $1", token.id)
            if server.get(f"/admin/tokens/{token.value}/verify").status_code == 200:
                break
            assert time.monotonic() < deadline, "the verify cache never came up"
            await asyncio.sleep(0.2)


async def _refused_everywhere_within(
    pair: Pair, value: str, expected: tuple[str, str], since: float
) -> None:
    pending = list(pair.servers)
    while pending:
        for server in list(pending):
            answer = server.get(f"/admin/tokens/{value}/verify")
            if answer.status_code != 200:
                assert answer.status_code == 401, answer.text
                error = answer.json()["error"]
                assert (error["type"], error["message"]) == expected
                pending.remove(server)
        assert time.time() - since < BOUND, "a server still verified the token"
        await asyncio.sleep(0.02)


Event = Callable[[Pair, asyncpg.Connection, World, Any], Any]


async def _api_revoke(pair: Pair, _sql: asyncpg.Connection, _world: World, token: Any) -> None:
    assert pair.servers[0].delete(f"/admin/tokens/{token.id}").status_code == 200


async def _api_block_user(pair: Pair, _sql: asyncpg.Connection, world: World, _t: Any) -> None:
    answer = pair.servers[0].patch(f"/admin/users/{world.user_id}/actions/block")
    assert answer.status_code == 200


async def _api_block_client(pair: Pair, _sql: asyncpg.Connection, world: World, _t: Any) -> None:
    answer = pair.servers[0].patch(f"/admin/clients/{world.client_id}/actions/block")
    assert answer.status_code == 200


async def _api_delete_approval(pair: Pair, _sql: asyncpg.Connection, world: World, _t: Any) -> None:
    listed = pair.servers[0].get("/admin/approvals", params={"user_id": str(world.user_id)})
    (approval,) = listed.json()["data"]
    assert pair.servers[0].delete(f"/admin/approvals/{approval['id']}").status_code == 200


async def _db_block_user(_pair: Pair, sql: asyncpg.Connection, world: World, _t: Any) -> None:
    await sql.execute("UPDATE users SET is_blocked = true WHERE id = $1", world.user_id)


async def _db_delete_approval(_pair: Pair, sql: asyncpg.Connection, world: World, _t: Any) -> None:
    await sql.execute("DELETE FROM approvals WHERE user_id = $1", world.user_id)


async def _db_revoke_family(
    _pair: Pair, sql: asyncpg.Connection, _world: World, token: Any
) -> None:
    await sql.execute(
        "UPDATE tokens SET revoked_at = 1 WHERE family_id = (SELECT family_id FROM tokens"
        " WHERE id = $1)",
        token.id,
    )


AUTH_FAILED = "Authentication failed."
EVENTS: dict[str, tuple[Event, tuple[str, str]]] = {
    "operator revokes the token on the other server": (_api_revoke, DEAD),
    "operator blocks the user on the other server": (_api_block_user, DEAD),
    "operator blocks the client on the other server": (
        _api_block_client,
        ("invalid_client", AUTH_FAILED),
    ),
    "operator deletes the approval on the other server": (_api_delete_approval, DEAD),
    "another code path blocks the user in the database": (
        _db_block_user,
        ("invalid_user", AUTH_FAILED),
    ),
    "another code path deletes the approval in the database": (_db_delete_approval, DEAD),
    "another code path revokes the token family in the database": (_db_revoke_family, DEAD),
}


@pytest.mark.parametrize("event", sorted(EVENTS))
async def test_both_servers_refuse_a_cached_token_within_a_second_of_the_event(
    pair: Pair, services: Services, sql: asyncpg.Connection, event: str
) -> None:
    await _caches_live(services, sql, pair)
    world = await seed_world(services.admin, tag=f"w{time.monotonic_ns()}")
    token = await _mint(services, world)
    for server in pair.servers:
        assert server.get(f"/admin/tokens/{token.value}/verify").status_code == 200
    change, expected = EVENTS[event]

    await change(pair, sql, world, token)

    await _refused_everywhere_within(pair, token.value, expected, since=time.time())


async def test_both_servers_refuse_a_cached_token_once_it_expires(
    pair: Pair, services: Services, sql: asyncpg.Connection
) -> None:
    await _caches_live(services, sql, pair)
    world = await seed_world(services.admin, tag=f"x{time.monotonic_ns()}")
    expires_at = int(time.time()) + 2
    token = await _mint(services, world, expires_at)
    for server in pair.servers:
        assert server.get(f"/admin/tokens/{token.value}/verify").status_code == 200

    await asyncio.sleep(max(0.0, expires_at - time.time()))

    await _refused_everywhere_within(pair, token.value, DEAD, since=float(expires_at))
