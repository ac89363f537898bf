"""Admin API: client types, clients and their connections."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from starlette.requests import Request
from starlette.responses import Response

from ehealth_auth.protocol.admin import AdminService
from ehealth_auth.protocol.errors import CAST_UUID, REQUIRED, InvalidCollector
from ehealth_auth.protocol.validation import NAME_MAX_LENGTH, optional_uuid
from ehealth_auth.protocol.views import (
    client_type_view,
    client_view,
    connection_view,
    new_client_view,
    new_secret_view,
)
from ehealth_auth.web import schemas as s
from ehealth_auth.web.admin.http import list_query, ok, ok_page, path_uuid, read_text_fields
from ehealth_auth.web.body import read_json_object
from ehealth_auth.web.operations import PAGE_PARAMS, Operation, path_id

CLIENT_NOT_FOUND = "Client not found."
_BODY_ERRORS = (400, 409, 413, 415, 422)
_CONSUMER = "The MIS client that uses this connection (verify's urgent.mis_client_id)."


def _consumer_field(params: dict[str, Any]) -> UUID | None:
    """`consumer_id` must be given: a UUID string, or null to clear it."""
    path = "$.connection.consumer_id"
    if "consumer_id" not in params:
        collector = InvalidCollector()
        collector.add(path, REQUIRED)
        collector.raise_if_any()
    value = params["consumer_id"]
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        collector = InvalidCollector()
        collector.add(path, CAST_UUID)
        collector.raise_if_any()
    return optional_uuid(path, value)


class ClientRoutes:
    def __init__(self, admin: AdminService, max_body_bytes: int) -> None:
        self._admin = admin
        self._max_body_bytes = max_body_bytes

    async def create_client_type(self, request: Request) -> Response:
        fields = await read_text_fields(
            request, self._max_body_bytes, "client_type", ("name", "scope")
        )
        record = await self._admin.create_client_type(fields["name"], fields["scope"])
        return ok(request, client_type_view(record), 201)

    async def list_client_types(self, request: Request) -> Response:
        query = list_query(request)
        return ok_page(request, await self._admin.list_client_types(query.page), client_type_view)

    async def create_client(self, request: Request) -> Response:
        fields = await read_text_fields(
            request,
            self._max_body_bytes,
            "client",
            ("name", "client_type", "redirect_uri", "consumer_id"),
        )
        consumer_id = optional_uuid("$.client.consumer_id", fields["consumer_id"])
        new = await self._admin.create_client(
            fields["name"], fields["client_type"], fields["redirect_uri"], consumer_id
        )
        return ok(request, new_client_view(new), 201)

    async def list_clients(self, request: Request) -> Response:
        query = list_query(request)
        return ok_page(request, await self._admin.list_clients(query.page), client_view)

    async def get_client(self, request: Request) -> Response:
        client_id = path_uuid(request, "client_id", CLIENT_NOT_FOUND)
        return ok(request, client_view(await self._admin.get_client(client_id)))

    async def block_client(self, request: Request) -> Response:
        client_id = path_uuid(request, "client_id", CLIENT_NOT_FOUND)
        return ok(request, client_view(await self._admin.block_client(client_id)))

    async def unblock_client(self, request: Request) -> Response:
        client_id = path_uuid(request, "client_id", CLIENT_NOT_FOUND)
        return ok(request, client_view(await self._admin.unblock_client(client_id)))

    async def deactivate_tokens(self, request: Request) -> Response:
        client_id = path_uuid(request, "client_id", CLIENT_NOT_FOUND)
        count = await self._admin.deactivate_client_tokens(client_id)
        return ok(request, {"id": str(client_id), "revoked_tokens": count})

    async def rotate_secret(self, request: Request) -> Response:
        client_id = path_uuid(request, "client_id", "Connection not found.")
        connection_id = path_uuid(request, "connection_id", "Connection not found.")
        new = await self._admin.rotate_connection_secret(client_id, connection_id)
        return ok(request, new_secret_view(new))

    async def set_consumer(self, request: Request) -> Response:
        client_id = path_uuid(request, "client_id", "Connection not found.")
        connection_id = path_uuid(request, "connection_id", "Connection not found.")
        params = await read_json_object(request, self._max_body_bytes, "connection")
        consumer_id = _consumer_field(params)
        connection = await self._admin.set_connection_consumer(
            client_id, connection_id, consumer_id
        )
        return ok(request, connection_view(connection))

    def operations(self) -> list[Operation]:
        client = path_id("client_id", "client")
        return [
            Operation(
                "POST",
                "/admin/client_types",
                self.create_client_type,
                "createClientType",
                "Create a client type with its scope ceiling",
                "client types",
                201,
                s.envelope(s.CLIENT_TYPE),
                _BODY_ERRORS,
                body=s.request_body(
                    "client_type",
                    {
                        "name": {**s.TEXT, "maxLength": NAME_MAX_LENGTH},
                        "scope": {**s.OPTIONAL_TEXT, "description": "Space-separated."},
                    },
                    ["name"],
                ),
            ),
            Operation(
                "GET",
                "/admin/client_types",
                self.list_client_types,
                "listClientTypes",
                "List client types",
                "client types",
                200,
                s.envelope(s.array(s.CLIENT_TYPE), kind="list"),
                (422,),
                PAGE_PARAMS,
            ),
            Operation(
                "POST",
                "/admin/clients",
                self.create_client,
                "createClient",
                "Create a client with one connection",
                "clients",
                201,
                s.envelope(s.NEW_CLIENT),
                (*_BODY_ERRORS, 404),
                body=s.request_body(
                    "client",
                    {
                        "name": {**s.TEXT, "maxLength": NAME_MAX_LENGTH},
                        "client_type": {**s.TEXT, "description": "Name of a client type."},
                        "redirect_uri": {**s.TEXT, "description": "Absolute http(s) URI."},
                        "consumer_id": {**s.NULLABLE_UUID, "description": _CONSUMER},
                    },
                    ["name", "client_type", "redirect_uri"],
                ),
                description="The answer carries the connection's secret: the only time it is "
                "shown. An unknown client type or consumer client is a 404.",
            ),
            Operation(
                "GET",
                "/admin/clients",
                self.list_clients,
                "listClients",
                "List clients with their connections",
                "clients",
                200,
                s.envelope(s.array(s.CLIENT), kind="list"),
                (422,),
                PAGE_PARAMS,
            ),
            Operation(
                "GET",
                "/admin/clients/{client_id}",
                self.get_client,
                "getClient",
                "Get a client with its connections",
                "clients",
                200,
                s.envelope(s.CLIENT),
                (404,),
                (client,),
            ),
            Operation(
                "PATCH",
                "/admin/clients/{client_id}/actions/block",
                self.block_client,
                "blockClient",
                "Block a client: its tokens stop verifying, it can no longer refresh",
                "clients",
                200,
                s.envelope(s.CLIENT),
                (404,),
                (client,),
            ),
            Operation(
                "PATCH",
                "/admin/clients/{client_id}/actions/unblock",
                self.unblock_client,
                "unblockClient",
                "Unblock a client",
                "clients",
                200,
                s.envelope(s.CLIENT),
                (404,),
                (client,),
            ),
            Operation(
                "PATCH",
                "/admin/clients/{client_id}/actions/deactivate_tokens",
                self.deactivate_tokens,
                "deactivateClientTokens",
                "Revoke every live token of a client",
                "clients",
                200,
                s.envelope(s.CLIENT_TOKENS_REVOKED),
                (404,),
                (client,),
            ),
            Operation(
                "PATCH",
                "/admin/clients/{client_id}/connections/{connection_id}/actions/rotate_secret",
                self.rotate_secret,
                "rotateConnectionSecret",
                "Give a connection a new secret",
                "clients",
                200,
                s.envelope(s.CONNECTION_SECRET),
                (404,),
                (client, path_id("connection_id", "connection")),
                description="The old secret stops working at once; tokens already issued stay "
                "valid. The answer is the only time the new secret is shown.",
            ),
            Operation(
                "PATCH",
                "/admin/clients/{client_id}/connections/{connection_id}",
                self.set_consumer,
                "setConnectionConsumer",
                "Set (or clear, with null) the MIS client that uses a connection",
                "clients",
                200,
                s.envelope(s.CONNECTION),
                (*_BODY_ERRORS, 404),
                (client, path_id("connection_id", "connection")),
                body=s.request_body(
                    "connection",
                    {"consumer_id": {**s.NULLABLE_UUID, "description": _CONSUMER}},
                    ["consumer_id"],
                ),
                description="Verify answers this client as `urgent.mis_client_id` for the tokens "
                "issued through the connection. An unknown consumer client is a 404.",
            ),
        ]
