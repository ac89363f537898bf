"""Admin API: listing tokens (never their values) and revoking one."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from ehealth_auth.protocol.admin import AdminService
from ehealth_auth.protocol.views import token_info_view
from ehealth_auth.web import schemas as s
from ehealth_auth.web.admin.http import list_query, ok, ok_page, path_uuid
from ehealth_auth.web.operations import PAGE_PARAMS, Operation, path_id, query_id


class TokenAdminRoutes:
    def __init__(self, admin: AdminService) -> None:
        self._admin = admin

    async def list_tokens(self, request: Request) -> Response:
        query = list_query(request, "user_id", "client_id")
        page = await self._admin.list_tokens(
            query.page, query.filters["user_id"], query.filters["client_id"]
        )
        return ok_page(request, page, token_info_view)

    async def delete_token(self, request: Request) -> Response:
        token_id = path_uuid(request, "token_id", "Token not found.")
        return ok(request, token_info_view(await self._admin.revoke_token(token_id)))

    def operations(self) -> list[Operation]:
        return [
            Operation(
                "GET",
                "/admin/tokens",
                self.list_tokens,
                "listTokens",
                "List tokens, newest first, without their values",
                "tokens",
                200,
                s.envelope(s.array(s.STORED_TOKEN), kind="list"),
                (422,),
                (*PAGE_PARAMS, query_id("user_id", "user"), query_id("client_id", "client")),
            ),
            Operation(
                "DELETE",
                "/admin/tokens/{token_id}",
                self.delete_token,
                "revokeToken",
                "Revoke a token",
                "tokens",
                200,
                s.envelope(s.STORED_TOKEN),
                (404,),
                (path_id("token_id", "token"),),
                description="The token is marked revoked, not erased: every later check sees "
                "it as dead. Revoking a revoked token keeps its first revocation time.",
            ),
        ]
