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
    """How far a caller may go with an object: view < restore < full < owner.

    Shares give one of the first three (`SHARE_LEVELS`); owners and super admins stand at
    `owner`.
    """

    VIEW = "view"
    RESTORE = "restore"
    FULL = "full"
    OWNER = "owner"

    @property
    def rank(self) -> int:
        return list(AccessLevel).index(self)

    def allows(self, needed: AccessLevel) -> bool:
        return self.rank >= needed.rank


class ShareLevel(enum.StrEnum):
    """The access a share gives: view, restore or full (never an owner's)."""

    VIEW = "view"
    RESTORE = "restore"
    FULL = "full"


class Use(enum.StrEnum):
    """What a route does with an object, in words that complete "to ... you need"."""

    SEE = "see it"
    RESTORE = "restore it"
    RESTORE_ITS_BACKUPS_INTO = "restore its own backups into it"
    RESTORE_OTHER_BACKUPS_INTO = "restore another cluster's backup into it"
    BACK_UP = "back it up, schedule its backups or run rules in it"
    SYNC = "sync it"
    MANAGE = "change it"
    ADMINISTER = "replace its credentials, remove it or share it"


# The access level each use needs (the README's "Access levels" table says it per kind).
NEEDS: dict[Use, AccessLevel] = {
    Use.SEE: AccessLevel.VIEW,
    Use.RESTORE: AccessLevel.RESTORE,
    Use.RESTORE_ITS_BACKUPS_INTO: AccessLevel.RESTORE,
    Use.RESTORE_OTHER_BACKUPS_INTO: AccessLevel.FULL,
    Use.BACK_UP: AccessLevel.FULL,
    Use.SYNC: AccessLevel.FULL,
    Use.MANAGE: AccessLevel.FULL,
    Use.ADMINISTER: AccessLevel.OWNER,
}
# Kinds that act in one cluster: the cluster's owner sees every one of them in its cluster.
IN_A_CLUSTER = frozenset({Kind.BACKUPS, Kind.RESTORES, Kind.BACKUP_SCHEDULES})


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
    caller: Caller,
    kind: Kind,
    owner_id: str,
    grants: Iterable[Grant],
    *,
    cluster_owner_id: str | None = None,
) -> AccessLevel | None:
    """The caller's access to one object, or None when the object is invisible to them.

    Owners and super admins stand at `owner` (the super admin's restrictions are rules of the
    routes they concern). Others have what the shares give them; on RBAC kinds a share only
    lets a non-owner view and use the object. The owner of a cluster sees what others back
    up from it, schedule on it or restore into it (`cluster_owner_id`).
    """
    if owner_id == caller.subject or caller.is_super_admin:
        return AccessLevel.OWNER
    levels = [AccessLevel(g.access) for g in grants if caller.receives(g)]
    if kind in IN_A_CLUSTER and cluster_owner_id == caller.subject:
        levels.append(AccessLevel.VIEW)
    if not levels:
        return None
    if kind in RBAC_KINDS:
        return AccessLevel.VIEW
    return max(levels, key=lambda level: level.rank)


def may_serve_cluster(caller: Caller, cluster_owner_id: str, part_owner_id: str) -> bool:
    """Whether a backup location or rule may serve a backup of a cluster.

    In a cluster the caller does not own, only its owner's locations receive its data and
    only its owner's rules run commands in its pods; a super admin may use any.
    """
    return caller.is_super_admin or cluster_owner_id in (caller.subject, part_owner_id)


def permissions_beyond(caller: Caller, permissions: Iterable[str]) -> list[str]:
    """The permissions the caller would grant (in a role or a binding) but does not hold.

    Nobody grants more than they have: an infra admin cannot make a role with users and
    groups create or delete and give it to itself.
    """
    return sorted(set(permissions) - {p.value for p in caller.permissions})


# The super admin's restrictions (seeds/001), each a refusal in words, or None.


def share_refusal(caller: Caller, kind: Kind, owner_id: str) -> str | None:
    """Why the caller may not share (or unshare) an object: only its owner or a super admin
    shares it, and a super admin shares only the backups it created."""
    if owner_id == caller.subject:
        return None
    if not caller.is_super_admin:
        return "only the owner (or a super admin) can share or unshare this object"
    if kind == Kind.BACKUPS:
        return "super admins can share only the backups they created"
    return None


def credentials_read_refusal(caller: Caller, owner_id: str) -> str | None:
    """Why the caller may not read an object's stored credentials (a cluster's kubeconfig):
    only its owner reads them; a super admin may replace another owner's, never read them."""
    if owner_id == caller.subject:
        return None
    if caller.is_super_admin:
        return "only its owner may read its kubeconfig; as a super admin you may replace it"
    return "only its owner may read its kubeconfig"


def role_change_refusal(caller: Caller, name: str, permissions: Iterable[str]) -> str | None:
    """Why the caller may not grant or revoke a role: only a super admin grants or revokes the
    super admin role, and nobody a role holding permissions they do not hold."""
    if name == BuiltinRole.SUPER_ADMIN and not caller.is_super_admin:
        return "only a super admin can grant or revoke the super admin role"
    if beyond := permissions_beyond(caller, permissions):
        return (
            f"role {name} holds permissions you do not hold ({', '.join(beyond)}): "
            "you cannot grant or revoke it"
        )
    return None
