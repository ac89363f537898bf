"""Shared plumbing of the commands: settings, running an admin action, errors, and `--json`.

`--json` is accepted before the command name (the root group's option) and after it (each
command's own option); `JsonCli.main` turns every failure into one JSON object on stderr when it
was given, so option handling and error output live here and nowhere else.
"""

from __future__ import annotations

import asyncio
import functools
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, NoReturn, TypeVar

import click
import orjson
from pydantic import ValidationError as SettingsError

from ehealth_auth.protocol.admin import AdminService
from ehealth_auth.protocol.errors import VALIDATION_MESSAGE, ServiceError, ValidationError
from ehealth_auth.settings import InsecureSettingsError, Settings
from ehealth_auth.storage.engine import UnsupportedDatabaseError
from ehealth_auth.web.envelope import error_body
from ehealth_auth.wiring import build_services

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])


class CommandError(click.ClickException):
    """A failed command: its message for people, `type` (and `invalid`) for `--json`."""

    def __init__(self, message: str, error_type: str, body: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.body = body or {"type": error_type, "message": message}


def service_failure(error: ServiceError) -> CommandError:
    return CommandError(error_text(error), error.type, error_body(error))


def load_settings() -> Settings:
    """The settings of every command; none runs on a database other than the embedded demo
    without EHEALTH_AUTH_SECRET_KEY (a secret made under another key would not work later)."""
    try:
        settings = Settings()
        settings.ensure_servable()
    except SettingsError as exc:
        raise CommandError(
            f"invalid configuration: {settings_error_text(exc)}", "configuration_invalid"
        ) from None
    except InsecureSettingsError as exc:
        raise CommandError(str(exc), "insecure_settings") from None
    return settings


def settings_error_text(error: SettingsError) -> str:
    """One line: each refused setting by its environment variable, with pydantic's reason (the
    values themselves are never shown)."""
    prefix = Settings.model_config.get("env_prefix", "")
    return "; ".join(
        f"{prefix}{'_'.join(str(part) for part in entry['loc']).upper()}: "
        + entry["msg"].removeprefix("Value error, ")
        for entry in error.errors()
    )


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
        raise service_failure(exc) from None
    except UnsupportedDatabaseError as exc:
        raise CommandError(str(exc), "configuration_invalid") from None


def json_mode() -> bool:
    """Whether `--json` was given, before or after the command name."""
    ctx = click.get_current_context()
    return bool(ctx.meta.get("ehealth_auth.json")) or bool(ctx.find_root().params.get("as_json"))


def emit_json(data: Any, *, err: bool = False) -> None:
    click.echo(orjson.dumps(data).decode(), err=err)


def json_option(command: F) -> F:
    """`--json` on a command; also honoured when given before the command name."""

    @click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
    @functools.wraps(command)
    def wrapper(*args: Any, as_json: bool, **kwargs: Any) -> Any:
        ctx = click.get_current_context()
        ctx.meta["ehealth_auth.json"] = as_json or json_mode()
        return command(*args, as_json=ctx.meta["ehealth_auth.json"], **kwargs)

    return wrapper  # type: ignore[return-value]


def _json_requested(args: Sequence[str]) -> bool:
    """`--json` among the options (not after `--`): decided before parsing, so that a usage
    error is reported in the requested form too."""
    options = args[: args.index("--")] if "--" in args else args
    return "--json" in options


def _fail(body: dict[str, Any], exit_code: int) -> NoReturn:
    emit_json({"error": body}, err=True)
    sys.exit(exit_code)


class JsonCli(click.Group):
    """The root group: with `--json`, any failure is one JSON object on stderr."""

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        argv = list(sys.argv[1:] if args is None else args)
        if not standalone_mode or not _json_requested(argv):
            return super().main(argv, prog_name, complete_var, standalone_mode, **extra)
        try:
            result = super().main(argv, prog_name, complete_var, False, **extra)
        except CommandError as exc:
            _fail(exc.body, exc.exit_code)
        except click.UsageError as exc:
            _fail({"type": "usage_error", "message": exc.format_message()}, exc.exit_code)
        except click.ClickException as exc:
            _fail({"type": "error", "message": exc.format_message()}, exc.exit_code)
        except click.Abort:
            _fail({"type": "aborted", "message": "Aborted."}, 1)
        except Exception as exc:
            # The exception's text may quote database parameters: name its kind only.
            _fail(
                {
                    "type": "internal_error",
                    "message": f"Unexpected {type(exc).__name__}; run without --json for details.",
                },
                1,
            )
        sys.exit(result if isinstance(result, int) else 0)
