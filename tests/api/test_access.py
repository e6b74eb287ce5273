"""Roles, role assignment, sharing and the super admin, signed in with real provider tokens."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import delete

from deploy.local.stack import Stack
from lifeboat.catalog.models import Backup, BackupLocation, BackupSchedule, SchedulePolicy
from lifeboat.catalog.session import create_engine, create_sessionmaker
from lifeboat.policies import SchedulePolicySpec
from lifeboat.rbac.matrix import BUILTIN_PERMISSIONS, BuiltinRole
from tests.api.helpers import remove_cluster, unique
from tests.conftest import Users

SUPER = BuiltinRole.SUPER_ADMIN.value


def _cluster(api: Any, kubeconfig: str) -> dict[str, Any]:
    response = api.post("/api/v1/clusters", json={"name": unique("c"), "kubeconfig": kubeconfig})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def _visible(api: Any, uid: str) -> bool:
    listed = {c["uid"] for c in api.get("/api/v1/clusters").json()["items"]}
    status = api.get(f"/api/v1/clusters/{uid}").status_code
    assert (uid in listed) == (status == 200), "list and get disagree"
    return uid in listed


@pytest.mark.parametrize(
    ("username", "role"),
    [
        ("superadmin", BuiltinRole.SUPER_ADMIN),
        ("infraadmin", BuiltinRole.INFRA_ADMIN),
        ("appadmin", BuiltinRole.APP_ADMIN),
        ("appuser", BuiltinRole.APP_USER),
    ],
)
def test_each_seeded_user_holds_its_role_through_its_group(
    as_user: Users, username: str, role: BuiltinRole
) -> None:
    me = as_user(username).get("/api/v1/me").json()
    assert me["roles"] == [role.value]
    assert set(me["permissions"]) == set(BUILTIN_PERMISSIONS[role])
    assert me["mode"] == "classic"


def test_a_user_without_a_role_is_told_so(as_user: Users) -> None:
    assert as_user("nobody").get("/api/v1/me").json()["roles"] == []
    response = as_user("nobody").get("/api/v1/clusters")
    assert response.status_code == 403
    assert "has no Lifeboat role" in response.json()["error"]["message"]


def test_builtin_roles_are_listed_and_cannot_be_changed(as_user: Users) -> None:
    roles = as_user("appuser").get("/api/v1/roles").json()["items"]
    builtin = {r["name"]: r for r in roles if r["builtin"]}
    assert set(builtin) == {r.value for r in BuiltinRole}
    for role in BuiltinRole:
        assert set(builtin[role.value]["permissions"]) == set(BUILTIN_PERMISSIONS[role])
    target = builtin[BuiltinRole.APP_USER.value]["uid"]
    admin = as_user("superadmin")
    body = {"name": "hacked", "permissions": ["rules.create"]}
    assert admin.put(f"/api/v1/roles/{target}", json=body).status_code == 403
    assert admin.delete(f"/api/v1/roles/{target}").status_code == 403
    assert as_user("appuser").get("/api/v1/me").json()["roles"] == [BuiltinRole.APP_USER.value]


def test_custom_role_grants_exactly_its_permissions(as_user: Users) -> None:
    infra = as_user("infraadmin")
    bad = infra.post("/api/v1/roles", json={"name": unique("r"), "permissions": ["rules.fly"]})
    assert bad.status_code == 422 and bad.json()["error"]["field"].startswith("permissions")
    clash = infra.post(
        "/api/v1/roles", json={"name": BuiltinRole.APP_USER.value, "permissions": ["roles.view"]}
    )
    assert clash.status_code == 409

    role = infra.post(
        "/api/v1/roles", json={"name": unique("viewer"), "permissions": ["roles.view"]}
    ).json()
    try:
        assigned = infra.put("/api/v1/users/nobody/roles", json={"roles": [role["name"]]})
        assert assigned.status_code == 200, assigned.text
        nobody = as_user("nobody")
        assert nobody.get("/api/v1/me").json()["permissions"] == ["roles.view"]
        assert nobody.get("/api/v1/roles").status_code == 200
        assert (
            nobody.post(
                "/api/v1/roles", json={"name": "x", "permissions": ["roles.view"]}
            ).status_code
            == 403
        )
        # A role in use is not deleted from under its holders.
        assert infra.delete(f"/api/v1/roles/{role['uid']}").status_code == 409
    finally:
        infra.put("/api/v1/users/nobody/roles", json={"roles": []})
    assert as_user("nobody").get("/api/v1/roles").status_code == 403
    assert infra.delete(f"/api/v1/roles/{role['uid']}").status_code == 204


def test_role_assignment_rules(as_user: Users) -> None:
    infra, admin = as_user("infraadmin"), as_user("superadmin")
    assert infra.get("/api/v1/users").status_code == 200
    assert as_user("appadmin").get("/api/v1/users").status_code == 403
    # Inviting is a create: the infra admin's row says N.
    invite = {"subject": unique("invitee"), "roles": [BuiltinRole.APP_USER.value]}
    assert infra.post("/api/v1/users", json=invite).status_code == 403
    created = admin.post("/api/v1/users", json=invite)
    assert created.status_code == 201
    assert created.json()["roles"] == [BuiltinRole.APP_USER.value]

    unknown = admin.put(f"/api/v1/users/{invite['subject']}/roles", json={"roles": ["chief"]})
    assert unknown.status_code == 422 and "chief" in unknown.json()["error"]["message"]
    grant_super = {"roles": [SUPER]}
    refused = infra.put(f"/api/v1/users/{invite['subject']}/roles", json=grant_super)
    assert refused.status_code == 403
    assert "only a super admin" in refused.json()["error"]["message"]
    assert (
        admin.put(f"/api/v1/users/{invite['subject']}/roles", json=grant_super).status_code == 200
    )
    # ... and only a super admin takes it away again.
    demote = {"roles": [BuiltinRole.APP_USER.value]}
    assert infra.put(f"/api/v1/users/{invite['subject']}/roles", json=demote).status_code == 403
    assert infra.delete(f"/api/v1/users/{invite['subject']}").status_code == 403
    assert admin.delete(f"/api/v1/users/{invite['subject']}").status_code == 204
    users = {u["subject"]: u for u in admin.get("/api/v1/users").json()["items"]}
    assert users[invite["subject"]]["roles"] == []


def test_sharing_a_cluster(as_user: Users, kubeconfig_text: str) -> None:
    owner, other = as_user("infraadmin"), as_user("appuser")
    cluster = _cluster(owner, kubeconfig_text)
    uid = cluster["uid"]
    assert not _visible(other, uid)
    assert other.post("/api/v1/shares", json={
        "object_kind": "clusters", "object_uid": uid, "subject_kind": "everyone",
    }).status_code == 404  # fmt: skip

    share = owner.post("/api/v1/shares", json={
        "object_kind": "clusters", "object_uid": uid, "subject_kind": "group",
        "subject": "team-search", "access": "view",
    })  # fmt: skip
    assert share.status_code == 201, share.text
    assert _visible(other, uid)
    assert not _visible(as_user("appadmin"), uid)  # not in team-search
    # Viewing is not editing: visible, so 403 rather than 404.
    assert other.delete(f"/api/v1/clusters/{uid}").status_code == 403
    assert other.post("/api/v1/shares", json={
        "object_kind": "clusters", "object_uid": uid, "subject_kind": "everyone",
    }).status_code == 403  # fmt: skip

    shared = owner.get("/api/v1/shared-clusters").json()["items"]
    entry = next(c for c in shared if c["uid"] == uid)
    assert entry["shared_with"] == [
        {"share_uid": share.json()["uid"], "subject_kind": "group", "subject": "team-search",
         "subject_name": "team-search", "access": "view"}
    ]  # fmt: skip
    unknown = owner.post("/api/v1/shares", json={
        "object_kind": "clusters", "object_uid": uid, "subject_kind": "user",
        "subject": "no-such-user",
    })  # fmt: skip
    assert unknown.status_code == 422 and unknown.json()["error"]["field"] == "subject"

    assert owner.delete(f"/api/v1/shares/{share.json()['uid']}").status_code == 204
    assert not _visible(other, uid)


@pytest.fixture
def catalog(stack: Stack) -> Iterator[Any]:
    """Direct catalog access, for rows whose workflows are not built yet (backup schedules)."""
    engine = create_engine(stack.database_url)
    yield create_sessionmaker(engine)
    asyncio.run(engine.dispose())


def _add_schedule(catalog: Any, cluster: dict[str, Any]) -> str:
    """A backup schedule on the cluster, written to the catalog as the schedules API will."""
    spec = SchedulePolicySpec.model_validate(
        {"schedule": {"type": "interval", "every_minutes": 60}}
    )
    policy = SchedulePolicy(
        name=unique("p"),
        owner_id=cluster["owner_id"],
        schedule=spec.schedule.model_dump(mode="json"),
        retention=spec.retention.model_dump(mode="json"),
    )
    schedule = BackupSchedule(
        name=unique("s"), owner_id=cluster["owner_id"], cluster_uid=cluster["uid"]
    )

    async def add() -> str:
        async with catalog.begin() as session:
            session.add(policy)
            await session.flush()
            schedule.policy_uid = policy.uid
            session.add(schedule)
        return schedule.uid

    return asyncio.run(add())


def _remove_schedule(catalog: Any, uid: str) -> None:
    async def remove() -> None:
        async with catalog.begin() as session:
            await session.execute(delete(BackupSchedule).where(BackupSchedule.uid == uid))

    asyncio.run(remove())


def test_super_admin_sees_and_manages_every_cluster_within_the_rules(
    as_user: Users, kubeconfig_text: str, catalog: Any
) -> None:
    admin, owner = as_user("superadmin"), as_user("appadmin")
    theirs = _cluster(owner, kubeconfig_text)
    uid = theirs["uid"]
    assert _visible(admin, uid)
    listed = {c["uid"]: c for c in admin.get("/api/v1/clusters").json()["items"]}
    assert listed[uid]["owner_id"] == "appadmin"  # ownership details

    # The kubeconfig of another owner's cluster: replaced, never read.
    assert admin.get(f"/api/v1/clusters/{uid}/kubeconfig").status_code == 403
    assert owner.get(f"/api/v1/clusters/{uid}/kubeconfig").json()["kubeconfig"] == kubeconfig_text
    replaced = admin.put(f"/api/v1/clusters/{uid}/kubeconfig", json={"kubeconfig": kubeconfig_text})
    assert replaced.status_code == 200
    bad = admin.put(f"/api/v1/clusters/{uid}/kubeconfig", json={"kubeconfig": "nope: ["})
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "kubeconfig"

    # Share another's cluster: allowed. Unshare or delete while schedules exist: refused.
    share = admin.post("/api/v1/shares", json={
        "object_kind": "clusters", "object_uid": uid, "subject_kind": "user",
        "subject": "appuser", "access": "view",
    })  # fmt: skip
    assert share.status_code == 201
    schedule = _add_schedule(catalog, theirs)
    try:
        assert admin.delete(f"/api/v1/shares/{share.json()['uid']}").status_code == 409
        refused = admin.delete(f"/api/v1/clusters/{uid}")
        assert refused.status_code == 409
        assert "backup schedule" in refused.json()["error"]["message"]
        assert _visible(owner, uid)
    finally:
        _remove_schedule(catalog, schedule)
    assert admin.delete(f"/api/v1/shares/{share.json()['uid']}").status_code == 204
    remove_cluster(admin, uid)
    assert not _visible(owner, uid)


def test_revoking_super_admin_removes_access_to_what_they_do_not_own(
    as_user: Users, kubeconfig_text: str
) -> None:
    admin, promoted = as_user("superadmin"), as_user("appuser")
    others = _cluster(as_user("infraadmin"), kubeconfig_text)
    own = _cluster(promoted, kubeconfig_text)
    try:
        grant = {"roles": [SUPER]}
        assert admin.put("/api/v1/users/appuser/roles", json=grant).status_code == 200
        assert _visible(promoted, others["uid"])
    finally:
        assert admin.put("/api/v1/users/appuser/roles", json={"roles": []}).status_code == 200
    assert not _visible(promoted, others["uid"])
    assert _visible(promoted, own["uid"])
    assert promoted.get("/api/v1/me").json()["roles"] == [BuiltinRole.APP_USER.value]


def _add_backups(
    catalog: Any, cluster: dict[str, Any], location_uid: str, *owners: str
) -> list[str]:
    """Backups of the cluster as the backup workflow records them (that workflow comes later)."""
    backups = [
        Backup(
            name=unique("b"),
            owner_id=owner,
            cluster_uid=cluster["uid"],
            location_uid=location_uid,
            status="Success",
        )
        for owner in owners
    ]

    async def add() -> list[str]:
        async with catalog.begin() as session:
            session.add_all(backups)
        return [b.uid for b in backups]

    return asyncio.run(add())


def _location(catalog: Any, owner: str) -> str:
    location = BackupLocation(
        name=unique("loc"), owner_id=owner, endpoint="http://127.0.0.1:1", bucket="unused"
    )

    async def add() -> str:
        async with catalog.begin() as session:
            session.add(location)
        return location.uid

    return asyncio.run(add())


def _backup_uids(api: Any) -> set[str]:
    response = api.get("/api/v1/backups")
    assert response.status_code == 200, response.text
    return {b["uid"] for b in response.json()["items"]}


def test_all_backups_and_sharing_cluster_backups(
    as_user: Users, kubeconfig_text: str, catalog: Any
) -> None:
    owner, admin = as_user("infraadmin"), as_user("superadmin")
    cluster = _cluster(owner, kubeconfig_text)
    location = _location(catalog, "infraadmin")
    mine_1, mine_2, admins = _add_backups(
        catalog, cluster, location, "infraadmin", "infraadmin", "superadmin"
    )
    # The cluster's owner sees every backup of it, others' only for view.
    assert {mine_1, mine_2, admins} <= _backup_uids(owner)
    assert owner.get(f"/api/v1/backups/{admins}").json()["access"] == "view"
    assert owner.delete(f"/api/v1/backups/{admins}").status_code == 403
    assert {mine_1, mine_2, admins} <= _backup_uids(admin)
    assert not {mine_1, mine_2, admins} & _backup_uids(as_user("appuser"))

    # Share cluster backups: the sharer's own backups of that cluster, no one else's.
    shared = owner.post("/api/v1/shares", json={
        "object_kind": "clusters", "object_uid": cluster["uid"], "subject_kind": "user",
        "subject": "appuser", "access": "restore",
    })  # fmt: skip
    assert shared.status_code == 201, shared.text
    assert _backup_uids(as_user("appuser")) & {mine_1, mine_2, admins} == {mine_1, mine_2}
    detail = as_user("appuser").get(f"/api/v1/backups/{mine_1}").json()
    assert detail["access"] == "restore"

    # A super admin sharing the same cluster shares only the backups it created.
    by_admin = admin.post("/api/v1/shares", json={
        "object_kind": "clusters", "object_uid": cluster["uid"], "subject_kind": "user",
        "subject": "appadmin",
    })  # fmt: skip
    assert by_admin.status_code == 201, by_admin.text
    assert _backup_uids(as_user("appadmin")) & {mine_1, mine_2, admins} == {admins}
    # ... and cannot share another user's backup directly, while the owner can.
    direct = {"object_kind": "backups", "object_uid": mine_1, "subject_kind": "everyone"}
    refused = admin.post("/api/v1/shares", json=direct)
    assert refused.status_code == 403
    assert "only the backups they created" in refused.json()["error"]["message"]
    assert as_user("appuser").post("/api/v1/shares", json=direct).status_code == 403
    assert owner.post("/api/v1/shares", json=direct).status_code == 201
    assert mine_1 in _backup_uids(as_user("appadmin"))


def test_nobody_grants_a_permission_they_do_not_hold(as_user: Users) -> None:
    infra, admin = as_user("infraadmin"), as_user("superadmin")
    # A role: only permissions its author holds (infra admins may not create users or groups).
    power = {"name": unique("power"), "permissions": ["users-groups.create", "roles.view"]}
    refused = infra.post("/api/v1/roles", json=power)
    assert refused.status_code == 403, refused.text
    assert refused.json()["error"]["field"] == "permissions"
    assert "users-groups.create" in refused.json()["error"]["message"]
    assert power["name"] not in {r["name"] for r in infra.get("/api/v1/roles").json()["items"]}
    held = infra.post("/api/v1/roles", json={**power, "permissions": ["roles.view"]}).json()
    grown = {**power, "permissions": ["roles.view", "users-groups.delete"]}
    assert infra.put(f"/api/v1/roles/{held['uid']}", json=grown).status_code == 403
    assert infra.get(f"/api/v1/roles/{held['uid']}").json()["permissions"] == ["roles.view"]

    # A binding: a role the caller cannot see is unknown to it; one it can see but holds
    # more than the caller is refused, to others and to itself.
    strong = admin.post("/api/v1/roles", json={**power, "name": unique("strong")}).json()
    before = infra.get("/api/v1/me").json()["permissions"]
    hidden = infra.put("/api/v1/users/infraadmin/roles", json={"roles": [strong["name"]]})
    assert hidden.status_code == 422 and "unknown role" in hidden.json()["error"]["message"]
    assert admin.post("/api/v1/shares", json={
        "object_kind": "roles", "object_uid": strong["uid"], "subject_kind": "user",
        "subject": "infraadmin",
    }).status_code == 201  # fmt: skip
    for target in ("users/infraadmin/roles", "users/nobody/roles", "groups/team-payments/roles"):
        refused = infra.put(f"/api/v1/{target}", json={"roles": [strong["name"]]})
        assert refused.status_code == 403, refused.text
        assert "users-groups.create" in refused.json()["error"]["message"]
    assert infra.get("/api/v1/me").json()["permissions"] == before
    # A super admin holds every permission, and may.
    assert (
        admin.put("/api/v1/users/nobody/roles", json={"roles": [strong["name"]]}).status_code == 200
    )
    try:
        # ... and what one may not grant, one may not take away either.
        revoked = infra.put("/api/v1/users/nobody/roles", json={"roles": []})
        assert revoked.status_code == 403, revoked.text
    finally:
        assert admin.delete("/api/v1/users/nobody").status_code == 204
    for uid in (strong["uid"], held["uid"]):
        assert admin.delete(f"/api/v1/roles/{uid}").status_code == 204


def test_a_cluster_share_is_not_lowered_under_its_schedules(
    as_user: Users, kubeconfig_text: str, catalog: Any
) -> None:
    owner = as_user("infraadmin")
    cluster = _cluster(owner, kubeconfig_text)
    share = {"object_kind": "clusters", "object_uid": cluster["uid"], "subject_kind": "user",
             "subject": "appadmin", "access": "full"}  # fmt: skip
    assert owner.post("/api/v1/shares", json=share).status_code == 201
    schedule = _add_schedule(catalog, cluster)
    try:
        lowered = owner.post("/api/v1/shares", json={**share, "access": "view"})
        assert lowered.status_code == 409, lowered.text
        assert "lowering its share" in lowered.json()["error"]["message"]
        assert owner.post("/api/v1/shares", json=share).status_code == 201  # same level: fine
        owned = owner.post("/api/v1/shares", json={**share, "access": "owner"})
        assert owned.status_code == 422 and owned.json()["error"]["field"] == "access"
    finally:
        _remove_schedule(catalog, schedule)
    listed = owner.get(
        "/api/v1/shares", params={"object_kind": "clusters", "object_uid": cluster["uid"]}
    ).json()["items"]
    assert [s["access"] for s in listed] == ["full"]
    assert owner.post("/api/v1/shares", json={**share, "access": "view"}).status_code == 201
