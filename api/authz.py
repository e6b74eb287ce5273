"""The one guard: every route declares what it needs as `Authorize(kind, action)`.

The guard resolves the caller's roles (static role mapping from settings, plus role bindings
of the user and its groups), checks the role permission on RBAC kinds and the mode, and hands
the route an `AuthzContext` that loads objects only when the caller may see them (404
otherwise) and may take the action (403 when visible but not permitted).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, and_, or_, select, true, union
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from api.auth import Principal
from api.deps import PrincipalDep, SessionDep, SettingsDep
from api.errors import Forbidden, NotFound
from lifeboat.catalog.models import (
    SYSTEM_OWNER,
    CatalogObject,
    Cluster,
    Group,
    Role,
    RoleBinding,
    Share,
    User,
    utcnow,
)
from lifeboat.rbac.access import (
    IN_A_CLUSTER,
    NEEDS,
    AccessLevel,
    Caller,
    Grant,
    ShareSubject,
    Use,
    object_access,
)
from lifeboat.rbac.matrix import (
    BUILTIN_DESCRIPTIONS,
    BUILTIN_PERMISSIONS,
    MODE_KINDS_DISABLED,
    MODE_ROLES,
    RBAC_KINDS,
    SUPER_ADMIN_KINDS,
    Action,
    BuiltinRole,
    Kind,
    Permission,
)
from lifeboat.settings import Settings

T = TypeVar("T", bound=CatalogObject)

# Seen-in-token bookkeeping is refreshed at most this often per user.
LAST_SEEN_RESOLUTION = timedelta(minutes=5)
_PERMISSION_VALUES = frozenset(p.value for p in Permission)
_ROLE_NAMESPACE = uuid.UUID("6f1c8a52-1d0e-4b8e-9a43-3f8e2b0c9d11")


def builtin_role_uid(role: BuiltinRole) -> str:
    """Built-in roles have the same uid in every deployment."""
    return str(uuid.uuid5(_ROLE_NAMESPACE, role.value))


async def ensure_builtin_roles(session: AsyncSession) -> None:
    """Keep the built-in role rows equal to the matrix (run at start-up)."""
    for role, permissions in BUILTIN_PERMISSIONS.items():
        row = await session.get(Role, builtin_role_uid(role))
        if row is None:
            row = Role(uid=builtin_role_uid(role), name=role.value, owner_id=SYSTEM_OWNER)
            session.add(row)
        row.builtin = True
        row.permissions = sorted(permissions)
        row.description = BUILTIN_DESCRIPTIONS[role]
    await session.commit()


async def _record_user(session: AsyncSession, principal: Principal) -> None:
    """Remember users and groups seen in tokens, so owners and share targets have names."""
    user = await session.scalar(select(User).where(User.subject == principal.subject))
    now = utcnow()
    if user is None:
        try:
            async with session.begin_nested():
                session.add(
                    User(
                        name=principal.username,
                        owner_id=SYSTEM_OWNER,
                        subject=principal.subject,
                        email=principal.email,
                        last_seen_at=now,
                    )
                )
        except IntegrityError:  # a concurrent first request recorded the same user
            pass
    elif (
        user.last_seen_at is None
        or not user.in_provider
        or now - user.last_seen_at > LAST_SEEN_RESOLUTION
    ):
        user.last_seen_at, user.email, user.in_provider = now, principal.email, True
        user.name = principal.username
    if principal.groups:
        known = set(
            await session.scalars(select(Group.name).where(Group.name.in_(principal.groups)))
        )
        for name in sorted(set(principal.groups) - known):
            try:
                async with session.begin_nested():
                    session.add(Group(name=name, owner_id=SYSTEM_OWNER))
            except IntegrityError:
                pass
    await session.commit()


async def resolve_caller(session: AsyncSession, principal: Principal, settings: Settings) -> Caller:
    """The caller's roles and permissions in force now, in the deployment's mode."""
    await _record_user(session, principal)
    claimed = {*principal.groups, *principal.provider_roles}
    names = {settings.role_mapping[c] for c in claimed if c in settings.role_mapping}
    bound = await session.scalars(
        select(Role)
        .join(RoleBinding, RoleBinding.role_uid == Role.uid)
        .where(
            or_(
                and_(
                    RoleBinding.subject_kind == ShareSubject.USER,
                    RoleBinding.subject == principal.subject,
                ),
                and_(
                    RoleBinding.subject_kind == ShareSubject.GROUP,
                    RoleBinding.subject.in_(principal.groups),
                ),
            )
        )
    )
    custom: set[Permission] = set()
    for role in bound:
        names.add(role.name)
        if not role.builtin:
            custom.update(Permission(p) for p in role.permissions if p in _PERMISSION_VALUES)
    builtin_names = {r.value for r in BuiltinRole}
    allowed = {r.value for r in MODE_ROLES[settings.mode]}
    # A built-in role absent from this mode (app admin in federated) carries nothing.
    roles = {n for n in names if n in allowed or n not in builtin_names}
    permissions = set(custom)
    for name in roles & builtin_names:
        permissions |= BUILTIN_PERMISSIONS[BuiltinRole(name)]
    return Caller(
        subject=principal.subject,
        username=principal.username,
        groups=frozenset(principal.groups),
        roles=frozenset(roles),
        permissions=frozenset(permissions),
    )


def _grants_to(caller: Caller) -> ColumnElement[bool]:
    return or_(
        Share.subject_kind == ShareSubject.EVERYONE,
        and_(Share.subject_kind == ShareSubject.USER, Share.subject == caller.subject),
        and_(Share.subject_kind == ShareSubject.GROUP, Share.subject.in_(caller.groups)),
    )


def check_allowed(caller: Caller, kind: Kind, action: Action, settings: Settings) -> None:
    """The mode offers the kind, and on RBAC kinds a role of the caller permits the action."""
    if kind in MODE_KINDS_DISABLED[settings.mode]:
        raise NotFound(f"{kind} are not available in {settings.mode} mode")
    if kind in SUPER_ADMIN_KINDS and not caller.is_super_admin:
        raise Forbidden(f"only a super admin may {action} {kind}")
    if kind in RBAC_KINDS and not caller.can(Permission.of(kind, action)):
        raise Forbidden(
            f"your roles ({', '.join(sorted(caller.roles)) or 'none'}) do not allow you to "
            f"{action} {kind}"
        )


def _shares_of(kind: Kind, obj: Any) -> ColumnElement[bool]:
    """Shares of an object (or, given a model class, of each row).

    Sharing a cluster shares the sharer's own backups of it ("share cluster backups").
    """
    direct = and_(Share.object_kind == kind, Share.object_uid == obj.uid)
    if kind != Kind.BACKUPS:
        return direct
    return or_(direct, _cluster_shares_of(obj))


def _cluster_shares_of(backup: Any) -> ColumnElement[bool]:
    """The shares of a backup's cluster made by the backup's owner (or, given the model, of
    each row's)."""
    return and_(
        Share.object_kind == Kind.CLUSTERS,
        Share.object_uid == backup.cluster_uid,
        Share.owner_id == backup.owner_id,
    )


def _cluster_of(obj: Any) -> Any:
    """The cluster uid of a backup, restore or schedule (or that column of its model)."""
    return obj.cluster_uid


@dataclass
class Access:
    """A signed-in caller, before any kind is chosen (profile, shares of any kind)."""

    caller: Caller
    session: AsyncSession
    settings: Settings

    def for_kind(self, kind: Kind, action: Action) -> AuthzContext:
        """The context for acting on a kind known only from the request body."""
        check_allowed(self.caller, kind, action, self.settings)
        return AuthzContext(self.caller, self.session, self.settings, kind, action)

    def owned(self, model: type[CatalogObject]) -> ColumnElement[bool]:
        """The caller's own objects of a model; every owner's for a super admin, who manages
        everything (its restrictions are in `lifeboat.rbac.access`)."""
        if self.caller.is_super_admin:
            return true()
        return model.owner_id == self.caller.subject


@dataclass
class AuthzContext(Access):
    """What a route may do, for the caller, on its kind."""

    kind: Kind
    action: Action

    async def grants(self, obj: CatalogObject) -> list[Grant]:
        """The shares that reach this object (for a backup, its owner's cluster shares too)."""
        rows = await self.session.scalars(select(Share).where(_shares_of(self.kind, obj)))
        return [Grant(s.subject_kind, s.subject, s.access) for s in rows]

    async def access(self, obj: CatalogObject) -> AccessLevel | None:
        cluster_owner = None
        if self.kind in IN_A_CLUSTER:
            cluster_owner = await self.session.scalar(
                select(Cluster.owner_id).where(Cluster.uid == _cluster_of(obj))
            )
        return object_access(
            self.caller,
            self.kind,
            obj.owner_id,
            await self.grants(obj),
            cluster_owner_id=cluster_owner,
        )

    async def load(self, model: type[T], uid: str, *, to: Use | None = None) -> T:
        """The object when the caller may use it so (by default: see it for views and
        creates, change it otherwise); 404 when it is invisible to them, 403 when the access
        they have is not enough."""
        obj = await self.session.get(model, uid)
        level = await self.access(obj) if obj is not None else None
        if obj is None or level is None:
            raise NotFound(f"no {self.kind.noun} {uid}")
        use = to or (Use.SEE if self.action in (Action.VIEW, Action.CREATE) else Use.MANAGE)
        if not level.allows(NEEDS[use]):
            raise Forbidden(
                f"this {self.kind.noun} is shared with you for {level} access; "
                f"to {use} you need {NEEDS[use]} access: ask its owner"
            )
        return obj

    def visible(self, model: type[T]) -> Select[T]:
        """A query of the objects of the kind the caller may see.

        The uids the caller may see are a UNION of parts that each follow an index (their own
        objects; objects shared with them, their groups or everyone; for backups, those of a
        cluster its owner shared with them; what is in clusters they own), so a caller who
        sees a hundred of a hundred thousand backups reads about a hundred rows.
        """
        query = select(model)
        if self.caller.is_super_admin:
            return query
        me = self.caller.subject
        parts: list[Select[Any]] = [
            select(model.uid).where(model.owner_id == me),
            select(Share.object_uid).where(Share.object_kind == self.kind, _grants_to(self.caller)),
        ]
        if self.kind == Kind.BACKUPS:
            parts.append(
                select(model.uid)
                .join(Share, _cluster_shares_of(model))
                .where(_grants_to(self.caller))
            )
        if self.kind in IN_A_CLUSTER:
            parts.append(
                select(model.uid)
                .join(Cluster, Cluster.uid == _cluster_of(model))
                .where(Cluster.owner_id == me)
            )
        return query.where(model.uid.in_(union(*parts)))


async def _caller(
    principal: Principal, session: AsyncSession, settings: Settings, *, needs_role: bool
) -> Caller:
    caller = await resolve_caller(session, principal, settings)
    if needs_role and not caller.roles:
        raise Forbidden(
            f"{principal.username} has no Lifeboat role: ask an administrator to assign one"
        )
    return caller


class Authorize:
    """The guard: `Annotated[AuthzContext, Depends(Authorize(kind, action))]` in a route."""

    def __init__(self, kind: Kind, action: Action) -> None:
        self.kind = kind
        self.action = action

    async def __call__(
        self, principal: PrincipalDep, session: SessionDep, settings: SettingsDep
    ) -> AuthzContext:
        caller = await _caller(principal, session, settings, needs_role=True)
        check_allowed(caller, self.kind, self.action, settings)
        return AuthzContext(caller, session, settings, self.kind, self.action)


class SignedIn:
    """The guard for routes not tied to one kind: any signed-in caller (with a role if asked)."""

    def __init__(self, *, needs_role: bool = True) -> None:
        self.needs_role = needs_role

    async def __call__(
        self, principal: PrincipalDep, session: SessionDep, settings: SettingsDep
    ) -> Access:
        caller = await _caller(principal, session, settings, needs_role=self.needs_role)
        return Access(caller, session, settings)
