"""`ehealth-auth demo`: seed an empty embedded database with clearly labelled demo data."""

from __future__ import annotations

import secrets
import shlex
from urllib.parse import urlencode

import click
import orjson

from ehealth_auth.cli.output import emit
from ehealth_auth.cli.runner import json_option, load_settings, run_admin
from ehealth_auth.protocol.admin import AdminService
from ehealth_auth.protocol.model import TokenName

DEMO_SCOPE = "app:authorize legal_entity:read employee:read patients:view"
DEMO_REDIRECT_URI = "http://localhost:8080/callback"


async def _seed(admin: AdminService) -> dict[str, str] | None:
    if await admin.has_clients():
        return None
    kind = await admin.create_client_type("DEMO_MIS", DEMO_SCOPE)
    new = await admin.create_client("Demo MIS (demo data)", kind.name, DEMO_REDIRECT_URI)
    password = secrets.token_urlsafe(12)
    user = await admin.create_user("demo.user@example.com", password)
    await admin.approve(user.id, new.client.id, DEMO_SCOPE)
    refresh = await admin.create_token(TokenName.REFRESH_TOKEN, user.id, new.client.id)
    return {
        "client_id": str(new.client.id),
        "client_secret": new.secret,
        "user_email": user.email,
        "user_password": password,
        "refresh_token": refresh.value,
    }


@click.command("demo")
@click.option("--url", default="http://127.0.0.1:4000", show_default=True)
@json_option
def demo(url: str, as_json: bool) -> None:
    """On an empty embedded database, create demo data and print a ready refresh command."""
    settings = load_settings()
    if not settings.is_embedded_demo:
        _not_seeded("not the embedded default database; nothing seeded", as_json)
        return
    seeded = run_admin(_seed)
    if seeded is None:
        _not_seeded(
            "the database already has clients; no demo data added (delete ./var/ to start over)",
            as_json,
        )
        return
    body = orjson.dumps(
        {
            "token": {
                "grant_type": "refresh_token",
                "client_id": seeded["client_id"],
                "client_secret": seeded["client_secret"],
                "refresh_token": seeded["refresh_token"],
            }
        }
    ).decode()
    authorize = urlencode(
        {
            "client_id": seeded["client_id"],
            "redirect_uri": DEMO_REDIRECT_URI,
            "scope": "legal_entity:read employee:read",
            "state": "demo",
        }
    )
    curl = (
        f"curl -s -X POST {url}/oauth/tokens -H 'Content-Type: application/json' "
        f"-d {shlex.quote(body)}"
    )
    if as_json:
        emit(
            {
                "seeded": True,
                **seeded,
                "refresh_command": curl,
                "authorize_url": f"{url}/oauth/authorize?{authorize}",
            },
            as_json=True,
        )
        return
    click.echo("=== DEMO DATA (embedded SQLite database, not for production) ===")
    for key, value in seeded.items():
        click.echo(f"  {key}: {value}")
    click.echo("\nRefresh the demo token (paste into another terminal):\n")
    click.echo(f"{curl}\n")
    click.echo("Or sign in as the demo user in a browser (the authorization-code flow):\n")
    click.echo(f"{url}/oauth/authorize?{authorize}\n")


def _not_seeded(reason: str, as_json: bool) -> None:
    if as_json:
        emit({"seeded": False, "reason": reason}, as_json=True)
    else:
        click.echo(f"demo: {reason}", err=True)
