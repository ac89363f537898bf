"""Shared plumbing of the commands: settings, running an admin action, the --json option."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import click
from pydantic import ValidationError as SettingsError

from ehealth_auth.protocol.admin import AdminService
from ehealth_auth.protocol.errors import VALIDATION_MESSAGE, ServiceError, ValidationError
from ehealth_auth.settings import InsecureSettingsError, Settings
from ehealth_auth.storage.engine import UnsupportedDatabaseError
from ehealth_auth.wiring import build_services

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])


def load_settings() -> Settings:
    """The settings of every command; none runs on a database other than the embedded demo
    without EHEALTH_AUTH_SECRET_KEY (a secret made under another key would not work later)."""
    try:
        settings = Settings()
        settings.ensure_servable()
    except SettingsError as exc:
        raise click.ClickException(f"invalid configuration: {exc}") from None
    except InsecureSettingsError as exc:
        raise click.ClickException(str(exc)) from None
    return settings


def error_text(error: ServiceError) -> str:
    """The message, and for validation errors each bad field by its option name."""
    if not isinstance(error, ValidationError) or not error.invalid:
        return error.message
    lines = [] if error.message == VALIDATION_MESSAGE else [error.message]
    for entry in error.invalid:
        field = entry.entry.rsplit(".", 1)[-1]
        lines.extend(f"{field}: {rule.description}" for rule in entry.rules)
    return "\n".join(lines)


def run_admin(action: Callable[[AdminService], Awaitable[T]]) -> T:
    """Run one operator action against the configured database, mapping errors to exit codes."""

    async def _run() -> T:
        services = build_services(load_settings())
        try:
            return await action(services.admin)
        finally:
            await services.engine.dispose()

    try:
        return asyncio.run(_run())
    except ServiceError as exc:
        raise click.ClickException(error_text(exc)) from None
    except UnsupportedDatabaseError as exc:
        raise click.ClickException(str(exc)) from None


def json_option(command: F) -> F:
    """`--json` on a command; also honoured when given before the command name."""

    @click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
    @functools.wraps(command)
    def wrapper(*args: Any, as_json: bool, **kwargs: Any) -> Any:
        root = click.get_current_context().find_root()
        return command(*args, as_json=as_json or bool(root.params.get("as_json")), **kwargs)

    return wrapper  # type: ignore[return-value]
