"""Kinds, actions, permissions, built-in roles and their privilege matrix, and the modes.

The matrix is the product's role privilege matrix, row for row: each cell lists the actions a
built-in role may take on an RBAC kind (C create, V view, E edit, D delete). Everything else
about roles is derived from it.
"""

from __future__ import annotations

import enum

from lifeboat.settings import Mode


class Kind(enum.StrEnum):
    # RBAC kinds: governed by role permissions, then by ownership and shares.
    CLOUD_ACCOUNTS = "cloud-accounts"
    BACKUP_LOCATIONS = "backup-locations"
    SCHEDULE_POLICIES = "schedule-policies"
    RULES = "rules"
    ROLES = "roles"
    USERS_GROUPS = "users-groups"
    # Non-RBAC kinds: open to every role, governed by ownership and shares.
    CLUSTERS = "clusters"
    BACKUP_SCHEDULES = "backup-schedules"
    BACKUPS = "backups"
    RESTORES = "restores"
    VIRTUAL_MACHINES = "virtual-machines"
    LIGHTHOUSES = "lighthouses"
    # Where a user's backups and restores report their end; never shared: owner only.
    NOTIFICATION_RECEIVERS = "notification-receivers"
    NOTIFICATION_SUBSCRIPTIONS = "notification-subscriptions"
    # Super admins only (seeds/001: "Initiate Cluster Discovery and automated onboarding").
    DISCOVERY_CONFIGS = "discovery-configs"
    # Importing and removing licenses (everyone signed in reads the license's status).
    LICENSES = "licenses"

    @property
    def noun(self) -> str:
        """One object of the kind, in words: `schedule policy`."""
        return _NOUNS.get(self, self.value.removesuffix("s").replace("-", " "))


_NOUNS = {
    Kind.SCHEDULE_POLICIES: "schedule policy",
    Kind.USERS_GROUPS: "user or group",
    Kind.DISCOVERY_CONFIGS: "discovery configuration",
    Kind.NOTIFICATION_RECEIVERS: "notification receiver",
    Kind.NOTIFICATION_SUBSCRIPTIONS: "notification subscription",
}

RBAC_KINDS = (
    Kind.CLOUD_ACCOUNTS,
    Kind.BACKUP_LOCATIONS,
    Kind.SCHEDULE_POLICIES,
    Kind.RULES,
    Kind.ROLES,
    Kind.USERS_GROUPS,
)


class Action(enum.StrEnum):
    CREATE = "create"
    VIEW = "view"
    EDIT = "edit"
    DELETE = "delete"


_LETTER = {"C": Action.CREATE, "V": Action.VIEW, "E": Action.EDIT, "D": Action.DELETE}


class Permission(enum.StrEnum):
    """An action on an RBAC kind; custom roles are sets of these."""

    CLOUD_ACCOUNTS_CREATE = "cloud-accounts.create"
    CLOUD_ACCOUNTS_VIEW = "cloud-accounts.view"
    CLOUD_ACCOUNTS_EDIT = "cloud-accounts.edit"
    CLOUD_ACCOUNTS_DELETE = "cloud-accounts.delete"
    BACKUP_LOCATIONS_CREATE = "backup-locations.create"
    BACKUP_LOCATIONS_VIEW = "backup-locations.view"
    BACKUP_LOCATIONS_EDIT = "backup-locations.edit"
    BACKUP_LOCATIONS_DELETE = "backup-locations.delete"
    SCHEDULE_POLICIES_CREATE = "schedule-policies.create"
    SCHEDULE_POLICIES_VIEW = "schedule-policies.view"
    SCHEDULE_POLICIES_EDIT = "schedule-policies.edit"
    SCHEDULE_POLICIES_DELETE = "schedule-policies.delete"
    RULES_CREATE = "rules.create"
    RULES_VIEW = "rules.view"
    RULES_EDIT = "rules.edit"
    RULES_DELETE = "rules.delete"
    ROLES_CREATE = "roles.create"
    ROLES_VIEW = "roles.view"
    ROLES_EDIT = "roles.edit"
    ROLES_DELETE = "roles.delete"
    USERS_GROUPS_CREATE = "users-groups.create"
    USERS_GROUPS_VIEW = "users-groups.view"
    USERS_GROUPS_EDIT = "users-groups.edit"
    USERS_GROUPS_DELETE = "users-groups.delete"

    @classmethod
    def of(cls, kind: Kind, action: Action) -> Permission:
        return cls(f"{kind}.{action}")


