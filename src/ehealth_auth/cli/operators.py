"""Operator commands: client types, clients, users, approvals, tokens."""

from __future__ import annotations

from uuid import UUID

import click

from ehealth_auth.cli.output import emit
from ehealth_auth.cli.runner import json_option, run_admin
from ehealth_auth.protocol.model import TokenName
from ehealth_auth.protocol.views import (
    approval_view,
    client_type_view,
    issued_token_view,
    new_client_view,
    user_view,
)


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


@click.group("clients")
def clients() -> None:
    """OAuth clients (MSPs) and their connections."""


@clients.command("create")
@click.option("--name", required=True)
@click.option("--client-type", required=True, help="Name of an existing client type.")
@click.option("--redirect-uri", required=True)
@json_option
def create_client(name: str, client_type: str, redirect_uri: str, as_json: bool) -> None:
    """Create a client with one connection; its secret is shown this once."""
    new = run_admin(lambda admin: admin.create_client(name, client_type, redirect_uri))
    emit(new_client_view(new), as_json)


@clients.command("block")
@click.argument("client_id", type=click.UUID)
@json_option
def block_client(client_id: UUID, as_json: bool) -> None:
    run_admin(lambda admin: admin.set_client_blocked(client_id, True))
    emit({"id": str(client_id), "is_blocked": True}, as_json)


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
    run_admin(lambda admin: admin.block_user(user_id))
    emit({"id": str(user_id), "is_blocked": True}, as_json)


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
@click.option("--user-id", type=click.UUID, help="Only this user's approvals.")
@click.option("--client-id", type=click.UUID, help="Only approvals of this client.")
@json_option
def list_approvals(user_id: UUID | None, client_id: UUID | None, as_json: bool) -> None:
    """Approvals (users' consents), oldest first."""
    records = run_admin(lambda admin: admin.list_approvals(user_id, client_id))
    views = [approval_view(record) for record in records]
    if as_json:
        emit({"approvals": views}, as_json)
        return
    for view in views:
        emit(view, as_json)
        click.echo()


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


GROUPS = (client_types, clients, users, approvals, tokens)
