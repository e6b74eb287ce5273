"""Roles: the built-in ones (read-only, from the matrix) and custom sets of permissions."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, status
from pydantic import BaseModel, Field
from sqlalchemy import func, select

from api.authz import Authorize, AuthzContext
from api.crud import delete_object, list_visible, save_unique
from api.errors import Conflict, Forbidden
from api.schemas import Labels, ListOf, LongText, Name, ObjectRead, Uid
from lifeboat.catalog.models import Role, RoleBinding
from lifeboat.rbac.access import permissions_beyond
from lifeboat.rbac.matrix import MODE_ROLES, Action, BuiltinRole, Kind, Permission

router = APIRouter(prefix="/roles", tags=["roles"])

CreateRole = Annotated[AuthzContext, Depends(Authorize(Kind.ROLES, Action.CREATE))]
ViewRole = Annotated[AuthzContext, Depends(Authorize(Kind.ROLES, Action.VIEW))]
EditRole = Annotated[AuthzContext, Depends(Authorize(Kind.ROLES, Action.EDIT))]
DeleteRole = Annotated[AuthzContext, Depends(Authorize(Kind.ROLES, Action.DELETE))]


class RoleCreate(BaseModel):
    name: Name
    description: LongText = Field(default="", max_length=1000)
    permissions: list[Permission] = Field(min_length=1, max_length=len(Permission))
    labels: Labels = Field(default_factory=dict)


class RoleRead(ObjectRead):
    builtin: bool
    description: str
    permissions: list[str]


def _refuse_builtin(role: Role) -> None:
    if role.builtin:
        raise Forbidden(f"{role.name} is a built-in role: its rules cannot be changed or removed")


def _only_held(ctx: AuthzContext, permissions: list[Permission]) -> None:
    """A role holds only permissions its author holds (nobody grants more than they have)."""
    if beyond := permissions_beyond(ctx.caller, permissions):
        raise Forbidden(
            f"you cannot grant permissions you do not hold: {', '.join(beyond)}",
            field="permissions",
        )


def _refuse_builtin_name(name: str) -> None:
    if name in {r.value for r in BuiltinRole}:
        raise Conflict(f"{name} is the name of a built-in role: choose another", field="name")


@router.get("")
async def list_roles(ctx: ViewRole) -> ListOf[RoleRead]:
    """Built-in roles of this mode, and the custom roles the caller owns or that are shared."""
    offered = [r.value for r in MODE_ROLES[ctx.settings.mode]]
    builtin = await ctx.session.scalars(
        select(Role).where(Role.builtin.is_(True), Role.name.in_(offered)).order_by(Role.name)
    )
    custom = [r for r in await list_visible(ctx, Role) if not r.builtin]
    rows = [*builtin, *custom]
    items = [RoleRead.model_validate(r) for r in rows]
    return ListOf(items=items, count=len(items))


@router.get("/{uid}")
async def get_role(uid: Uid, ctx: ViewRole) -> RoleRead:
    role = await ctx.session.get(Role, uid)
    if role is not None and role.builtin:
        return RoleRead.model_validate(role)
    return RoleRead.model_validate(await ctx.load(Role, uid))


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_role(body: RoleCreate, ctx: CreateRole) -> RoleRead:
    """A custom role: a set of the permissions the built-in roles are made of, all held by
    its author."""
    _refuse_builtin_name(body.name)
    _only_held(ctx, body.permissions)
    role = Role(
        name=body.name,
        description=body.description,
        permissions=sorted(set(body.permissions)),
        labels=body.labels,
        owner_id=ctx.caller.subject,
    )
    return RoleRead.model_validate(await save_unique(ctx, role))


@router.put("/{uid}")
async def update_role(uid: Uid, body: RoleCreate, ctx: EditRole) -> RoleRead:
    role = await ctx.load(Role, uid)
    _refuse_builtin(role)
    _refuse_builtin_name(body.name)
    _only_held(ctx, body.permissions)
    role.name, role.description, role.labels = body.name, body.description, body.labels
    role.permissions = sorted(set(body.permissions))
    return RoleRead.model_validate(await save_unique(ctx, role))


@router.delete("/{uid}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_role(uid: Uid, ctx: DeleteRole) -> None:
    role = await ctx.load(Role, uid)
    _refuse_builtin(role)
    assigned = await ctx.session.scalar(
        select(func.count()).where(RoleBinding.role_uid == role.uid)
    )
    if assigned:
        raise Conflict(f"role {role.name} is assigned {assigned} time(s): unassign it first")
    await delete_object(ctx, role)
