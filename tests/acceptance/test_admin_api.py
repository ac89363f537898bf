"""The admin API as a whole, on both backends: every route needs an admin key, and no answer
ever carries a token value, a secret or a hash, except the one-time secret of a connection."""

from __future__ import annotations

import base64
import re
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from ehealth_auth.protocol.model import TokenName
from ehealth_auth.settings import Settings
from ehealth_auth.storage.tables import connections, tokens, users
from ehealth_auth.wiring import Services
from tests.admin_support import AUTH, admin_overrides, checked_client
from tests.support import World, snapshot


@pytest.fixture
def setting_overrides() -> dict[str, Any]:
    return admin_overrides()


@pytest.fixture
async def admin_and_answers(
    settings: Settings, services: Services
) -> AsyncIterator[tuple[httpx.AsyncClient, list[httpx.Response]]]:
    async with checked_client(settings, services, AUTH) as pair:
        yield pair


async def admin_operations(http: httpx.AsyncClient) -> list[tuple[str, str]]:
    document = (await http.get("/openapi.json")).json()
    found = [
        (method.upper(), path)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if operation["security"]
    ]
    # Besides /admin, /metrics takes a key (an admin key, or a metrics key).
    keyed = {p for p in document["paths"] if p.startswith("/admin") or p == "/metrics"}
    assert {path for _, path in found} == keyed
    return found


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer not-a-configured-key"},
        {"Authorization": f"Basic {AUTH['Authorization'].split()[1]}"},
    ],
    ids=["missing", "wrong", "not-bearer"],
)
async def test_every_admin_route_requires_an_admin_key(
    http: httpx.AsyncClient, world: World, services: Services, headers: dict[str, str]
) -> None:
    before = await snapshot(services.engine)
    operations = await admin_operations(http)
    assert len(operations) >= 19
    for method, template in operations:
        path = re.sub(r"\{[^/]+\}", str(world.client_id), template)
        body = {"client_type": {"name": "X"}, "client": {}, "user": {}}
        response = await http.request(method, path, json=body, headers=headers)
        assert response.status_code == 401, (method, path)
        assert response.json()["error"] == {
            "type": "access_denied",
            "message": "Missing or invalid admin key.",
        }
        assert response.headers["www-authenticate"] == 'Bearer realm="ehealth-auth admin"'
    assert await snapshot(services.engine) == before


def _encodings(raw: bytes) -> set[str]:
    return {
        raw.hex(),
        raw.hex().upper(),
        base64.b64encode(raw).decode(),
        base64.urlsafe_b64encode(raw).decode().rstrip("="),
    }


async def _stored_secrets(services: Services) -> set[str]:
    """Every digest and password hash in the database, in the forms an answer could hold."""
    found: set[str] = set()
    async with services.engine.connect() as conn:
        for (digest,) in await conn.execute(sa.select(tokens.c.value_hash)):
            found |= _encodings(bytes(digest))
        for (digest,) in await conn.execute(sa.select(connections.c.secret_hash)):
            found |= _encodings(bytes(digest))
        for (password_hash,) in await conn.execute(sa.select(users.c.password_hash)):
            found.add(password_hash)
            found.add(password_hash.rsplit("$", 1)[-1])
    return found


async def test_no_admin_answer_reveals_a_token_or_secret_but_the_new_connection_secret(
    admin_and_answers: tuple[httpx.AsyncClient, list[httpx.Response]],
    http: httpx.AsyncClient,
    world: World,
    services: Services,
) -> None:
    admin, answers = admin_and_answers
    await admin.post("/admin/client_types", json={"client_type": {"name": "T", "scope": "a b"}})
    created = (
        await admin.post(
            "/admin/clients",
            json={"client": {"name": "C", "client_type": "T", "redirect_uri": "https://x.org/"}},
        )
    ).json()["data"]
    client_id = created["id"]
    first_secret = created["connection"]["secret"]
    password = "a-password-of-the-test"
    user = (
        await admin.post("/admin/users", json={"user": {"email": "n@x.org", "password": password}})
    ).json()["data"]
    await services.admin.approve(uuid.UUID(user["id"]), uuid.UUID(client_id), "a b")
    minted = await services.admin.create_token(
        TokenName.REFRESH_TOKEN, uuid.UUID(user["id"]), uuid.UUID(client_id)
    )
    refreshed = await http.post("/oauth/tokens", json=world.refresh_body())
    access = refreshed.json()["data"]["value"]
    connection_id = created["connection"]["id"]
    rotated = (
        await admin.patch(
            f"/admin/clients/{client_id}/connections/{connection_id}/actions/rotate_secret"
        )
    ).json()["data"]["secret"]

    # Every read and action of the API, over everything that exists.
    for path in (
        "/admin/client_types",
        "/admin/clients",
        f"/admin/clients/{client_id}",
        f"/admin/clients/{world.client_id}",
        "/admin/users",
        f"/admin/users/{user['id']}",
        "/admin/approvals",
        "/admin/tokens",
        f"/admin/tokens?user_id={world.user_id}",
        f"/admin/tokens/{access}/verify",
    ):
        assert (await admin.get(path)).status_code == 200, path
    for path in (
        f"/admin/clients/{client_id}/actions/block",
        f"/admin/clients/{client_id}/actions/unblock",
        f"/admin/users/{user['id']}/actions/block",
        f"/admin/users/{user['id']}/actions/unblock",
        f"/admin/clients/{world.client_id}/actions/deactivate_tokens",
    ):
        assert (await admin.patch(path)).status_code == 200, path
    approval = (await admin.get("/admin/approvals")).json()["data"][0]["id"]
    for path in (
        f"/admin/tokens/{minted.id}",
        f"/admin/users/{world.user_id}/tokens",
        f"/admin/approvals/{approval}",
    ):
        assert (await admin.delete(path)).status_code == 200, path
    await admin.post("/admin/users", json={"user": {"email": "n@x.org", "password": password}})
    await admin.post("/admin/clients", json={"client": {"redirect_uri": first_secret}})

    values = {
        world.client_secret,
        world.refresh_token,
        world.user_password,
        password,
        minted.value,
        access,
        first_secret,
        rotated,
    }
    secrets = values | await _stored_secrets(services)
    allowed = {
        ("POST", "/admin/clients", 201): {first_secret},
        (
            "PATCH",
            f"/admin/clients/{client_id}/connections/{connection_id}/actions/rotate_secret",
            200,
        ): {rotated},
        # Verify answers the gateway with the caller's own token, taken from the request path.
        ("GET", f"/admin/tokens/{access}/verify", 200): {access},
    }
    admin_answers = [a for a in answers if a.request.url.path.startswith("/admin/")]
    assert len(admin_answers) >= 25
    for answer in admin_answers:
        key = (answer.request.method, answer.request.url.path, answer.status_code)
        shown = allowed.get(key, set())
        leaked = {secret for secret in secrets - shown if secret in answer.text}
        assert not leaked, (key, answer.text)
        for secret in shown:
            assert answer.text.count(secret) == 1 + (secret == access), key
