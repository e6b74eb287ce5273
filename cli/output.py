"""Printing: human tables by default, the API's objects unchanged with `-o json|yaml`.

Rich writes plain text when stdout is not a terminal, and no colour with `--no-color` (or
`NO_COLOR`), so scripts and pipes get plain output.
"""

from __future__ import annotations

import enum
import json
import sys
from collections.abc import Callable, Sequence
from typing import Annotated, Any

import typer
import yaml
from rich.box import HEAVY_HEAD
from rich.console import Console
from rich.table import Table

from cli.errors import CliError

console = Console()
errors = Console(stderr=True)


class Format(enum.StrEnum):
    TABLE = "table"
    JSON = "json"
    YAML = "yaml"


YesOption = Annotated[
    bool, typer.Option("--yes", "-y", help="Do not ask for confirmation (scripts, CI)")
]
FormatOption = Annotated[
    Format,
    typer.Option("--output", "-o", help="table for people; json or yaml: the API's objects"),
]


def no_color() -> None:
    console.no_color = errors.no_color = True


def emit(obj: Any, fmt: Format, table: Callable[[Any], None]) -> None:
    """`obj` (an API object or list) as JSON, YAML, or through `table` for people."""
    if fmt is Format.JSON:
        console.out(json.dumps(obj, indent=2), highlight=False)
    elif fmt is Format.YAML:
        console.out(yaml.safe_dump(obj, sort_keys=False).rstrip(), highlight=False)
    else:
        table(obj)


def cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def print_table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    # Lines and boxes for a terminal; columns separated by spaces for a pipe (grep, awk).
    table = Table(
        title=title or None,
        title_justify="left",
        header_style="bold",
        box=HEAVY_HEAD if console.is_terminal else None,
    )
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*(cell(v) for v in row))
    console.print(table)


def print_fields(obj: dict[str, Any], fields: Sequence[str]) -> None:
    """`key: value` lines, for one object."""
    width = max(len(f) for f in fields)
    for field in fields:
        console.print(f"{field + ':':<{width + 1}} {cell(obj.get(field))}", highlight=False)


def human_bytes(count: int) -> str:
    size = float(count)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def confirm(question: str, yes: bool) -> None:
    """Go on when `--yes` was given or the person at the terminal says yes; refuse otherwise.

    Without a terminal to ask at (a pipe, CI), nothing is done unless `--yes` says so.
    """
    if yes:
        return
    if not sys.stdin.isatty():
        raise CliError(f"{question} Not confirmed: standard input is not a terminal; add --yes")
    if not typer.confirm(question, err=True):
        raise typer.Abort
