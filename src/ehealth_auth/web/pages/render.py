"""Rendering the pages: Jinja2 with autoescaping, and the headers every page carries."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse

from ehealth_auth.web.envelope import request_id
from ehealth_auth.web.pages.i18n import Lang, text

_TEMPLATES = Path(__file__).parent / "templates"


def page_headers(nonce: str) -> dict[str, str]:
    """No framing, no caching, no referrer, and no script at all: the pages need none."""
    return {
        "Content-Security-Policy": (
            f"default-src 'none'; style-src 'nonce-{nonce}'; base-uri 'none'; "
            "frame-ancestors 'none'"
        ),
        "X-Frame-Options": "DENY",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-store",
        "Pragma": "no-cache",
    }


class PageRenderer:
    def __init__(self) -> None:
        self._env = Environment(
            loader=FileSystemLoader(_TEMPLATES),
            autoescape=select_autoescape(default=True, default_for_string=True),
            trim_blocks=True,
            lstrip_blocks=True,
        )

    def render(
        self,
        request: Request,
        template: str,
        *,
        lang: Lang,
        context: Mapping[str, Any],
        status: int = 200,
        headers: Mapping[str, str] | None = None,
    ) -> HTMLResponse:
        nonce = secrets.token_urlsafe(16)

        def translate(key: str, **values: str) -> str:
            return text(key, lang, **values)

        html = self._env.get_template(template).render(
            lang=lang, nonce=nonce, t=translate, **context
        )
        response = HTMLResponse(html, status, {**page_headers(nonce), **(headers or {})})
        response.headers["X-Request-ID"] = request_id(request)
        return response
