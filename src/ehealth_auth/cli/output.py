"""CLI output: exactly one JSON object with --json, a readable table without it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
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


def emit_list(
    entries: Sequence[Mapping[str, Any]],
    paging: Mapping[str, int],
    columns: Sequence[str],
    as_json: bool,
) -> None:
    """With --json, `{"data": [...], "paging": {...}}`; else a table of `columns` and a footer."""
    if as_json:
        click.echo(orjson.dumps({"data": list(entries), "paging": paging}).decode())
        return
    rows = [[_cell(entry.get(column)) for column in columns] for entry in entries]
    widths = [
        max([len(column)] + [len(row[i]) for row in rows]) for i, column in enumerate(columns)
    ]
    for row in [list(columns), *rows]:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))
    click.echo(
        f"page {paging['page_number']} of {paging['total_pages']}, {paging['total_entries']} in all"
    )


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return str(len(value))
    return str(value)
