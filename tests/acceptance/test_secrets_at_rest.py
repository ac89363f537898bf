"""CONTRACT §5: the database never holds a usable token, client secret or password."""

from __future__ import annotations

import httpx

from ehealth_auth.wiring import Services
from tests.support import World, snapshot


def _forms(secret: str) -> set[bytes]:
    raw = secret.encode()
    return {raw, raw.hex().encode(), raw.upper(), raw.lower()}


async def test_database_holds_no_token_secret_or_password(
    http: httpx.AsyncClient, world: World, services: Services
) -> None:
    issued = [
        (await http.post("/oauth/tokens", json=world.refresh_body())).json()["data"]["value"]
        for _ in range(3)
    ]
    secrets = [world.client_secret, world.refresh_token, world.user_password, *issued]

    tables = await snapshot(services.engine)
    assert tables["tokens"], "the run stored tokens"
    dump = repr(tables).encode()
    for cell in (cell for rows in tables.values() for row in rows for cell in row):
        if isinstance(cell, bytes | memoryview):
            dump += bytes(cell)
    for secret in secrets:
        for form in _forms(secret):
            assert form not in dump, "a secret is stored in plain text"
