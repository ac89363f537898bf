"""Helpers of the standard OAuth 2.0 dialect tests: form requests, HTTP Basic, and a user who
signs in and approves on the authorization pages (for a client library's code flow)."""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from tests.flow_support import page_forms
from tests.support import World

FORM = "application/x-www-form-urlencoded"
TOKEN_PATH = "/oauth/tokens"
REVOKE_PATH = "/oauth/revoke"
INTROSPECT_PATH = "/oauth/introspect"
METADATA_PATH = "/.well-known/oauth-authorization-server"


def basic(client_id: str, secret: str) -> dict[str, str]:
    """RFC 6749 §2.3.1: form-urlencode id and secret, join with a colon, base64."""
    raw = f"{quote(client_id, safe='')}:{quote(secret, safe='')}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


def world_basic(world: World) -> dict[str, str]:
    return basic(str(world.client_id), world.client_secret)


def post_credentials(world: World) -> dict[str, str]:
    return {"client_id": str(world.client_id), "client_secret": world.client_secret}


def refresh_form(world: World, **extra: str) -> dict[str, str]:
    return {"grant_type": "refresh_token", "refresh_token": world.refresh_token, **extra}


def code_form(code: str) -> dict[str, str]:
    """The form of a code exchange for the world's registered redirect URI."""
    return {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": "https://mis.example.org/cb",
    }


def oauth_error(response: httpx.Response, status: int, error: str, description: str) -> None:
    assert response.status_code == status, response.text
    assert response.json() == {"error": error, "error_description": description}, response.text
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["pragma"] == "no-cache"


def _form_of(html: str, action: str) -> dict[str, str]:
    forms = [form for form in page_forms(html) if form["action"] == action]
    assert forms, f"no form posting to {action}"
    fields: dict[str, str] = forms[-1]["fields"]
    return fields


def _path(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + ("?" + parts.query if parts.query else "")


async def approve_in_browser(browser: httpx.AsyncClient, authorize_url: str, world: World) -> str:
    """The user signs in and approves on the pages; the redirect back to the client."""
    page = await browser.get(_path(authorize_url))
    assert page.status_code == 200, page.text
    fields = _form_of(page.text, "/oauth/authorize/sign-in")
    fields.update(email=world.user_email, password=world.user_password)
    signed_in = await browser.post("/oauth/authorize/sign-in", data=fields)
    assert signed_in.status_code == 303, signed_in.text
    consent = await browser.get(signed_in.headers["location"])
    fields = _form_of(consent.text, "/oauth/authorize/consent")
    fields["decision"] = "approve"
    answer = await browser.post("/oauth/authorize/consent", data=fields)
    assert answer.status_code == 303, answer.text
    location: str = answer.headers["location"]
    return location


def approve_in_browser_sync(browser: httpx.Client, authorize_url: str, world: World) -> str:
    """`approve_in_browser` against a real server."""
    page = browser.get(_path(authorize_url))
    assert page.status_code == 200, page.text
    fields = _form_of(page.text, "/oauth/authorize/sign-in")
    fields.update(email=world.user_email, password=world.user_password)
    signed_in = browser.post("/oauth/authorize/sign-in", data=fields)
    assert signed_in.status_code == 303, signed_in.text
    consent = browser.get(signed_in.headers["location"])
    fields = _form_of(consent.text, "/oauth/authorize/consent")
    fields["decision"] = "approve"
    answer = browser.post("/oauth/authorize/consent", data=fields)
    assert answer.status_code == 303, answer.text
    location: str = answer.headers["location"]
    return location


def json_of(response: httpx.Response) -> dict[str, Any]:
    value: dict[str, Any] = response.json()
    return value
