"""/docs: the OpenAPI document as one self-contained HTML page (no script, no external asset)."""

from __future__ import annotations

from html import escape
from typing import Any

import orjson

_STYLE = """
body{font:15px/1.45 system-ui,sans-serif;margin:2em auto;max-width:64em;padding:0 1em;color:#222}
h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:2em}
.op{border:1px solid #ddd;border-radius:6px;padding:.6em 1em;margin:1em 0}
.m{font:bold 13px monospace;padding:.15em .5em;border-radius:4px;color:#fff;background:#555}
.GET{background:#2b6cb0}.POST{background:#2f855a}.PATCH{background:#b7791f}
.DELETE{background:#c53030}
code,pre{font-family:ui-monospace,monospace;font-size:13px}
pre{background:#f6f6f6;padding:.6em;overflow:auto}
table{border-collapse:collapse}td,th{padding:.2em .8em .2em 0;text-align:left;vertical-align:top}
"""


def _schema_html(schema: Any) -> str:
    if isinstance(schema, dict) and "$ref" in schema:
        name = str(schema["$ref"]).rsplit("/", 1)[-1]
        return f'<a href="#schema-{escape(name)}"><code>{escape(name)}</code></a>'
    return f"<pre>{escape(orjson.dumps(schema, option=orjson.OPT_INDENT_2).decode())}</pre>"


def _operation_html(method: str, path: str, op: dict[str, Any]) -> str:
    verb = method.upper()
    parts = [
        f'<div class="op" id="{escape(op["operationId"])}">',
        f'<p><span class="m {verb}">{verb}</span> <code>{escape(path)}</code> '
        f"— {escape(op['summary'])}"
        + (" <em>(admin key)</em>" if op.get("security") else "")
        + "</p>",
    ]
    if "description" in op:
        parts.append(f"<p>{escape(op['description'])}</p>")
    if op.get("parameters"):
        rows = "".join(
            f"<tr><td><code>{escape(p['name'])}</code></td><td>{escape(p['in'])}</td>"
            f"<td>{escape(p['description'])}</td></tr>"
            for p in op["parameters"]
        )
        parts.append(f"<table><tr><th>parameter</th><th>in</th><th></th></tr>{rows}</table>")
    if "requestBody" in op:
        media_type, content = next(iter(op["requestBody"]["content"].items()))
        parts.append(
            f"<p>Request body ({escape(media_type)}):</p>{_schema_html(content['schema'])}"
        )
    for status, response in op["responses"].items():
        if "$ref" in response:
            parts.append(f"<p><b>{escape(status)}</b> <code>ErrorResponse</code></p>")
            continue
        headers = [name for name in response.get("headers", {}) if name != "X-Request-ID"]
        head = f"<p><b>{escape(status)}</b> {escape(response['description'])}"
        if headers:
            head += " — headers: " + ", ".join(f"<code>{escape(name)}</code>" for name in headers)
        if "content" not in response:
            parts.append(head + "</p>")
            continue
        media_type, content = next(iter(response["content"].items()))
        parts.append(f"{head} ({escape(media_type)})</p>" + _schema_html(content["schema"]))
    parts.append("</div>")
    return "".join(parts)


def render_docs(document: dict[str, Any]) -> str:
    info = document["info"]
    by_tag: dict[str, list[str]] = {tag["name"]: [] for tag in document["tags"]}
    for path, item in document["paths"].items():
        for method, op in item.items():
            by_tag.setdefault(op["tags"][0], []).append(_operation_html(method, path, op))
    sections = [
        f"<h2>{escape(tag['name'])}</h2><p>{escape(tag['description'])}</p>"
        + "".join(by_tag[tag["name"]])
        for tag in document["tags"]
        if by_tag.get(tag["name"])
    ]
    schemas = "".join(
        f'<h3 id="schema-{escape(name)}">{escape(name)}</h3>{_schema_html(schema)}'
        for name, schema in document["components"]["schemas"].items()
    )
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(info['title'])} API</title><style>{_STYLE}</style></head><body>"
        f"<h1>{escape(info['title'])} {escape(info['version'])}</h1>"
        f"<p>{escape(info['description'])}</p>"
        '<p>Machine-readable: <a href="/openapi.json">/openapi.json</a> (OpenAPI 3.1).</p>'
        + "".join(sections)
        + f"<h2>Schemas</h2>{schemas}</body></html>"
    )
