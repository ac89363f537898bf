"""CLI output: exactly one JSON object with --json, a readable table without it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import click
import orjson


def _flatten(data: Mapping[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            rows.extend(_flatten(value, f"{name}."))
        else:
            rows.append((name, "" if value is None else str(value)))
    return rows


def emit(data: Mapping[str, Any], as_json: bool) -> None:
    if as_json:
        click.echo(orjson.dumps(data).decode())
        return
    rows = _flatten(data)
    width = max((len(name) for name, _ in rows), default=0)
    for name, value in rows:
        click.echo(f"{name.ljust(width)}  {value}")
