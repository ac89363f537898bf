"""Helpers of the admin API tests: admin keys, a client that checks every answer against
/openapi.json, and a small JSON Schema checker for the subset of the dialect the document uses."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx

from ehealth_auth.settings import Settings
from ehealth_auth.wiring import Services, build_app

ADMIN_KEY = "admin-key-0123456789abcdef-0123456789-one"
SECOND_ADMIN_KEY = "admin-key-0123456789abcdef-0123456789-two"
AUTH = {"Authorization": f"Bearer {ADMIN_KEY}"}


def admin_overrides() -> dict[str, Any]:
    return {"admin_keys": (ADMIN_KEY, SECOND_ADMIN_KEY)}


class SchemaMismatch(AssertionError):
    pass


class OpenApi:
    """The served document: finds the operation of a request and checks its answer."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        self._templates = [
            (re.compile("^" + re.sub(r"\{[^/]+\}", "[^/]+", path) + "$"), path)
            for path in document["paths"]
        ]

    def template(self, path: str) -> str:
        # A literal path beats a templated one, as in the router (/admin/tokens vs {token_id}).
        matches = [template for pattern, template in self._templates if pattern.match(path)]
        assert matches, f"{path} is not documented"
        best: str = min(matches, key=lambda template: template.count("{"))
        return best

    def operation(self, method: str, path: str) -> dict[str, Any]:
        item = self.document["paths"][self.template(path)]
        assert method.lower() in item, f"{method} {path} is not documented"
        operation: dict[str, Any] = item[method.lower()]
        return operation

    def resolve(self, node: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in node:
            target: Any = self.document
            for part in node["$ref"].removeprefix("#/").split("/"):
                target = target[part]
            node = target
        return node

    def check_response(self, response: httpx.Response) -> None:
        request = response.request
        operation = self.operation(request.method, request.url.path)
        status = str(response.status_code)
        assert status in operation["responses"], (
            f"{request.method} {request.url.path} answered {status}, which is not documented"
        )
        spec = self.resolve(operation["responses"][status])
        for name, header in spec.get("headers", {}).items():
            if self.resolve(header).get("required"):
                assert name in response.headers, f"{status} lacks the {name} header"
        if "content" not in spec:  # e.g. a redirect
            assert not response.content, f"{status} has a body, which is not documented"
            return
        media_type = response.headers.get("content-type", "").split(";", 1)[0]
        assert media_type in spec["content"], f"{media_type} is not documented"
        if media_type == "application/json":
            self.check(response.json(), spec["content"][media_type]["schema"])

    def check(self, value: Any, schema: dict[str, Any], where: str = "$") -> None:
        schema = self.resolve(schema)
        if "oneOf" in schema:
            self._check_one_of(value, schema["oneOf"], where)
        types = schema.get("type")
        if types is not None:
            allowed = types if isinstance(types, list) else [types]
            if not any(_is_type(value, kind) for kind in allowed):
                raise SchemaMismatch(f"{where}: {value!r} is not of type {types}")
        if "const" in schema and value != schema["const"]:
            raise SchemaMismatch(f"{where}: {value!r} != {schema['const']!r}")
        if "enum" in schema and value not in schema["enum"]:
            raise SchemaMismatch(f"{where}: {value!r} not in {schema['enum']}")
        if schema.get("format") == "uuid" and isinstance(value, str):
            uuid.UUID(value)
        if isinstance(value, int) and not isinstance(value, bool):
            assert value >= schema.get("minimum", value), f"{where}: below minimum"
            assert value <= schema.get("maximum", value), f"{where}: above maximum"
        if isinstance(value, dict):
            self._check_object(value, schema, where)
        if isinstance(value, list) and "items" in schema:
            for index, item in enumerate(value):
                self.check(item, schema["items"], f"{where}[{index}]")

    def _check_one_of(self, value: Any, alternatives: list[dict[str, Any]], where: str) -> None:
        matched = 0
        for alternative in alternatives:
            try:
                self.check(value, alternative, where)
            except (SchemaMismatch, AssertionError, ValueError):
                continue
            matched += 1
        if matched != 1:
            raise SchemaMismatch(f"{where}: matches {matched} of the oneOf alternatives")

    def _check_object(self, value: dict[str, Any], schema: dict[str, Any], where: str) -> None:
        properties = schema.get("properties", {})
        for name in schema.get("required", []):
            if name not in value:
                raise SchemaMismatch(f"{where}: required {name!r} is missing")
        extra = schema.get("additionalProperties", True)
        for name, item in value.items():
            if name in properties:
                self.check(item, properties[name], f"{where}.{name}")
            elif extra is False:
                raise SchemaMismatch(f"{where}: {name!r} is not documented")
            elif isinstance(extra, dict):
                self.check(item, extra, f"{where}.{name}")


def _is_type(value: Any, kind: str) -> bool:
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    types: dict[str, type | tuple[type, ...]] = {
        "string": str,
        "boolean": bool,
        "object": dict,
        "array": list,
        "null": type(None),
        "number": (int, float),
    }
    return isinstance(value, types[kind])


@asynccontextmanager
async def checked_client(
    settings: Settings, services: Services, headers: dict[str, str] | None = None
) -> AsyncIterator[tuple[httpx.AsyncClient, list[httpx.Response]]]:
    """A client of the app whose every answer is checked against /openapi.json and recorded."""
    app = build_app(settings, services)
    answers: list[httpx.Response] = []
    spec: list[OpenApi] = []

    async def check(response: httpx.Response) -> None:
        await response.aread()
        if not spec:
            raise AssertionError("the document must be loaded first")
        spec[0].check_response(response)
        answers.append(response)

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://testserver", headers=headers or {}
    ) as client:
        spec.append(OpenApi((await client.get("/openapi.json")).json()))
        client.event_hooks["response"] = [check]
        yield client, answers
