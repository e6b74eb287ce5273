"""Names or uids on the command line: exactly one match, or an error saying what to type."""

from __future__ import annotations

from typing import Any

from cli.api import Api
from cli.errors import CliError


def resolve(api: Api, path: str, noun: str, ref: str) -> dict[str, Any]:
    """The one object under `path` (e.g. `/clusters`) whose uid or name is `ref`."""
    items: list[dict[str, Any]] = api.get(path)["items"]
    by_uid = [item for item in items if item["uid"] == ref]
    if by_uid:
        return by_uid[0]
    named = [item for item in items if item["name"] == ref]
    if len(named) == 1:
        return named[0]
    if not named:
        raise CliError(f"no {noun} named {ref!r} that you may see: `lifeboat {noun} list`")
    owners = sorted(item["owner"] for item in named)
    raise CliError(
        f"ambiguous: {len(named)} {noun}s named {ref}, owners {', '.join(owners[:-1])} and "
        f"{owners[-1]}: use the uid"
    )
