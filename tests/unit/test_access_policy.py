"""The object-access policy as data: levels, what each use needs, who may serve a cluster."""

from __future__ import annotations

from lifeboat.rbac.access import (
    NEEDS,
    AccessLevel,
    Caller,
    Grant,
    ShareLevel,
    Use,
    credentials_read_refusal,
    may_serve_cluster,
    object_access,
    permissions_beyond,
    role_change_refusal,
    share_refusal,
)
from lifeboat.rbac.matrix import BUILTIN_PERMISSIONS, BuiltinRole, Kind


def _caller(subject: str, role: BuiltinRole = BuiltinRole.APP_ADMIN) -> Caller:
    return Caller(
        subject=subject,
        username=subject,
        groups=frozenset({"team"}),
        roles=frozenset({role}),
        permissions=BUILTIN_PERMISSIONS[role],
    )


def test_every_use_needs_a_level_and_shares_never_reach_an_owners() -> None:
    assert set(NEEDS) == set(Use)
    assert AccessLevel.OWNER not in {AccessLevel(level) for level in ShareLevel}
    full = [Grant("group", "team", "full")]
    level = object_access(_caller("bob"), Kind.CLUSTERS, "alice", full)
    assert level == AccessLevel.FULL
    assert not level.allows(NEEDS[Use.ADMINISTER])
    assert level.allows(NEEDS[Use.BACK_UP])


def test_a_view_share_only_shows_and_a_restore_share_only_puts_back() -> None:
    bob = _caller("bob")
    view = object_access(bob, Kind.CLUSTERS, "alice", [Grant("user", "bob", "view")])
    restore = object_access(bob, Kind.CLUSTERS, "alice", [Grant("user", "bob", "restore")])
    assert view is not None and restore is not None
    assert [u for u in Use if view.allows(NEEDS[u])] == [Use.SEE]
    assert [u for u in Use if restore.allows(NEEDS[u])] == [
        Use.SEE,
        Use.RESTORE,
        Use.RESTORE_ITS_BACKUPS_INTO,
    ]


def test_the_cluster_owner_sees_what_others_do_in_it() -> None:
    alice = _caller("alice")
    for kind in (Kind.BACKUPS, Kind.RESTORES, Kind.BACKUP_SCHEDULES):
        assert object_access(alice, kind, "bob", [], cluster_owner_id="alice") == AccessLevel.VIEW
        assert object_access(alice, kind, "bob", [], cluster_owner_id="carol") is None
    assert object_access(alice, Kind.RULES, "bob", [], cluster_owner_id="alice") is None


def test_only_the_cluster_owners_locations_and_rules_serve_it() -> None:
    bob = _caller("bob")
    assert may_serve_cluster(bob, "bob", "carol")  # bob's own cluster: anything bob may use
    assert may_serve_cluster(bob, "alice", "alice")
    assert not may_serve_cluster(bob, "alice", "bob")
    assert may_serve_cluster(_caller("root", BuiltinRole.SUPER_ADMIN), "alice", "bob")


def test_nobody_grants_beyond_what_they_hold() -> None:
    infra = _caller("ivy", BuiltinRole.INFRA_ADMIN)
    assert permissions_beyond(infra, ["roles.view", "users-groups.edit"]) == []
    assert permissions_beyond(infra, ["users-groups.delete", "users-groups.create"]) == [
        "users-groups.create",
        "users-groups.delete",
    ]


def test_the_super_admins_restrictions() -> None:
    root, bob = _caller("root", BuiltinRole.SUPER_ADMIN), _caller("bob")
    assert share_refusal(root, Kind.CLUSTERS, "alice") is None
    assert "only the backups they created" in str(share_refusal(root, Kind.BACKUPS, "alice"))
    assert share_refusal(root, Kind.BACKUPS, "root") is None
    assert "only the owner" in str(share_refusal(bob, Kind.RULES, "alice"))
    assert credentials_read_refusal(bob, "bob") is None
    assert "you may replace it" in str(credentials_read_refusal(root, "alice"))
    assert "replace" not in str(credentials_read_refusal(bob, "alice"))
    infra = _caller("ivy", BuiltinRole.INFRA_ADMIN)
    super_role = (BuiltinRole.SUPER_ADMIN.value, BUILTIN_PERMISSIONS[BuiltinRole.SUPER_ADMIN])
    assert "only a super admin" in str(role_change_refusal(infra, *super_role))
    assert role_change_refusal(root, *super_role) is None
    assert role_change_refusal(infra, "mine", ["roles.view"]) is None
    assert "users-groups.delete" in str(role_change_refusal(infra, "x", ["users-groups.delete"]))
