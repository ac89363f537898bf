"""The browser pages over HTTP, on both backends: sign in, consent, the redirect back to the
MIS; error pages that never redirect; CSRF; the session cookie; languages."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from ehealth_auth.settings import Settings
from ehealth_auth.wiring import Services, build_app
from tests.fakes import FakeClock
from tests.flow_support import REDIRECT_URI, exchange_body, page_forms, query_of
from tests.support import World

STATE = "xyz-state-42"


def authorize_url(world: World, **overrides: str) -> str:
    params = {
        "client_id": str(world.client_id),
        "redirect_uri": REDIRECT_URI,
        "scope": "legal_entity:read employee:read",
        "state": STATE,
        **overrides,
    }
    return "/oauth/authorize?" + urlencode({k: v for k, v in params.items() if v})


def form(response: httpx.Response, action: str) -> dict[str, str]:
    forms = [f for f in page_forms(response.text) if f["action"] == action]
    assert forms, f"no form posting to {action}"
    fields: dict[str, str] = forms[-1]["fields"]
    return fields


async def sign_in(
    http: httpx.AsyncClient, world: World, password: str | None = None, **query: str
) -> httpx.Response:
    page = await http.get(authorize_url(world, **query))
    assert page.status_code == 200, page.text
    fields = form(page, "/oauth/authorize/sign-in")
    fields.update(email=world.user_email, password=password or world.user_password)
    return await http.post("/oauth/authorize/sign-in", data=fields)


async def consent_page(http: httpx.AsyncClient, world: World, **query: str) -> httpx.Response:
    signed_in = await sign_in(http, world, **query)
    assert signed_in.status_code == 303, signed_in.text
    page = await http.get(signed_in.headers["location"])
    assert page.status_code == 200
    return page


async def test_whole_flow_lands_on_the_redirect_uri_with_code_and_state(
    http: httpx.AsyncClient, world: World
) -> None:
    page = await consent_page(http, world)
    fields = form(page, "/oauth/authorize/consent")
    fields["decision"] = "approve"
    answer = await http.post("/oauth/authorize/consent", data=fields)

    assert answer.status_code == 303
    location = answer.headers["location"]
    assert location.startswith(REDIRECT_URI + "?")
    query = query_of(location)
    assert query["state"] == [STATE]
    exchanged = await http.post("/oauth/tokens", json=exchange_body(world, query["code"][0]))
    assert exchanged.status_code == 201, exchanged.text
    assert exchanged.json()["data"]["details"]["scope"] == "legal_entity:read employee:read"


async def test_consent_page_names_the_client_and_the_scopes_in_words(
    http: httpx.AsyncClient, world: World
) -> None:
    page = await consent_page(http, world, lang="en")
    assert "Clinic a" in page.text
    assert "View your organization&#39;s details" in page.text
    assert "View employee records" in page.text
    assert "mis.example.org" in page.text


async def test_deny_goes_back_with_access_denied_and_state(
    http: httpx.AsyncClient, world: World
) -> None:
    page = await consent_page(http, world)
    fields = form(page, "/oauth/authorize/consent")
    fields["decision"] = "deny"
    answer = await http.post("/oauth/authorize/consent", data=fields)
    assert answer.status_code == 303
    assert query_of(answer.headers["location"]) == {"error": ["access_denied"], "state": [STATE]}


async def test_pkce_through_the_pages(http: httpx.AsyncClient, world: World) -> None:
    verifier = "v" * 43
    from ehealth_auth.protocol.pkce import s256

    page = await consent_page(
        http, world, code_challenge=s256(verifier), code_challenge_method="S256"
    )
    fields = form(page, "/oauth/authorize/consent")
    fields["decision"] = "approve"
    code = query_of((await http.post("/oauth/authorize/consent", data=fields)).headers["location"])
    body = exchange_body(world, code["code"][0])
    assert (await http.post("/oauth/tokens", json=body)).status_code == 401
    body["token"]["code_verifier"] = verifier
    assert (await http.post("/oauth/tokens", json=body)).status_code == 201


@pytest.mark.parametrize(
    ("overrides", "text"),
    [
        ({"client_id": "00000000-0000-0000-0000-000000000000"}, "The application is unknown."),
        ({"client_id": "not-a-uuid"}, "The application is unknown."),
        ({"redirect_uri": "https://evil.example.org/cb"}, "The return address does not match"),
        ({"redirect_uri": ""}, "The return address does not match"),
    ],
)
async def test_invalid_client_or_redirect_uri_gets_an_error_page_not_a_redirect(
    http: httpx.AsyncClient, world: World, overrides: dict[str, str], text: str
) -> None:
    response = await http.get(authorize_url(world, lang="en", **overrides))
    assert response.status_code == 400
    assert "location" not in response.headers
    assert text in response.text


async def test_blocked_client_gets_an_error_page(
    http: httpx.AsyncClient, world: World, services: Services
) -> None:
    await services.admin.set_client_blocked(world.client_id, True)
    response = await http.get(authorize_url(world, lang="en"))
    assert response.status_code == 400
    assert "This application is blocked." in response.text


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"scope": "legal_entity:read forbidden:scope"}, "invalid_scope"),
        ({"scope": ""}, "invalid_scope"),
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"code_challenge": "x" * 43, "code_challenge_method": "plain"}, "invalid_request"),
    ],
)
async def test_other_bad_requests_go_back_to_the_client_with_an_error(
    http: httpx.AsyncClient, world: World, overrides: dict[str, str], error: str
) -> None:
    response = await http.get(authorize_url(world, **overrides))
    assert response.status_code == 303
    assert response.headers["location"].startswith(REDIRECT_URI + "?")
    assert query_of(response.headers["location"]) == {"error": [error], "state": [STATE]}


async def test_wrong_password_shows_the_form_again_with_a_message(
    http: httpx.AsyncClient, world: World
) -> None:
    response = await sign_in(http, world, password="wrong-password", lang="en")
    assert response.status_code == 401
    assert "The email or password is wrong." in response.text
    assert world.user_email in response.text  # the email is kept, the password never
    assert "wrong-password" not in response.text
    assert "set-cookie" not in response.headers


@pytest.mark.parametrize("setting_overrides", [{"login_max_failures": 1}])
async def test_locked_account_sees_when_to_try_again(
    http: httpx.AsyncClient, world: World, clock: FakeClock
) -> None:
    clock.set(clock.now() - clock.now() % 900 + 900 - 600)  # 10 minutes before it ends
    await sign_in(http, world, password="wrong-password")
    response = await sign_in(http, world, lang="en")
    assert response.status_code == 429
    assert response.headers["retry-after"] == "600"
    assert "Try again in 10 min." in response.text


async def test_forms_without_the_sessions_csrf_token_are_refused(
    http: httpx.AsyncClient, world: World
) -> None:
    page = await http.get(authorize_url(world))
    fields = form(page, "/oauth/authorize/sign-in")
    fields.update(email=world.user_email, password=world.user_password)
    for csrf in ("", "forged-token"):
        response = await http.post("/oauth/authorize/sign-in", data={**fields, "csrf_token": csrf})
        assert response.status_code == 403
        assert "set-cookie" not in response.headers
    http.cookies.clear()
    response = await http.post("/oauth/authorize/sign-in", data=fields)
    assert response.status_code == 403


async def test_consent_needs_the_sessions_csrf_token(http: httpx.AsyncClient, world: World) -> None:
    page = await consent_page(http, world)
    fields = form(page, "/oauth/authorize/consent")
    response = await http.post(
        "/oauth/authorize/consent", data={**fields, "decision": "approve", "csrf_token": "x"}
    )
    assert response.status_code == 403
    assert "location" not in response.headers


async def test_sign_out_returns_to_the_sign_in_form(http: httpx.AsyncClient, world: World) -> None:
    page = await consent_page(http, world)
    response = await http.post(
        "/oauth/authorize/sign-out", data=form(page, "/oauth/authorize/sign-out")
    )
    assert response.status_code == 303
    again = await http.get(response.headers["location"])
    assert form(again, "/oauth/authorize/sign-in")


async def test_session_cookie_is_http_only_and_same_site_lax(
    http: httpx.AsyncClient, world: World
) -> None:
    cookie = (await http.get(authorize_url(world))).headers["set-cookie"].lower()
    assert "httponly" in cookie
    assert "samesite=lax" in cookie
    assert "path=/oauth/" in cookie
    assert "secure" not in cookie


async def test_session_cookie_is_secure_over_https(
    settings: Settings, services: Services, world: World
) -> None:
    transport = httpx.ASGITransport(app=build_app(settings, services))
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as client:
        page = await client.get(authorize_url(world))
        assert "secure" in page.headers["set-cookie"].lower()
        fields = form(page, "/oauth/authorize/sign-in")
        fields.update(email=world.user_email, password=world.user_password)
        signed_in = await client.post("/oauth/authorize/sign-in", data=fields)
        assert signed_in.status_code == 303
        assert "secure" in signed_in.headers["set-cookie"].lower()


async def test_pages_forbid_framing_caching_and_scripts(
    http: httpx.AsyncClient, world: World
) -> None:
    page = await http.get(authorize_url(world))
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["cache-control"] == "no-store"
    policy = page.headers["content-security-policy"]
    assert "default-src 'none'" in policy
    assert "frame-ancestors 'none'" in policy
    assert "<script" not in page.text


@pytest.mark.parametrize(
    ("headers", "query", "expected"),
    [
        ({}, {}, "uk"),
        ({"Accept-Language": "en-US,en;q=0.9"}, {}, "en"),
        ({"Accept-Language": "de, uk;q=0.5, en;q=0.8"}, {}, "en"),
        ({"Accept-Language": "uk-UA"}, {}, "uk"),
        ({"Accept-Language": "en;q=zero, uk;q=0.1"}, {}, "uk"),
        ({"Accept-Language": "en"}, {"lang": "uk"}, "uk"),
        ({"Accept-Language": "uk"}, {"lang": "en"}, "en"),
    ],
)
async def test_language_from_the_switch_then_accept_language(
    http: httpx.AsyncClient,
    world: World,
    headers: dict[str, str],
    query: dict[str, str],
    expected: str,
) -> None:
    page = await http.get(authorize_url(world, **query), headers=headers)
    assert f'<html lang="{expected}">' in page.text
    words = {"uk": "Увійти", "en": "Sign in"}
    assert f">{words[expected]}</button>" in page.text


async def test_language_switch_links_keep_the_request(
    http: httpx.AsyncClient, world: World
) -> None:
    page = await http.get(authorize_url(world))
    assert 'hreflang="en"' in page.text
    switch = page.text.split('hreflang="en"')[0].rsplit('href="', 1)[1].split('"')[0]
    english = await http.get(switch.replace("&amp;", "&"))
    assert '<html lang="en">' in english.text
    assert form(english, "/oauth/authorize/sign-in")["state"] == STATE


async def test_inputs_are_labelled_and_the_page_fits_a_phone(
    http: httpx.AsyncClient, world: World
) -> None:
    page = (await http.get(authorize_url(world))).text
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page
    for field in ("email", "password"):
        assert f'<label for="{field}">' in page
        assert f'id="{field}"' in page


async def test_pages_never_show_or_log_secrets(
    http: httpx.AsyncClient, world: World, caplog: pytest.LogCaptureFixture
) -> None:
    page = await consent_page(http, world)
    fields: dict[str, Any] = form(page, "/oauth/authorize/consent")
    fields["decision"] = "approve"
    answer = await http.post("/oauth/authorize/consent", data=fields)
    code = query_of(answer.headers["location"])["code"][0]
    logged = caplog.text
    for secret in (world.user_password, code, fields["csrf_token"]):
        assert secret not in logged


def test_unknown_scopes_are_described_from_their_parts() -> None:
    from ehealth_auth.web.pages.i18n import describe_scope

    assert describe_scope("medication_request:write", "en") == "Change: medication request"
    assert describe_scope("medication_request:write", "uk") == "Змінювати: medication request"
    assert describe_scope("reports:export", "en") == "reports"
