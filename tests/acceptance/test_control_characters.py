"""Text a database cannot store (U+0000) and other control characters are a 422 at validation,
on both backends, in the JSON API and in the sign-in form (which answers with a page); such a
request changes nothing."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from ehealth_auth.wiring import Services
from tests.acceptance.test_authorize_pages import authorize_url, form
from tests.admin_support import AUTH, admin_overrides
from tests.flow_support import REDIRECT_URI, app_body, bearer, login, login_body
from tests.support import World, snapshot

NUL = "\x00"


@pytest.fixture
def setting_overrides() -> dict[str, Any]:
    return admin_overrides()


def assert_control_characters(response: httpx.Response, *entries: str) -> None:
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["type"] == "validation_failed"
    assert [entry["entry"] for entry in error["invalid"]] == list(entries)
    for entry in error["invalid"]:
        assert entry["rules"] == [
            {"rule": "format", "description": "must not contain control characters", "params": []}
        ]


@pytest.mark.parametrize("character", [NUL, "\x1f", "\x7f", "\u0085"])
async def test_refresh_fields_with_control_characters_are_422(
    http: httpx.AsyncClient, world: World, character: str
) -> None:
    response = await http.post(
        "/oauth/tokens",
        json=world.refresh_body(
            client_secret=world.client_secret + character,
            refresh_token=character + world.refresh_token,
        ),
    )
    assert_control_characters(response, "$.token.client_secret", "$.token.refresh_token")


async def test_login_email_with_nul_is_422(http: httpx.AsyncClient, world: World) -> None:
    response = await http.post("/auth/login", json=login_body(world, email=f"a{NUL}@x.org"))
    assert_control_characters(response, "$.token.email")


async def test_apps_authorize_fields_with_nul_are_422(
    http: httpx.AsyncClient, world: World
) -> None:
    token = await login(http, world)
    response = await http.post(
        "/oauth/apps/authorize",
        headers=bearer(token),
        json=app_body(world, redirect_uri=REDIRECT_URI + NUL, scope=f"employee:read{NUL}"),
    )
    assert_control_characters(response, "$.app.redirect_uri", "$.app.scope")


@pytest.mark.parametrize(
    ("path", "body", "entries"),
    [
        (
            "/admin/client_types",
            {"client_type": {"name": f"MIS{NUL}", "scope": f"a{NUL} b"}},
            ["$.client_type.name", "$.client_type.scope"],
        ),
        (
            "/admin/clients",
            {
                "client": {
                    "name": f"Clinic{NUL}",
                    "client_type": f"MIS_a{NUL}",
                    "redirect_uri": f"https://mis.example.org/cb{NUL}",
                }
            },
            ["$.client.name", "$.client.client_type", "$.client.redirect_uri"],
        ),
        (
            "/admin/users",
            {"user": {"email": f"doctor{NUL}@example.org", "password": f"password{NUL}1"}},
            ["$.user.email", "$.user.password"],
        ),
    ],
    ids=["client-type", "client", "user"],
)
async def test_admin_fields_with_nul_are_422_and_change_nothing(
    http: httpx.AsyncClient,
    world: World,
    services: Services,
    path: str,
    body: dict[str, Any],
    entries: list[str],
) -> None:
    before = await snapshot(services.engine)
    response = await http.post(path, headers=AUTH, json=body)
    assert_control_characters(response, *entries)
    assert await snapshot(services.engine) == before


async def test_sign_in_form_with_nul_answers_a_page_not_json(
    http: httpx.AsyncClient, world: World
) -> None:
    page = await http.get(authorize_url(world, lang="en"))
    fields = form(page, "/oauth/authorize/sign-in")
    fields.update(email=world.user_email + NUL, password=world.user_password)
    response = await http.post("/oauth/authorize/sign-in", data=fields)
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("text/html")
    assert "Email and password must not contain control characters." in response.text
    assert "\x00" not in response.text
    assert world.user_email not in response.text  # the refused value is not echoed


async def test_authorize_page_with_nul_in_the_query_is_never_a_500(
    http: httpx.AsyncClient, world: World
) -> None:
    for query in ({"scope": f"employee:read{NUL}"}, {"state": f"s{NUL}"}):
        response = await http.get(authorize_url(world, **query))
        assert response.status_code < 500
