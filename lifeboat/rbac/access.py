"""Who may do what to which object: role permissions first, then ownership and shares.

Pure functions over plain data, so the policy is tested without a server and applied by the
API's one guard.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass

from lifeboat.rbac.matrix import RBAC_KINDS, BuiltinRole, Kind, Permission


class AccessLevel(enum.StrEnum):
    """How far a share lets its subject go: view < restore < full."""

    VIEW = "view"
    RESTORE = "restore"
    FULL = "full"

    @property
    def rank(self) -> int:
        return list(AccessLevel).index(self)

    def allows(self, needed: AccessLevel) -> bool:
        return self.rank >= needed.rank


class ShareSubject(enum.StrEnum):
    USER = "user"
    GROUP = "group"
    EVERYONE = "everyone"


@dataclass(frozen=True)
class Grant:
    """One share of an object: to whom, at which level."""

    subject_kind: str
    subject: str
    access: str


@dataclass(frozen=True)
class Caller:
    """A signed-in user with the roles and permissions in force for this request."""

    subject: str
    username: str
    groups: frozenset[str]
    roles: frozenset[str]
    permissions: frozenset[Permission]

    @property
    def is_super_admin(self) -> bool:
        return BuiltinRole.SUPER_ADMIN in self.roles

    def can(self, permission: Permission) -> bool:
        return permission in self.permissions

    def receives(self, grant: Grant) -> bool:
        """Whether a share reaches this caller: directly, through a group, or to everyone."""
        return (
            grant.subject_kind == ShareSubject.EVERYONE
            or (grant.subject_kind == ShareSubject.USER and grant.subject == self.subject)
            or (grant.subject_kind == ShareSubject.GROUP and grant.subject in self.groups)
        )


def object_access(
    caller: Caller, kind: Kind, owner_id: str, grants: Iterable[Grant]
) -> AccessLevel | None:
    """The caller's access to one object, or None when the object is invisible to them.

    Owners and super admins have full access (the super admin's restrictions are rules of the
    routes they concern). Others have what the shares give them; on RBAC kinds a share only
    lets a non-owner view and use the object.
    """
    if owner_id == caller.subject or caller.is_super_admin:
        return AccessLevel.FULL
    levels = [AccessLevel(g.access) for g in grants if caller.receives(g)]
    if not levels:
        return None
    if kind in RBAC_KINDS:
        return AccessLevel.VIEW
    return max(levels, key=lambda level: level.rank)
