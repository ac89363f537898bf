"""The OpenAPI 3.1 document, built from the route declarations, and the routes that serve it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from ehealth_auth import __version__
from ehealth_auth.protocol.errors import NotFoundError
from ehealth_auth.web import schemas as s
from ehealth_auth.web.docs_page import ASSETS, CONTENT_SECURITY_POLICY, asset, render_docs
from ehealth_auth.web.operations import REQUEST_ID, Answer, Header, Operation, Param

_ERRORS = {
    400: "Request body is not JSON, not an object, or lacks the object it must wrap "
    "(`request_malformed`).",
    401: "Not authenticated: for /admin routes a missing or unknown admin key (`access_denied`); "
    "for the others, the error the route documents.",
    403: "Authenticated, but the token's scope, or the key's role, does not allow this "
    "(`forbidden`): a gateway key may only verify tokens.",
    404: "No such resource (`not_found`).",
    408: "The request body did not arrive in time (`request_timeout`); the connection is closed.",
    409: "Conflicts with an existing resource (`conflict`).",
    413: "Request body over the size limit (`request_too_large`).",
    415: "Content type other than application/json (`content_type_invalid`).",
    422: "Validation failed (`validation_failed`); `invalid` lists each bad field.",
    429: "Too many failed attempts (`too_many_requests`); Retry-After tells when to try again.",
    503: "The service cannot serve now: the database cannot be reached, or no room to hash a "
    "password (`service_unavailable`); Retry-After tells when to try again.",
}
_RETRY_AFTER = Header(
    "Retry-After",
    "Seconds until the next attempt is allowed.",
    required=True,
    schema={"type": "integer", "minimum": 1},
)
_WWW_AUTHENTICATE = Header(
    "WWW-Authenticate",
    "On /admin routes, and when a route's bearer token is missing: `Bearer realm=...`.",
)
_CONNECTION_CLOSE = Header(
    "Connection", "`close`: the connection ends with this answer.", required=True
)
_ERROR_HEADERS: dict[int, tuple[Header, ...]] = {
    401: (_WWW_AUTHENTICATE,),
    408: (_CONNECTION_CLOSE,),
    429: (_RETRY_AFTER,),
    503: (_RETRY_AFTER,),
}


def _fault_statuses(op: Operation) -> tuple[int, ...]:
    """Answers any operation may give whatever its input: a late body (408) and, for all but
    the documentation, a database that cannot be reached (503)."""
    late = (408,) if op.body is not None else ()
    return late if op.tag == "docs" else (*late, 503)


_DESCRIPTION = (
    "The eHealth OAuth 2.0 token service. Every JSON answer is an envelope: `{meta, data}` on "
    "success (lists add `paging`), `{meta, error}` on failure. /admin routes take "
    "`Authorization: Bearer <admin key>`; the verify route also takes a gateway key. The "
    "authorization-code flow: `POST /auth/login` gives a user's login token, with which "
    "`POST /oauth/apps/authorize` (or the browser pages under "
    "`/oauth/authorize`) gives the client a code, which the client exchanges at `POST "
    "/oauth/tokens`."
)

_TAGS = [
    {
        "name": "oauth",
        "description": "The token endpoint MIS call (eHealth JSON or standard OAuth 2.0 form), "
        "and the standard metadata, revocation and introspection endpoints.",
    },
    {"name": "login", "description": "Users' login and approval of clients over the API."},
    {
        "name": "authorize pages",
        "description": "The browser pages of the authorization-code flow: HTML and form posts.",
    },
    {"name": "tokens", "description": "Verify (the gateway's call), list and revoke tokens."},
    {"name": "client types", "description": "Client types and their scope ceilings."},
    {"name": "clients", "description": "OAuth clients (MSPs) and their connections."},
    {"name": "users", "description": "Users and their logout."},
    {"name": "approvals", "description": "Users' approvals of clients."},
    {"name": "operations", "description": "Health probes and metrics for operators."},
    {"name": "docs", "description": "This documentation."},
]


class _Components:
    """Moves every titled schema into components/schemas, leaving a $ref in its place."""

    def __init__(self) -> None:
        self.schemas: dict[str, Any] = {}

    def hoist(self, schema: Any) -> Any:
        if isinstance(schema, list):
            return [self.hoist(item) for item in schema]
        if not isinstance(schema, dict):
            return schema
        body = {key: self.hoist(value) for key, value in schema.items()}
        title = schema.get("title")
        if not isinstance(title, str):
            return body
        known = self.schemas.setdefault(title, body)
        if known != body:
            raise ValueError(f"two different schemas are titled {title!r}")
        return {"$ref": f"#/components/schemas/{title}"}


def _header(header: Header) -> dict[str, Any]:
    if header == REQUEST_ID:
        return {"$ref": "#/components/headers/X-Request-ID"}
    return {
        "description": header.description,
        "required": header.required,
        "schema": header.schema,
    }


def _answer(answer: Answer, components: _Components) -> dict[str, Any]:
    item: dict[str, Any] = {"description": answer.description}
    if answer.headers:
        item["headers"] = {header.name: _header(header) for header in answer.headers}
    if answer.media_type is not None:
        schema = {} if answer.schema is None else components.hoist(answer.schema)
        types = (answer.media_type,) if isinstance(answer.media_type, str) else answer.media_type
        item["content"] = {media_type: {"schema": schema} for media_type in types}
    return item


def _success(op: Operation) -> Answer:
    headers = op.headers
    if (
        op.media_type == "application/json"
        and op.response is not None
        and op.response.get("properties", {}).get("meta")
    ):
        headers = (REQUEST_ID, *headers)
    return Answer(
        op.status,
        op.summary,
        None if op.response is None else op.media_type,
        op.response,
        headers,
    )


def _operation(op: Operation, components: _Components) -> dict[str, Any]:
    responses = {
        str(answer.status): _answer(answer, components) for answer in (_success(op), *op.answers)
    }
    faults = (status for status in _fault_statuses(op) if status not in op.error_statuses)
    for status in (*op.error_statuses, *faults):
        if str(status) in responses:
            raise ValueError(f"{op.operation_id} documents {status} twice")
        responses[str(status)] = {"$ref": f"#/components/responses/Error{status}"}
    item: dict[str, Any] = {
        "operationId": op.operation_id,
        "summary": op.summary,
        "tags": [op.tag],
        "security": [{"adminKey": []}] if op.admin else [],
        "responses": dict(sorted(responses.items())),
    }
    if op.description:
        item["description"] = op.description
    if op.params:
        item["parameters"] = [
            {
                "name": param.name,
                "in": param.location,
                "required": param.required,
                "description": param.description,
                "schema": param.schema,
            }
            for param in op.params
        ]
    if op.body is not None:
        item["requestBody"] = {
            "required": True,
            "content": {
                media_type: {"schema": components.hoist(schema)}
                for media_type, schema in ((op.body_media_type, op.body), *op.other_bodies)
            },
        }
    return item


def build_document(operations: Sequence[Operation]) -> dict[str, Any]:
    components = _Components()
    paths: dict[str, dict[str, Any]] = {}
    for op in operations:
        paths.setdefault(op.path, {})[op.method.lower()] = _operation(op, components)
    error_ref = components.hoist(s.ERROR_RESPONSE)
    responses = {
        f"Error{status}": {
            "description": description,
            "content": {"application/json": {"schema": error_ref}},
            "headers": {
                header.name: _header(header)
                for header in (REQUEST_ID, *_ERROR_HEADERS.get(status, ()))
            },
        }
        for status, description in _ERRORS.items()
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "ehealth-auth", "version": __version__, "description": _DESCRIPTION},
        "tags": _TAGS,
        "paths": paths,
        "components": {
            "schemas": dict(sorted(components.schemas.items())),
            "responses": responses,
            "headers": {
                "X-Request-ID": {
                    "description": "The request id, also in meta.request_id and every log line.",
                    "schema": {"type": "string"},
                }
            },
            "securitySchemes": {
                "adminKey": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A key of EHEALTH_AUTH_ADMIN_KEYS.",
                }
            },
        },
    }


class DocsRoutes:
    """/openapi.json, rendered once from the declarations of every route, and /docs, Swagger UI
    over it with assets the service serves itself."""

    def __init__(self) -> None:
        self._json = b"{}"

    def publish(self, operations: Sequence[Operation]) -> None:
        self._json = orjson.dumps(build_document(operations))

    async def openapi(self, _request: Request) -> Response:
        return Response(self._json, media_type="application/json")

    async def docs(self, _request: Request) -> Response:
        return HTMLResponse(
            render_docs("ehealth-auth", __version__),
            headers={"Content-Security-Policy": CONTENT_SECURITY_POLICY},
        )

    async def docs_asset(self, request: Request) -> Response:
        name = request.path_params["name"]
        if name not in ASSETS:
            raise NotFoundError()
        return Response(
            asset(name),
            media_type=ASSETS[name],
            headers={"Cache-Control": "public, max-age=86400"},
        )

    def operations(self) -> list[Operation]:
        return [
            Operation(
                "GET",
                "/openapi.json",
                self.openapi,
                "getOpenApi",
                "This OpenAPI 3.1 document",
                "docs",
                200,
                {"type": "object", "description": "An OpenAPI 3.1 document."},
                admin=False,
            ),
            Operation(
                "GET",
                "/docs",
                self.docs,
                "getDocs",
                "The API documentation as a web page",
                "docs",
                200,
                {"type": "string"},
                admin=False,
                media_type="text/html",
                description="Swagger UI over /openapi.json; every asset comes from this service.",
            ),
            Operation(
                "GET",
                "/docs/assets/{name}",
                self.docs_asset,
                "getDocsAsset",
                "A file of the documentation page (Swagger UI's script and style)",
                "docs",
                200,
                {"type": "string"},
                (404,),
                (
                    Param(
                        "name",
                        "path",
                        "The file's name.",
                        {"type": "string", "enum": sorted(ASSETS)},
                    ),
                ),
                admin=False,
                media_type=tuple(sorted({kind.split(";")[0] for kind in ASSETS.values()})),
            ),
        ]
