"""Operator commands: client types, clients, users, approvals, tokens."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar
from uuid import UUID

import click

from ehealth_auth.cli.output import emit, emit_list
from ehealth_auth.cli.runner import json_option, run_admin
from ehealth_auth.protocol.admin.queries import MAX_PAGE_NUMBER
from ehealth_auth.protocol.model import TokenName
from ehealth_auth.protocol.paging import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, Page, PageRequest
from ehealth_auth.protocol.views import (
    approval_view,
    client_type_view,
    client_view,
    connection_view,
    issued_token_view,
    new_client_view,
    new_secret_view,
    paging_view,
    token_info_view,
    user_view,
)

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])


def page_options(command: F) -> F:
    """`--page` and `--page-size` on a listing command."""
    command = click.option(
        "--page-size",
        default=DEFAULT_PAGE_SIZE,
        show_default=True,
        type=click.IntRange(1, MAX_PAGE_SIZE),
    )(command)
    return click.option(
        "--page", default=1, show_default=True, type=click.IntRange(1, MAX_PAGE_NUMBER)
    )(command)


def emit_page(
    page: Page[T], view: Callable[[T], dict[str, Any]], columns: tuple[str, ...], as_json: bool
) -> None:
    emit_list([view(entry) for entry in page.entries], paging_view(page), columns, as_json)


@click.group("client-types")
def client_types() -> None:
    """Client types and their scope ceilings."""


@client_types.command("create")
@click.option("--name", required=True)
@click.option("--scope", required=True, help='Space-separated scopes, e.g. "a:read b:write".')
@json_option
def create_client_type(name: str, scope: str, as_json: bool) -> None:
    record = run_admin(lambda admin: admin.create_client_type(name, scope))
    emit(client_type_view(record), as_json)


@client_types.command("list")
@page_options
@json_option
def list_client_types(page: int, page_size: int, as_json: bool) -> None:
    found = run_admin(lambda admin: admin.list_client_types(PageRequest(page, page_size)))
    emit_page(found, client_type_view, ("id", "name", "scope"), as_json)


@click.group("clients")
def clients() -> None:
    """OAuth clients (MSPs) and their connections."""


@clients.command("create")
@click.option("--name", required=True)
@click.option("--client-type", required=True, help="Name of an existing client type.")
@click.option("--redirect-uri", required=True)
@click.option(
    "--consumer-id",
    type=click.UUID,
    help="The MIS client that uses the connection (verify's urgent.mis_client_id).",
)
@json_option
def create_client(
    name: str, client_type: str, redirect_uri: str, consumer_id: UUID | None, as_json: bool
) -> None:
    """Create a client with one connection; its secret is shown this once."""
    new = run_admin(lambda admin: admin.create_client(name, client_type, redirect_uri, consumer_id))
    emit(new_client_view(new), as_json)


@clients.command("set-consumer")
@click.argument("client_id", type=click.UUID)
@click.argument("connection_id", type=click.UUID)
@click.option("--consumer-id", type=click.UUID, help="The MIS client; leave out to clear it.")
@json_option
def set_consumer(
    client_id: UUID, connection_id: UUID, consumer_id: UUID | None, as_json: bool
) -> None:
    """Name the MIS client that uses a connection (verify's urgent.mis_client_id)."""
    connection = run_admin(
        lambda admin: admin.set_connection_consumer(client_id, connection_id, consumer_id)
    )
    emit(connection_view(connection), as_json)


@clients.command("get")
@click.argument("client_id", type=click.UUID)
@json_option
def get_client(client_id: UUID, as_json: bool) -> None:
    """Show a client and its connections (never a secret)."""
    emit(client_view(run_admin(lambda admin: admin.get_client(client_id))), as_json)


@clients.command("list")
@page_options
@json_option
def list_clients(page: int, page_size: int, as_json: bool) -> None:
    found = run_admin(lambda admin: admin.list_clients(PageRequest(page, page_size)))
    columns = ("id", "name", "client_type", "is_blocked", "connections")
    emit_page(found, client_view, columns, as_json)


@clients.command("block")
@click.argument("client_id", type=click.UUID)
@json_option
def block_client(client_id: UUID, as_json: bool) -> None:
    """Block a client: it can no longer refresh and its tokens no longer verify."""
    emit(client_view(run_admin(lambda admin: admin.block_client(client_id))), as_json)


@clients.command("unblock")
@click.argument("client_id", type=click.UUID)
@json_option
def unblock_client(client_id: UUID, as_json: bool) -> None:
    emit(client_view(run_admin(lambda admin: admin.unblock_client(client_id))), as_json)


@clients.command("rotate-secret")
@click.argument("client_id", type=click.UUID)
@click.argument("connection_id", type=click.UUID)
@json_option
def rotate_secret(client_id: UUID, connection_id: UUID, as_json: bool) -> None:
    """Give a connection a new secret (shown this once); the old one stops working."""
    new = run_admin(lambda admin: admin.rotate_connection_secret(client_id, connection_id))
    emit(new_secret_view(new), as_json)


@clients.command("deactivate-tokens")
@click.argument("client_id", type=click.UUID)
@json_option
def deactivate_client_tokens(client_id: UUID, as_json: bool) -> None:
    """Revoke every live token issued to the client."""
    count = run_admin(lambda admin: admin.deactivate_client_tokens(client_id))
    emit({"id": str(client_id), "revoked_tokens": count}, as_json)


@click.group("users")
def users() -> None:
    """Users (MSP employees)."""


@users.command("create")
@click.option("--email", required=True)
@click.option("--password", required=True, prompt=True, hide_input=True)
@json_option
def create_user(email: str, password: str, as_json: bool) -> None:
    record = run_admin(lambda admin: admin.create_user(email, password))
    emit(user_view(record), as_json)


@users.command("get")
@click.argument("user_id", type=click.UUID)
@json_option
def get_user(user_id: UUID, as_json: bool) -> None:
    emit(user_view(run_admin(lambda admin: admin.get_user(user_id))), as_json)


@users.command("list")
@page_options
@json_option
def list_users(page: int, page_size: int, as_json: bool) -> None:
    found = run_admin(lambda admin: admin.list_users(PageRequest(page, page_size)))
    emit_page(found, user_view, ("id", "email", "is_blocked"), as_json)


@users.command("set-password")
@click.argument("user_id", type=click.UUID)
@click.option("--password", required=True, prompt=True, hide_input=True, confirmation_prompt=True)
@json_option
def set_password(user_id: UUID, password: str, as_json: bool) -> None:
    """Replace the user's password; lifts a login lockout of their account."""
    record = run_admin(lambda admin: admin.set_password(user_id, password))
    emit(user_view(record), as_json)


@users.command("unlock")
@click.option("--email", required=True)
@json_option
def unlock(email: str, as_json: bool) -> None:
    """Forget the failed sign-in attempts counted for an email (lifts a lockout)."""
    cleared = run_admin(lambda admin: admin.clear_login_attempts(email))
    emit({"email": email, "unlocked": cleared}, as_json)


@users.command("block")
@click.argument("user_id", type=click.UUID)
@json_option
def block_user(user_id: UUID, as_json: bool) -> None:
    """Block the user and revoke all their tokens."""
    emit(user_view(run_admin(lambda admin: admin.block_user(user_id))), as_json)


@users.command("unblock")
@click.argument("user_id", type=click.UUID)
@json_option
def unblock_user(user_id: UUID, as_json: bool) -> None:
    """Unblock the user; tokens revoked by the block stay revoked."""
    emit(user_view(run_admin(lambda admin: admin.unblock_user(user_id))), as_json)


@users.command("logout")
@click.argument("user_id", type=click.UUID)
@click.option("--client-id", type=click.UUID, help="Only the tokens of this client.")
@json_option
def logout_user(user_id: UUID, client_id: UUID | None, as_json: bool) -> None:
    """Revoke the user's tokens, of one client or of all."""
    count = run_admin(lambda admin: admin.revoke_user_tokens(user_id, client_id))
    emit(
        {
            "user_id": str(user_id),
            "client_id": None if client_id is None else str(client_id),
            "revoked_tokens": count,
        },
        as_json,
    )


@click.group("approvals")
def approvals() -> None:
    """Users' approvals of clients."""


@approvals.command("create")
@click.option("--user-id", required=True, type=click.UUID)
@click.option("--client-id", required=True, type=click.UUID)
@click.option("--scope", required=True)
@json_option
def create_approval(user_id: UUID, client_id: UUID, scope: str, as_json: bool) -> None:
    """Create or widen an approval (new scopes first, then old)."""
    record = run_admin(lambda admin: admin.approve(user_id, client_id, scope))
    emit(approval_view(record), as_json)


@approvals.command("list")
@click.option("--user-id", type=click.UUID)
@click.option("--client-id", type=click.UUID)
@page_options
@json_option
def list_approvals(
    user_id: UUID | None, client_id: UUID | None, page: int, page_size: int, as_json: bool
) -> None:
    found = run_admin(
        lambda admin: admin.list_approvals(PageRequest(page, page_size), user_id, client_id)
    )
    emit_page(found, approval_view, ("id", "user_id", "client_id", "scope"), as_json)


@approvals.command("delete")
@click.option("--user-id", required=True, type=click.UUID)
@click.option("--client-id", required=True, type=click.UUID)
@json_option
def delete_approval(user_id: UUID, client_id: UUID, as_json: bool) -> None:
    """Delete an approval and revoke that user's tokens for that client."""
    run_admin(lambda admin: admin.delete_approval(user_id, client_id))
    emit({"user_id": str(user_id), "client_id": str(client_id), "deleted": True}, as_json)


@click.group("tokens")
def tokens() -> None:
    """Tokens (values are shown once, when minted)."""


@tokens.command("create")
@click.option(
    "--name",
    required=True,
    type=click.Choice([TokenName.REFRESH_TOKEN.value, TokenName.ACCESS_TOKEN.value]),
)
@click.option("--user-id", required=True, type=click.UUID)
@click.option("--client-id", required=True, type=click.UUID)
@click.option("--expires-at", type=int, help="Unix seconds; default: now + the token's lifetime.")
@json_option
def create_token(
    name: str, user_id: UUID, client_id: UUID, expires_at: int | None, as_json: bool
) -> None:
    """Mint a token with the user's current approval scope for the client."""
    issued = run_admin(
        lambda admin: admin.create_token(TokenName(name), user_id, client_id, expires_at)
    )
    emit(issued_token_view(issued), as_json)


@tokens.command("list")
@click.option("--user-id", type=click.UUID)
@click.option("--client-id", type=click.UUID)
@page_options
@json_option
def list_tokens(
    user_id: UUID | None, client_id: UUID | None, page: int, page_size: int, as_json: bool
) -> None:
    """List tokens, newest first (never their values)."""
    found = run_admin(
        lambda admin: admin.list_tokens(PageRequest(page, page_size), user_id, client_id)
    )
    columns = ("id", "name", "user_id", "client_id", "expires_at", "revoked_at")
    emit_page(found, token_info_view, columns, as_json)


@tokens.command("delete")
@click.argument("token_id", type=click.UUID)
@json_option
def delete_token(token_id: UUID, as_json: bool) -> None:
    """Revoke a token."""
    emit(token_info_view(run_admin(lambda admin: admin.revoke_token(token_id))), as_json)


GROUPS = (client_types, clients, users, approvals, tokens)
