"""/openapi.json documents every route the app serves, and /docs shows it without any asset
from elsewhere."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from starlette.routing import Route

from ehealth_auth.settings import Settings
from ehealth_auth.wiring import Services, build_app
from tests.admin_support import OpenApi, SchemaMismatch

PAGES = "/oauth/authorize"
FORM = "application/x-www-form-urlencoded"
# The standard OAuth 2.0 endpoints take forms; the token endpoint takes JSON or a form.
FORM_ENDPOINTS = {"/oauth/revoke", "/oauth/introspect"}


async def document(http: httpx.AsyncClient) -> dict[str, Any]:
    response = await http.get("/openapi.json")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    data: dict[str, Any] = response.json()
    return data


async def test_every_served_route_is_documented_and_nothing_else(
    http: httpx.AsyncClient, settings: Settings, services: Services
) -> None:
    spec = await document(http)
    app = build_app(settings, services)
    served = {
        (method.lower(), route.path)
        for route in app.routes
        if isinstance(route, Route)
        for method in route.methods or ()
        if method != "HEAD"
    }
    documented = {(method, path) for path, item in spec["paths"].items() for method in item}
    assert len(served) == len(app.routes) + 3  # three paths serve two methods each
    assert served == documented
    assert ("get", "/admin/tokens/{value}/verify") in served
    assert ("post", "/oauth/tokens") in served


async def test_document_is_openapi_3_1_with_resolvable_schemas(http: httpx.AsyncClient) -> None:
    spec = await document(http)

    assert spec["openapi"] == "3.1.0"
    assert spec["components"]["securitySchemes"]["adminKey"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "A key of EHEALTH_AUTH_ADMIN_KEYS.",
    }
    refs = set(re.findall(r'"\$ref": ?"([^"]+)"', str(spec).replace("'", '"')))
    assert refs
    checker = OpenApi(spec)
    for ref in refs:
        assert checker.resolve({"$ref": ref}), ref
    operation_ids = [op["operationId"] for item in spec["paths"].values() for op in item.values()]
    assert len(operation_ids) == len(set(operation_ids))
    # Besides /admin, the routes that authenticate a client, a user or a user's login token.
    unauthorized = {
        "/oauth/tokens",
        "/auth/login",
        "/oauth/apps/authorize",
        PAGES + "/sign-in",
        *FORM_ENDPOINTS,
    }
    for path, item in spec["paths"].items():
        for method, op in item.items():
            admin = path.startswith("/admin/") or path == "/metrics"
            assert op["security"] == ([{"adminKey": []}] if admin else []), (method, path)
            assert ("401" in op["responses"]) is (admin or path in unauthorized), path
            if method in ("post",):
                assert "requestBody" in op, path
            # The browser pages answer HTML or a 303 redirect, and read form posts.
            page = path == PAGES or path.startswith(PAGES + "/")
            for status, response in op["responses"].items():
                media_types = set(checker.resolve(response).get("content", {}))
                if status == "303":
                    assert page, (method, path)
                    assert not media_types, (method, path)
                    assert "Location" in response["headers"], (method, path)
                elif (path, status) == ("/oauth/revoke", "200"):
                    assert not media_types  # RFC 7009 §2.2: the answer is its status
                else:
                    assert media_types, (method, path, status)
                    # Faults (a late body, an unreachable database) are the JSON envelope
                    # everywhere, the pages included.
                    html = media_types == {"text/html"} or status in ("408", "503")
                    assert not page or html, (method, path, status)
            if (page and method == "post") or path in FORM_ENDPOINTS:
                assert set(op["requestBody"]["content"]) == {FORM}, path
            elif path == "/oauth/tokens":
                assert set(op["requestBody"]["content"]) == {"application/json", FORM}
            elif "requestBody" in op:
                assert set(op["requestBody"]["content"]) == {"application/json"}, path
            for param in re.findall(r"\{([^}]+)\}", path):
                assert any(p["name"] == param and p["in"] == "path" for p in op["parameters"])


async def test_documented_error_envelope_matches_a_real_error(http: httpx.AsyncClient) -> None:
    spec = OpenApi(await document(http))
    response = await http.post("/oauth/tokens", json={"token": {"client_id": 1}})
    assert response.status_code == 422
    spec.check_response(response)
    schema = spec.document["components"]["schemas"]["Token"]
    with pytest.raises(SchemaMismatch):
        spec.check(response.json()["error"], schema)
    with pytest.raises(SchemaMismatch):
        spec.check({**response.json(), "extra": 1}, {"$ref": "#/components/schemas/ErrorResponse"})


async def test_docs_page_is_swagger_ui_with_every_asset_served_here(
    http: httpx.AsyncClient,
) -> None:
    response = await http.get("/docs")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    page = response.text
    assets = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert "/docs/assets/swagger-ui-bundle.js" in assets
    assert not re.search(r'(src|href)="(https?:)?//', page)
    for path in assets:
        if path == "/openapi.json":
            continue
        served = await http.get(path)
        assert served.status_code == 200, path
        assert len(served.content) > 0, path
    initializer = (await http.get("/docs/assets/docs.js")).text
    assert 'url: "/openapi.json"' in initializer
    bundle = await http.get("/docs/assets/swagger-ui-bundle.js")
    assert bundle.headers["content-type"].startswith("text/javascript")
    assert b"SwaggerUIBundle" in bundle.content


@pytest.mark.parametrize("name", ["index.html", "..%2Fsettings.py", "swagger-ui.js.map"])
async def test_docs_serve_no_other_file(http: httpx.AsyncClient, name: str) -> None:
    response = await http.get(f"/docs/assets/{name}")
    assert response.status_code == 404
    assert response.json()["error"]["type"] == "not_found"
