"""The verbs most kinds of object share: list, get and delete, by name or uid."""

# No `from __future__ import annotations`: Typer reads the annotations of the commands made
# here, and a string naming a closure's variable could not be evaluated later.

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

import typer

from cli.api import Api
from cli.output import (
    Format,
    FormatOption,
    YesOption,
    confirm,
    console,
    emit,
    print_fields,
    print_table,
)
from cli.resolve import Resource, resolve, uid_of


@dataclass(frozen=True)
class Listing:
    """How a kind of object reads to people: its table's columns, and one object's fields."""

    resource: Resource
    headers: tuple[str, ...]
    row: Callable[[dict[str, Any]], Sequence[Any]]
    fields: tuple[str, ...]

    def table(self, page: dict[str, Any]) -> None:
        print_table("", self.headers, [self.row(item) for item in page["items"]])

    def show(self, obj: dict[str, Any]) -> None:
        print_fields(obj, self.fields)


def columns(*keys: str) -> Callable[[dict[str, Any]], Sequence[Any]]:
    """A row of the object's values under `keys`, for a Listing."""
    return lambda obj: [obj.get(key) for key in keys]


def ref_argument(resource: Resource) -> Any:
    return typer.Argument(help=f"The {resource.command}'s name or uid", show_default=False)


def add_list(app: typer.Typer, listing: Listing, help: str) -> None:
    def list_objects(output: FormatOption = Format.TABLE) -> None:
        emit(Api().get_all(listing.resource.path), output, listing.table)

    app.command("list", help=help)(list_objects)


def add_get(app: typer.Typer, listing: Listing, help: str) -> None:
    resource = listing.resource

    def get_object(
        ref: Annotated[str, ref_argument(resource)], output: FormatOption = Format.TABLE
    ) -> None:
        api = Api()
        emit(api.get(f"{resource.path}/{uid_of(api, resource, ref)}"), output, listing.show)

    app.command("get", help=help)(get_object)


def delete(api: Api, resource: Resource, ref: str, yes: bool, **params: str) -> None:
    """Delete the object `ref` names once confirmed, and say what the API did."""
    obj = resolve(api, resource, ref)
    confirm(f"Delete {resource.command} {obj['name']} ({obj['uid']})?", yes)
    answer = api.delete(f"{resource.path}/{obj['uid']}", params=params)
    # Some deletions are workflows (202 with a message); the others are done (204).
    said = answer["message"] if answer else f"deleted {resource.command} {obj['name']}"
    console.print(said, highlight=False)


def add_delete(app: typer.Typer, resource: Resource, help: str) -> None:
    def delete_object(ref: Annotated[str, ref_argument(resource)], yes: YesOption = False) -> None:
        delete(Api(), resource, ref, yes)

    app.command("delete", help=help)(delete_object)


def add_list_get_delete(app: typer.Typer, listing: Listing, plural_help: str) -> None:
    """`list`, `get` and `delete` for a kind whose delete needs nothing but confirmation."""
    noun = listing.resource.command
    add_list(app, listing, f"The {plural_help} you may see.")
    add_get(app, listing, f"One {noun}, by name or uid.")
    add_delete(app, listing.resource, f"Delete a {noun} (asks first; --yes does not).")
