"""Helpers of the authorization-code flow tests: login, app authorization, code exchange."""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from tests.support import World

REDIRECT_URI = "https://mis.example.org/cb"
ALREADY_USED = {"type": "access_denied", "message": "Token has already been used."}


def login_body(world: World, **overrides: Any) -> dict[str, Any]:
    token: dict[str, Any] = {
        "grant_type": "password",
        "email": world.user_email,
        "password": world.user_password,
        "client_id": str(world.client_id),
        "scope": "app:authorize",
    }
    token.update(overrides)
    return {"token": {key: value for key, value in token.items() if value is not ...}}


def app_body(world: World, **overrides: Any) -> dict[str, Any]:
    app: dict[str, Any] = {
        "client_id": str(world.client_id),
        "redirect_uri": REDIRECT_URI,
        "scope": "legal_entity:read",
    }
    app.update(overrides)
    return {"app": {key: value for key, value in app.items() if value is not ...}}


def exchange_body(world: World, code: str, **overrides: Any) -> dict[str, Any]:
    token: dict[str, Any] = {
        "grant_type": "authorization_code",
        "client_id": str(world.client_id),
        "client_secret": world.client_secret,
        "code": code,
        "redirect_uri": REDIRECT_URI,
    }
    token.update(overrides)
    return {"token": {key: value for key, value in token.items() if value is not ...}}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def login(http: httpx.AsyncClient, world: World, **overrides: Any) -> str:
    response = await http.post("/auth/login", json=login_body(world, **overrides))
    assert response.status_code == 201, response.text
    value: str = response.json()["data"]["value"]
    return value


async def authorize(http: httpx.AsyncClient, world: World, **overrides: Any) -> str:
    """A fresh authorization code for the world's user and client."""
    token = await login(http, world)
    response = await http.post(
        "/oauth/apps/authorize", json=app_body(world, **overrides), headers=bearer(token)
    )
    assert response.status_code == 201, response.text
    value: str = response.json()["data"]["value"]
    return value


def query_of(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query)


def assert_error(response: httpx.Response, status: int, type_: str, message: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["meta"]["code"] == status
    assert body["error"]["type"] == type_, body
    assert body["error"]["message"] == message, body
    assert "data" not in body


class _Forms(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict[str, Any]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag == "form":
            self.forms.append({"action": values.get("action", ""), "fields": {}})
        elif tag in ("input", "button") and self.forms and "name" in values:
            self.forms[-1]["fields"][values["name"]] = values.get("value", "")


def page_forms(html: str) -> list[dict[str, Any]]:
    """Each form of a page: its action and its named fields with their values."""
    parser = _Forms()
    parser.feed(html)
    return parser.forms
