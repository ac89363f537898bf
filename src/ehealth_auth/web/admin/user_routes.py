"""Admin API: users, their logout, and their approvals of clients."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from ehealth_auth.protocol.admin import AdminService
from ehealth_auth.protocol.validation import EMAIL_MAX_LENGTH, MIN_PASSWORD_LENGTH
from ehealth_auth.protocol.views import approval_view, user_view
from ehealth_auth.web import schemas as s
from ehealth_auth.web.admin.http import list_query, ok, ok_page, path_uuid, read_text_fields
from ehealth_auth.web.operations import PAGE_PARAMS, Operation, path_id, query_id

USER_NOT_FOUND = "User not found."


class UserRoutes:
    def __init__(self, admin: AdminService, max_body_bytes: int) -> None:
        self._admin = admin
        self._max_body_bytes = max_body_bytes

    async def create_user(self, request: Request) -> Response:
        fields = await read_text_fields(
            request, self._max_body_bytes, "user", ("email", "password")
        )
        record = await self._admin.create_user(fields["email"], fields["password"])
        return ok(request, user_view(record), 201)

    async def list_users(self, request: Request) -> Response:
        query = list_query(request)
        return ok_page(request, await self._admin.list_users(query.page), user_view)

    async def get_user(self, request: Request) -> Response:
        user_id = path_uuid(request, "user_id", USER_NOT_FOUND)
        return ok(request, user_view(await self._admin.get_user(user_id)))

    async def block_user(self, request: Request) -> Response:
        user_id = path_uuid(request, "user_id", USER_NOT_FOUND)
        return ok(request, user_view(await self._admin.block_user(user_id)))

    async def unblock_user(self, request: Request) -> Response:
        user_id = path_uuid(request, "user_id", USER_NOT_FOUND)
        return ok(request, user_view(await self._admin.unblock_user(user_id)))

    async def logout(self, request: Request) -> Response:
        user_id = path_uuid(request, "user_id", USER_NOT_FOUND)
        client_id = list_query(request, "client_id").filters["client_id"]
        count = await self._admin.revoke_user_tokens(user_id, client_id)
        return ok(
            request,
            {
                "user_id": str(user_id),
                "client_id": None if client_id is None else str(client_id),
                "revoked_tokens": count,
            },
        )

    async def list_approvals(self, request: Request) -> Response:
        query = list_query(request, "user_id", "client_id")
        page = await self._admin.list_approvals(
            query.page, query.filters["user_id"], query.filters["client_id"]
        )
        return ok_page(request, page, approval_view)

    async def delete_approval(self, request: Request) -> Response:
        approval_id = path_uuid(request, "approval_id", "Approval not found.")
        await self._admin.delete_approval_by_id(approval_id)
        return ok(request, {"id": str(approval_id), "deleted": True})

    def operations(self) -> list[Operation]:
        user = path_id("user_id", "user")
        return [
            Operation(
                "POST",
                "/admin/users",
                self.create_user,
                "createUser",
                "Create a user",
                "users",
                201,
                s.envelope(s.USER),
                (400, 409, 413, 415, 422),
                body=s.request_body(
                    "user",
                    {
                        "email": {**s.TEXT, "maxLength": EMAIL_MAX_LENGTH},
                        "password": {**s.TEXT, "minLength": MIN_PASSWORD_LENGTH},
                    },
                    ["email", "password"],
                ),
                description="Emails are unique whatever their case (409 otherwise).",
            ),
            Operation(
                "GET",
                "/admin/users",
                self.list_users,
                "listUsers",
                "List users",
                "users",
                200,
                s.envelope(s.array(s.USER), kind="list"),
                (422,),
                PAGE_PARAMS,
            ),
            Operation(
                "GET",
                "/admin/users/{user_id}",
                self.get_user,
                "getUser",
                "Get a user",
                "users",
                200,
                s.envelope(s.USER),
                (404,),
                (user,),
            ),
            Operation(
                "PATCH",
                "/admin/users/{user_id}/actions/block",
                self.block_user,
                "blockUser",
                "Block a user and revoke all their tokens",
                "users",
                200,
                s.envelope(s.USER),
                (404,),
                (user,),
            ),
            Operation(
                "PATCH",
                "/admin/users/{user_id}/actions/unblock",
                self.unblock_user,
                "unblockUser",
                "Unblock a user (their revoked tokens stay revoked)",
                "users",
                200,
                s.envelope(s.USER),
                (404,),
                (user,),
            ),
            Operation(
                "DELETE",
                "/admin/users/{user_id}/tokens",
                self.logout,
                "logoutUser",
                "Log a user out: revoke their tokens, of one client or of all",
                "users",
                200,
                s.envelope(s.USER_TOKENS_REVOKED),
                (404, 422),
                (user, query_id("client_id", "client")),
            ),
            Operation(
                "GET",
                "/admin/approvals",
                self.list_approvals,
                "listApprovals",
                "List approvals",
                "approvals",
                200,
                s.envelope(s.array(s.APPROVAL), kind="list"),
                (422,),
                (*PAGE_PARAMS, query_id("user_id", "user"), query_id("client_id", "client")),
            ),
            Operation(
                "DELETE",
                "/admin/approvals/{approval_id}",
                self.delete_approval,
                "deleteApproval",
                "Delete an approval and revoke that user's tokens for that client",
                "approvals",
                200,
                s.envelope(s.DELETED),
                (404,),
                (path_id("approval_id", "approval"),),
            ),
        ]
