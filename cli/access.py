"""`lifeboat share|user|group|role ...`: who may do what."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from cli import crud
from cli.api import Api
from cli.errors import CliError, Exit
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
from cli.resolve import ROLE, SHAREABLE, Resource, resolve

share_app = typer.Typer(help="Share your objects with users, groups or everyone.")
user_app = typer.Typer(help="Users and the roles bound to them.")
group_app = typer.Typer(help="The provider's groups and the roles bound to them.")
role_app = typer.Typer(help="Roles: the built-in ones and custom sets of their permissions.")

ROLES = crud.Listing(
    ROLE,
    ("name", "builtin", "owner", "description", "uid"),
    crud.columns("name", "builtin", "owner", "description", "uid"),
    ("uid", "name", "builtin", "owner", "description", "permissions"),
)
crud.add_list(role_app, ROLES, "The roles you may assign or see.")
crud.add_get(role_app, ROLES, "One role and its permissions, by name or uid.")

KindArgument = Annotated[
    str,
    typer.Argument(
        help=f"What to share: {', '.join(SHAREABLE)}",
        autocompletion=lambda: list(SHAREABLE),
        show_default=False,
    ),
]
RefArgument = Annotated[str, typer.Argument(help="The object's name or uid", show_default=False)]
RolesOption = Annotated[
    list[str] | None,
    typer.Option("--role", help="A role name, e.g. lifeboat.app-user (repeat for several)"),
]


def _shared(api: Api, kind: str, ref: str) -> tuple[Resource, dict[str, Any]]:
    if kind not in SHAREABLE:
        raise CliError(f"cannot share a {kind!r}: share one of {', '.join(SHAREABLE)}", Exit.USAGE)
    resource = SHAREABLE[kind]
    return resource, resolve(api, resource, ref)


def _shares_table(page: dict[str, Any]) -> None:
    rows = [(s["subject_kind"], s["subject"], s["access"], s["uid"]) for s in page["items"]]
    print_table("", ("with", "subject", "access", "uid"), rows)


@share_app.command("list")
def list_shares(kind: KindArgument, ref: RefArgument, output: FormatOption = Format.TABLE) -> None:
    """Whom one of your objects is shared with."""
    api = Api()
    resource, obj = _shared(api, kind, ref)
    params = {"object_kind": resource.kind, "object_uid": obj["uid"]}
    emit(api.get("/shares", params=params), output, _shares_table)


@share_app.command("create")
def create_share(
    kind: KindArgument,
    ref: RefArgument,
    user: Annotated[
        str, typer.Option(help="Share with this user: their id (`user list`, `whoami`)")
    ] = "",
    group: Annotated[str, typer.Option(help="Share with this group")] = "",
    everyone: Annotated[bool, typer.Option("--everyone", help="Share with every user")] = False,
    access: Annotated[
        str, typer.Option(help="view, restore or full (sharing again changes the level)")
    ] = "view",
    output: FormatOption = Format.TABLE,
) -> None:
    """Share an object with a user, a group or everyone, at an access level."""
    subjects = [(k, v) for k, v in (("user", user), ("group", group)) if v]
    if everyone:
        subjects.append(("everyone", ""))
    if len(subjects) != 1:
        raise CliError("give exactly one of --user, --group or --everyone", Exit.USAGE)
    api = Api()
    resource, obj = _shared(api, kind, ref)
    ((subject_kind, subject),) = subjects
    body = {
        "object_kind": resource.kind,
        "object_uid": obj["uid"],
        "subject_kind": subject_kind,
        "subject": subject,
        "access": access,
    }
    fields = ("uid", "object_kind", "object_uid", "subject_kind", "subject", "access")
    emit(api.post("/shares", body), output, lambda share: print_fields(share, fields))


@share_app.command("delete")
def delete_share(
    uid: Annotated[str, typer.Argument(help="The share's uid (from `share list`)")],
    yes: YesOption = False,
) -> None:
    """Take a share back (asks first; --yes does not)."""
    confirm(f"Delete share {uid}?", yes)
    Api().delete(f"/shares/{uid}")
    console.print(f"deleted share {uid}", highlight=False)


def _users_table(page: dict[str, Any]) -> None:
    rows = [
        (u["display_name"], u["subject"], u["roles"], u["in_provider"], u["last_seen_at"])
        for u in page["items"]
    ]
    print_table("", ("name", "subject", "roles", "in provider", "last seen"), rows)


def _user_fields(user: dict[str, Any]) -> None:
    print_fields(user, ("subject", "display_name", "email", "roles", "in_provider"))


@user_app.command("list")
def list_users(output: FormatOption = Format.TABLE) -> None:
    """Every user Lifeboat knows (seen signing in, or invited), with their roles."""
    emit(Api().get("/users"), output, _users_table)


@user_app.command("invite")
def invite_user(
    subject: Annotated[str, typer.Argument(help="The provider's id for the user")],
    role: RolesOption = None,
    email: Annotated[str, typer.Option(help="The user's e-mail address")] = "",
    output: FormatOption = Format.TABLE,
) -> None:
    """Give a user roles before they first sign in."""
    body: dict[str, Any] = {"subject": subject, "roles": role or []}
    if email:
        body["email"] = email
    emit(Api().post("/users", body), output, _user_fields)


@user_app.command("roles")
def user_roles(
    subject: Annotated[str, typer.Argument(help="The user's id (from `user list`)")],
    role: RolesOption = None,
    output: FormatOption = Format.TABLE,
) -> None:
    """Show a user's roles, or with --role make those their roles (an empty set: --role '')."""
    api = Api()
    if role is not None:
        found = api.put(f"/users/{subject}/roles", {"roles": [r for r in role if r]})
    else:
        users = [u for u in api.get("/users")["items"] if u["subject"] == subject]
        if not users:
            raise CliError(f"no user {subject!r}: see `lifeboat user list`")
        found = users[0]
    emit(found, output, _user_fields)


@user_app.command("revoke")
def revoke_user(
    subject: Annotated[str, typer.Argument(help="The user's id (from `user list`)")],
    yes: YesOption = False,
) -> None:
    """Unbind every role of the user; their objects stay (asks first; --yes does not)."""
    confirm(f"Revoke every role of user {subject}?", yes)
    Api().delete(f"/users/{subject}")
    console.print(f"revoked every role of user {subject}", highlight=False)


@group_app.command("list")
def list_groups(output: FormatOption = Format.TABLE) -> None:
    """The groups Lifeboat knows (seen in sign-ins, or given roles), with their roles."""

    def table(page: dict[str, Any]) -> None:
        print_table("", ("name", "roles"), [(g["name"], g["roles"]) for g in page["items"]])

    emit(Api().get("/groups"), output, table)


@group_app.command("roles")
def group_roles(
    name: Annotated[str, typer.Argument(help="The group's name, as the provider has it")],
    role: RolesOption = None,
    output: FormatOption = Format.TABLE,
) -> None:
    """Show a group's roles, or with --role make those its roles (an empty set: --role '')."""
    api = Api()
    if role is not None:
        found = api.put(f"/groups/{name}/roles", {"roles": [r for r in role if r]})
    else:
        groups = [g for g in api.get("/groups")["items"] if g["name"] == name]
        if not groups:
            raise CliError(f"no group {name!r}: see `lifeboat group list`")
        found = groups[0]
    emit(found, output, lambda g: print_fields(g, ("name", "roles")))