class BuiltinRole(enum.StrEnum):
    SUPER_ADMIN = "lifeboat.super-admin"
    INFRA_ADMIN = "lifeboat.infra-admin"
    APP_ADMIN = "lifeboat.app-admin"
    APP_USER = "lifeboat.app-user"


# The role privilege matrix (seeds/002), one row per built-in role, one column per RBAC kind.
MATRIX: dict[BuiltinRole, dict[Kind, str]] = {
    BuiltinRole.SUPER_ADMIN: {
        Kind.CLOUD_ACCOUNTS: "CVED",
        Kind.BACKUP_LOCATIONS: "CVED",
        Kind.SCHEDULE_POLICIES: "CVED",
        Kind.RULES: "CVED",
        Kind.ROLES: "CVED",
        Kind.USERS_GROUPS: "CVED",
    },
    BuiltinRole.INFRA_ADMIN: {
        Kind.CLOUD_ACCOUNTS: "CVED",
        Kind.BACKUP_LOCATIONS: "CVED",
        Kind.SCHEDULE_POLICIES: "CVED",
        Kind.RULES: "CVED",
        Kind.ROLES: "CVED",
        Kind.USERS_GROUPS: "VE",
    },
    BuiltinRole.APP_ADMIN: {
        Kind.CLOUD_ACCOUNTS: "V",
        Kind.BACKUP_LOCATIONS: "CVED",
        Kind.SCHEDULE_POLICIES: "CVED",
        Kind.RULES: "CVED",
        Kind.ROLES: "V",
        Kind.USERS_GROUPS: "",
    },
    # The app user views only what is shared with it (it cannot create anything to own).
    BuiltinRole.APP_USER: {
        Kind.CLOUD_ACCOUNTS: "V",
        Kind.BACKUP_LOCATIONS: "V",
        Kind.SCHEDULE_POLICIES: "V",
        Kind.RULES: "V",
        Kind.ROLES: "V",
        Kind.USERS_GROUPS: "",
    },
}

BUILTIN_PERMISSIONS: dict[BuiltinRole, frozenset[Permission]] = {
    role: frozenset(
        Permission.of(kind, _LETTER[letter]) for kind, letters in row.items() for letter in letters
    )
    for role, row in MATRIX.items()
}

BUILTIN_DESCRIPTIONS = {
    BuiltinRole.SUPER_ADMIN: "Sees and manages every object of every user, within a few rules",
    BuiltinRole.INFRA_ADMIN: "Owns infrastructure: cloud accounts, locations, policies, roles",
    BuiltinRole.APP_ADMIN: "Manages own applications, schedule policies and rules",
    BuiltinRole.APP_USER: "Backs up and restores applications with shared resources",
}


# What each mode offers (seeds/001, "Super admin role across operational modes").
MODE_KINDS_DISABLED: dict[Mode, frozenset[Kind]] = {
    Mode.CLASSIC: frozenset({Kind.DISCOVERY_CONFIGS}),
    Mode.FEDERATED: frozenset({Kind.CLOUD_ACCOUNTS, Kind.VIRTUAL_MACHINES}),
}
# Kinds only a super admin may act on, whatever other roles allow.
SUPER_ADMIN_KINDS = frozenset({Kind.DISCOVERY_CONFIGS, Kind.LICENSES})
MODE_ROLES: dict[Mode, tuple[BuiltinRole, ...]] = {
    Mode.CLASSIC: tuple(BuiltinRole),
    Mode.FEDERATED: (BuiltinRole.SUPER_ADMIN, BuiltinRole.INFRA_ADMIN, BuiltinRole.APP_USER),
}
MODE_FEATURES: dict[Mode, frozenset[str]] = {
    Mode.CLASSIC: frozenset({"virtual-machines", "cloud-accounts"}),
    Mode.FEDERATED: frozenset({"cluster-discovery"}),
}
