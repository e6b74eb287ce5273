"""Users and groups, their role assignments, and the caller's own profile.

Assignment rules that nobody can override: only a super admin grants or revokes the super
admin role; nobody grants or revokes a role holding permissions they do not hold; roles
absent from the deployment's mode (app admin in federated) are not assignable; every role
named must exist and be visible to the caller (built-in, its own, or shared with it).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, status
from pydantic import BaseModel, Field
from sqlalchemy import delete, select

from api.authz import Access, Authorize, AuthzContext, SignedIn
from api.errors import Forbidden, NotFound, Unprocessable
from api.schemas import ListOf, Subject, Text
from lifeboat.catalog.models import SYSTEM_OWNER, Group, Role, RoleBinding, User, shown_user
from lifeboat.rbac.access import ShareSubject, role_change_refusal
from lifeboat.rbac.matrix import MODE_FEATURES, MODE_ROLES, Action, BuiltinRole, Kind

router = APIRouter(tags=["users and groups"])

Invite = Annotated[AuthzContext, Depends(Authorize(Kind.USERS_GROUPS, Action.CREATE))]
ViewUsers = Annotated[AuthzContext, Depends(Authorize(Kind.USERS_GROUPS, Action.VIEW))]
EditUsers = Annotated[AuthzContext, Depends(Authorize(Kind.USERS_GROUPS, Action.EDIT))]
RemoveUsers = Annotated[AuthzContext, Depends(Authorize(Kind.USERS_GROUPS, Action.DELETE))]
Profile = Annotated[Access, Depends(SignedIn(needs_role=False))]


class RoleAssignment(BaseModel):
    roles: list[Text] = Field(description="Role names, e.g. lifeboat.app-user", max_length=50)


class UserInvite(RoleAssignment):
    subject: Subject = Field(description="The provider's user id")
    email: Text | None = Field(default=None, max_length=320)


class UserRead(BaseModel):
    subject: str
    display_name: str
    email: str | None
    in_provider: bool
    roles: list[str]
    last_seen_at: datetime | None


class GroupRead(BaseModel):
    name: str
    roles: list[str]


class ProfileRead(BaseModel):
    subject: str
    username: str
    groups: list[str]
    roles: list[str]
    permissions: list[str]
    mode: str
    features: list[str]


def display_name(user: User | None, subject: str) -> str:
    """How a user is shown: `Unknown (<user id>)` once the provider no longer has them."""
    return shown_user(user.name if user is not None and user.in_provider else None, subject)


async def _bound_roles(ctx: AuthzContext, kind: ShareSubject, subject: str) -> list[str]:
    rows = await ctx.session.scalars(
        select(Role.name)
        .join(RoleBinding, RoleBinding.role_uid == Role.uid)
        .where(RoleBinding.subject_kind == kind, RoleBinding.subject == subject)
        .order_by(Role.name)
    )
    return list(rows)


async def _assignable(ctx: AuthzContext, names: set[str]) -> dict[str, Role]:
    """The named roles the caller may assign: the mode's built-in ones and the custom roles
    it can see (its own or shared with it); any other name is unknown to it."""
    builtin = {r.value for r in BuiltinRole}
    offered = {r.value for r in MODE_ROLES[ctx.settings.mode]}
    if absent := sorted(n for n in names if n in builtin and n not in offered):
        raise Unprocessable(
            f"{', '.join(absent)} cannot be assigned in {ctx.settings.mode} mode", field="roles"
        )
    custom = ctx.for_kind(Kind.ROLES, Action.VIEW).visible(Role).where(Role.builtin.is_(False))
    found: dict[str, list[Role]] = {}
    for query in (select(Role).where(Role.builtin.is_(True)), custom):
        for role in await ctx.session.scalars(query.where(Role.name.in_(names))):
            found.setdefault(role.name, []).append(role)
    if unknown := sorted(names - set(found)):
        raise Unprocessable(f"unknown role(s): {', '.join(unknown)}", field="roles")
    if ambiguous := sorted(n for n, rows in found.items() if len(rows) > 1):
        raise Unprocessable(
            f"several roles you can see are named {', '.join(ambiguous)}: ask their owners "
            "to rename one",
            field="roles",
        )
    return {name: rows[0] for name, rows in found.items()}


async def _assign(ctx: AuthzContext, kind: ShareSubject, subject: str, names: list[str]) -> None:
    """Make `names` the subject's bound roles, under the rules that cannot be overridden.

    Only a super admin grants or revokes the super admin role, and nobody grants or revokes
    a role holding permissions they do not hold themselves.
    """
    wanted = await _assignable(ctx, set(names))
    bound = await ctx.session.scalars(
        select(Role)
        .join(RoleBinding, RoleBinding.role_uid == Role.uid)
        .where(RoleBinding.subject_kind == kind, RoleBinding.subject == subject)
    )
    current = {r.uid: r for r in bound}
    changed = [r for r in current.values() if r.uid not in {w.uid for w in wanted.values()}]
    changed += [r for r in wanted.values() if r.uid not in current]
    for role in changed:
        if refusal := role_change_refusal(ctx.caller, role.name, role.permissions):
            raise Forbidden(refusal, field="roles")
    await ctx.session.execute(
        delete(RoleBinding).where(RoleBinding.subject_kind == kind, RoleBinding.subject == subject)
    )
    for name, role in sorted(wanted.items()):
        ctx.session.add(
            RoleBinding(
                name=f"{kind}:{subject}:{name}",
                owner_id=SYSTEM_OWNER,
                role_uid=role.uid,
                subject_kind=kind,
                subject=subject,
            )
        )
    await ctx.session.commit()


async def _user_read(ctx: AuthzContext, user: User) -> UserRead:
    return UserRead(
        subject=user.subject,
        display_name=display_name(user, user.subject),
        email=user.email,
        in_provider=user.in_provider,
        roles=await _bound_roles(ctx, ShareSubject.USER, user.subject),
        last_seen_at=user.last_seen_at,
    )


async def _user(ctx: AuthzContext, subject: str) -> User:
    user = await ctx.session.scalar(select(User).where(User.subject == subject))
    if user is None:
        raise NotFound(f"no user {subject}")
    return user


@router.get("/me")
async def me(access: Profile) -> ProfileRead:
    """Who the caller is to Lifeboat: roles, permissions, and what this mode offers."""
    caller = access.caller
    return ProfileRead(
        subject=caller.subject,
        username=caller.username,
        groups=sorted(caller.groups),
        roles=sorted(caller.roles),
        permissions=sorted(caller.permissions),
        mode=access.settings.mode,
        features=sorted(MODE_FEATURES[access.settings.mode]),
    )


@router.get("/users")
async def list_users(ctx: ViewUsers) -> ListOf[UserRead]:
    users = await ctx.session.scalars(select(User).order_by(User.name))
    items = [await _user_read(ctx, u) for u in users]
    return ListOf(items=items, count=len(items))


@router.post("/users", status_code=status.HTTP_201_CREATED)
async def invite_user(body: UserInvite, ctx: Invite) -> UserRead:
    """Invite a user (by the provider's user id) to roles before they first sign in."""
    user = await ctx.session.scalar(select(User).where(User.subject == body.subject))
    if user is None:
        user = User(
            name=body.subject, owner_id=SYSTEM_OWNER, subject=body.subject, email=body.email
        )
        ctx.session.add(user)
        await ctx.session.flush()
    await _assign(ctx, ShareSubject.USER, body.subject, body.roles)
    return await _user_read(ctx, user)


@router.put("/users/{subject}/roles")
async def assign_user_roles(subject: Subject, body: RoleAssignment, ctx: EditUsers) -> UserRead:
    user = await _user(ctx, subject)
    await _assign(ctx, ShareSubject.USER, subject, body.roles)
    return await _user_read(ctx, user)


@router.delete("/users/{subject}", status_code=status.HTTP_204_NO_CONTENT)
async def revoke_user(subject: Subject, ctx: RemoveUsers) -> None:
    """Revoke every role bound to the user; their objects stay, shown with their owner."""
    await _user(ctx, subject)
    await _assign(ctx, ShareSubject.USER, subject, [])


@router.get("/groups")
async def list_groups(ctx: ViewUsers) -> ListOf[GroupRead]:
    groups = await ctx.session.scalars(select(Group).order_by(Group.name))
    items = [
        GroupRead(name=g.name, roles=await _bound_roles(ctx, ShareSubject.GROUP, g.name))
        for g in groups
    ]
    return ListOf(items=items, count=len(items))


@router.put("/groups/{name}/roles")
async def assign_group_roles(name: Subject, body: RoleAssignment, ctx: EditUsers) -> GroupRead:
    if await ctx.session.scalar(select(Group).where(Group.name == name)) is None:
        ctx.session.add(Group(name=name, owner_id=SYSTEM_OWNER))
    await _assign(ctx, ShareSubject.GROUP, name, body.roles)
    return GroupRead(name=name, roles=await _bound_roles(ctx, ShareSubject.GROUP, name))
