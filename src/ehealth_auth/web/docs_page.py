"""/docs: Swagger UI over /openapi.json, its assets served by the service itself.

The assets come from the `swagger-ui-bundle-v2` package (Swagger UI's own distribution files),
so the page needs no CDN and works offline. They are read once, on first use, and kept in memory.
"""

from __future__ import annotations

from functools import cache
from importlib.resources.abc import Traversable

from swagger_ui_bundle import swagger_ui_path  # type: ignore[import-untyped]

# The files the page uses, and their media types; nothing else of the bundle is served.
ASSETS = {
    "swagger-ui.css": "text/css; charset=utf-8",
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "favicon-32x32.png": "image/png",
    "docs.js": "text/javascript; charset=utf-8",
}
ASSET_PATH = "/docs/assets/"

# Our initializer: the shipped one points at a public demo document.
_INITIALIZER = b"""window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({
    url: "/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
    defaultModelsExpandDepth: 0
  });
});
"""

# Swagger UI sets inline styles and shows inline (data:) images; scripts are ours only.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'"
)


def render_docs(title: str, version: str) -> str:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{title} {version} API</title>"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<link rel="stylesheet" href="{ASSET_PATH}swagger-ui.css">'
        f'<link rel="icon" type="image/png" href="{ASSET_PATH}favicon-32x32.png">'
        "</head><body>"
        "<noscript><p>The API reference needs JavaScript; the document itself is "
        '<a href="/openapi.json">/openapi.json</a> (OpenAPI 3.1).</p></noscript>'
        '<div id="swagger-ui"></div>'
        f'<script src="{ASSET_PATH}swagger-ui-bundle.js"></script>'
        f'<script src="{ASSET_PATH}docs.js"></script>'
        "</body></html>"
    )


@cache
def asset(name: str) -> bytes:
    """The bytes of one of ASSETS (KeyError for any other name)."""
    if name not in ASSETS:
        raise KeyError(name)
    if name == "docs.js":
        return _INITIALIZER
    source: Traversable = swagger_ui_path / name
    return source.read_bytes()
