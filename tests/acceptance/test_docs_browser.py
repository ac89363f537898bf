"""/docs in headless Chromium against the real server, with every request to another host
blocked: Swagger UI renders every documented operation from the service's own assets."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
from playwright.sync_api import Route, sync_playwright

from tests.acceptance.test_browser_flow import CHROMIUM, CHROMIUM_ARGS
from tests.servers import clean_env, free_port, start_server, stop
from tests.support import TEST_SECRET_KEY


def test_docs_render_every_operation_offline(tmp_path: Path) -> None:
    env = clean_env(
        EHEALTH_AUTH_DATABASE_URL=f"sqlite:///{tmp_path / 'docs.db'}",
        EHEALTH_AUTH_SECRET_KEY=TEST_SECRET_KEY,
    )
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = start_server(tmp_path, env, port, tmp_path / "server.log")
    elsewhere: list[str] = []

    def only_this_server(route: Route) -> None:
        if route.request.url.startswith(base + "/"):
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort()

    try:
        document = httpx.get(f"{base}/openapi.json").json()
        operations = {
            op["operationId"] for item in document["paths"].values() for op in item.values()
        }
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                page = browser.new_page(viewport={"width": 1280, "height": 900})
                page.route("**/*", only_this_server)
                errors: list[str] = []
                page.on("pageerror", lambda error: errors.append(str(error)))
                page.goto(f"{base}/docs")
                page.wait_for_selector(".opblock", timeout=20_000)
                shown = page.locator(".opblock").count()
                title = page.locator(".info .title").inner_text()
                screenshots = os.environ.get("EHEALTH_AUTH_SCREENSHOT_DIR")
                page.screenshot(path=str(Path(screenshots or tmp_path) / "docs.png"))
            finally:
                browser.close()
    finally:
        stop(server)

    assert elsewhere == []
    assert errors == []
    assert shown == len(operations)
    assert "ehealth-auth" in title
