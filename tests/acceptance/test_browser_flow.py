"""The whole authorization-code flow in headless Chromium against the real server process.

An MIS sends the user to the authorize URL; the user signs in and approves; the browser lands
on the MIS's redirect URI with `code` and the same `state`; the MIS exchanges the code over
HTTP and refreshes with the refresh token it got. Set EHEALTH_AUTH_SCREENSHOT_DIR to keep the
screenshots (docs/api.md's come from here); otherwise they go to the test's temporary folder.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest
from playwright.sync_api import Page, sync_playwright

from tests.conftest import BACKENDS, new_database_url
from tests.flow_support import query_of
from tests.servers import clean_env, cli_json, free_port, run_cli, start_server, stop
from tests.support import TEST_SECRET_KEY

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCOPE = "app:authorize legal_entity:read employee:read"
STATE = "mis-state-7f3a"
PASSWORD = "correct horse battery"


class _MisCallback(BaseHTTPRequestHandler):
    """The MIS's redirect URI: a page the browser can land on."""

    def do_GET(self) -> None:
        body = b"<!doctype html><title>MIS</title><h1>MIS received the authorization</h1>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        return  # the query holds the code: keep it out of the test output


@dataclass(frozen=True)
class Deployment:
    base_url: str
    redirect_uri: str
    client_id: str
    client_secret: str
    email: str


@pytest.fixture
def mis_callback() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _MisCallback)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/callback"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(params=BACKENDS)
def deployment(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    pg_database_factory: list[str],
    mis_callback: str,
) -> Iterator[Deployment]:
    """The real server process with one client type, one MIS client and one user: no approval
    yet, the flow creates it."""
    url = new_database_url(request.param, tmp_path, pg_database_factory)
    env = clean_env(
        EHEALTH_AUTH_DATABASE_URL=url,
        EHEALTH_AUTH_SECRET_KEY=TEST_SECRET_KEY,
        EHEALTH_AUTH_LOG_LEVEL="WARNING",
    )
    assert run_cli(["migrate"], tmp_path, env).returncode == 0
    cli_json(["client-types", "create", "--name", "MIS", "--scope", SCOPE], tmp_path, env)
    client = cli_json(
        [
            "clients",
            "create",
            "--name",
            "Amosov Clinic MIS",
            "--client-type",
            "MIS",
            "--redirect-uri",
            mis_callback,
        ],
        tmp_path,
        env,
    )
    email = "olena.doctor@example.org"
    cli_json(["users", "create", "--email", email, "--password", PASSWORD], tmp_path, env)
    port = free_port()
    server = start_server(tmp_path, env, port, tmp_path / "server.log")
    try:
        yield Deployment(
            base_url=f"http://127.0.0.1:{port}",
            redirect_uri=mis_callback,
            client_id=client["id"],
            client_secret=client["connection"]["secret"],
            email=email,
        )
    finally:
        stop(server)
    log = (tmp_path / "server.log").read_text()
    assert PASSWORD not in log
    assert client["connection"]["secret"] not in log


def _screenshot(page: Page, name: str, fallback: Path) -> None:
    folder = Path(os.environ.get("EHEALTH_AUTH_SCREENSHOT_DIR") or fallback)
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / name), full_page=True)


def _authorize_in_browser(deployment: Deployment, shots: Path) -> str:
    """Sign in and approve in Chromium; the URL the browser lands on."""
    query = urlencode(
        {
            "client_id": deployment.client_id,
            "redirect_uri": deployment.redirect_uri,
            "scope": "legal_entity:read employee:read",
            "state": STATE,
        }
    )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            # A phone-sized viewport: the pages must be usable on one.
            context = browser.new_context(
                viewport={"width": 390, "height": 780}, device_scale_factor=2, locale="en-US"
            )
            page = context.new_page()
            page.goto(f"{deployment.base_url}/oauth/authorize?{query}")
            page.get_by_label("Email").fill(deployment.email)
            page.get_by_label("Password").fill(PASSWORD)
            _screenshot(page, "sign-in.png", shots)
            page.get_by_role("button", name="Sign in").click()
            page.get_by_role("heading", name="Grant access").wait_for()
            assert "Amosov Clinic MIS" in page.content()
            assert "View employee records" in page.content()
            _screenshot(page, "consent.png", shots)
            page.get_by_role("link", name="Українська").click()
            page.get_by_role("heading", name="Надати доступ").wait_for()
            _screenshot(page, "consent-uk.png", shots)
            page.get_by_role("button", name="Дозволити").click()
            page.wait_for_url(f"{deployment.redirect_uri}?**")
            page.get_by_role("heading", name="MIS received the authorization").wait_for()
            landed = page.url
            context.close()
        finally:
            browser.close()
    return landed


def test_browser_signs_in_approves_and_the_mis_exchanges_and_refreshes(
    deployment: Deployment, tmp_path: Path
) -> None:
    landed = _authorize_in_browser(deployment, tmp_path / "screenshots")

    query = query_of(landed)
    assert landed.startswith(deployment.redirect_uri + "?")
    assert query["state"] == [STATE]
    [code] = query["code"]
    credentials = {"client_id": deployment.client_id, "client_secret": deployment.client_secret}
    with httpx.Client(base_url=deployment.base_url) as mis:
        exchanged = mis.post(
            "/oauth/tokens",
            json={
                "token": {
                    "grant_type": "authorization_code",
                    "code": code,
                    "redirect_uri": deployment.redirect_uri,
                    **credentials,
                }
            },
        )
        assert exchanged.status_code == 201, exchanged.text
        details = exchanged.json()["data"]["details"]
        assert details["scope"] == "legal_entity:read employee:read"
        refreshed = mis.post(
            "/oauth/tokens",
            json={
                "token": {
                    "grant_type": "refresh_token",
                    "refresh_token": details["refresh_token"],
                    **credentials,
                }
            },
        )
        assert refreshed.status_code == 201, refreshed.text
        assert refreshed.json()["data"]["name"] == "access_token"
