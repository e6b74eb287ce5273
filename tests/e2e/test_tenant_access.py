"""What each access level on someone else's cluster lets a user do, on the real dev stack.

The cluster owner is infraadmin; appadmin (who may create locations and rules of its own) and
appuser receive shares. A view share shows; a restore share puts the cluster's own backups
back; a full share backs it up, but only into its owner's locations with its owner's rules.
"""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy.orm import Session, sessionmaker

from lifeboat.catalog.models import Backup, BackupLocation
from tests.api.helpers import unique
from tests.conftest import Users
from tests.e2e.conftest import Kube
from tests.e2e.test_backup_restore import _wait


def _share(owner: httpx.Client, kind: str, uid: str, user: str, access: str) -> None:
    response = owner.post("/api/v1/shares", json={
        "object_kind": kind, "object_uid": uid, "subject_kind": "user", "subject": user,
        "access": access,
    })  # fmt: skip
    assert response.status_code == 201, response.text


def _namespace(kube: Kube) -> str:
    name = unique("tenant")
    kube.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    kube.create({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "settings", "namespace": name}, "data": {"owner": "infraadmin"},
    })  # fmt: skip
    return name


def _own_location(catalog: sessionmaker[Session], owner: str) -> str:
    """A location of the sharee's own (its bucket never receives anything in these tests)."""
    location = BackupLocation(
        name=unique("theirs"), owner_id=owner, endpoint="http://127.0.0.1:1", bucket="theirs"
    )
    with catalog.begin() as session:
        session.add(location)
        session.flush()
        uid: str = location.uid
    return uid


def _backups_of(catalog: sessionmaker[Session], cluster_uid: str) -> list[str]:
    with catalog() as session:
        return [b.owner_id for b in session.query(Backup).filter_by(cluster_uid=cluster_uid)]


def _refused(response: httpx.Response, status: int, *words: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    for word in words:
        assert word in error["message"], error
    return error


def test_view_and_full_shares_of_a_cluster(
    as_user: Users,
    target: dict[str, str],
    kube: Kube,
    kubeconfig_text: str,
    catalog: sessionmaker[Session],
) -> None:
    owner, sharee = as_user("infraadmin"), as_user("appadmin")
    cluster = owner.post(
        "/api/v1/clusters", json={"name": unique("shared"), "kubeconfig": kubeconfig_text}
    ).json()
    uid = cluster["uid"]
    namespace = _namespace(kube)
    theirs = _own_location(catalog, "appadmin")
    their_rule = sharee.post("/api/v1/rules", json={
        "name": unique("rule"),
        "rules": [{"pod_selector": {"app": "db"}, "actions": [{"command": "cat /etc/shadow"}]}],
    }).json()["uid"]  # fmt: skip
    own_backup = {"cluster_uid": uid, "location_uid": theirs, "namespaces": [namespace]}

    # View: the cluster and its inventory, and nothing that acts in it.
    _share(owner, "clusters", uid, "appadmin", "view")
    assert sharee.get(f"/api/v1/clusters/{uid}").status_code == 200
    assert sharee.get(f"/api/v1/clusters/{uid}/namespaces").status_code == 200
    _refused(sharee.post("/api/v1/backups", json=own_backup), 403, "full access")
    policy = sharee.post("/api/v1/schedule-policies", json={
        "name": unique("hourly"), "schedule": {"type": "interval", "every_minutes": 60},
    }).json()["uid"]  # fmt: skip
    schedule = {"name": unique("s"), "policy_uid": policy, "backup": own_backup}
    _refused(sharee.post("/api/v1/backup-schedules", json=schedule), 403, "full access")
    _refused(sharee.post(f"/api/v1/clusters/{uid}/sync"), 403, "to sync it")
    assert _backups_of(catalog, uid) == []

    # Full: back up, but the data goes only to the owner's locations, with the owner's rules.
    _share(owner, "clusters", uid, "appadmin", "full")
    error = _refused(sharee.post("/api/v1/backups", json=own_backup), 403, "owner's backup loc")
    assert error["field"] == "location_uid"
    owners_location = {**own_backup, "location_uid": target["location"]}
    assert sharee.post("/api/v1/backups", json=owners_location).status_code == 404  # not shared
    _share(owner, "backup-locations", target["location"], "appadmin", "view")
    with_rule = {**owners_location, "pre_rule_uid": their_rule}
    error = _refused(sharee.post("/api/v1/backups", json=with_rule), 403, "owner's rules")
    assert error["field"] == "pre_rule_uid"
    schedule["backup"] = owners_location | {"post_rule_uid": their_rule}
    error = _refused(sharee.post("/api/v1/backup-schedules", json=schedule), 403)
    assert error["field"] == "post_rule_uid"
    assert _backups_of(catalog, uid) == []

    started = sharee.post("/api/v1/backups", json=owners_location)
    assert started.status_code == 201, started.text
    backup = _wait(sharee, f"/api/v1/backups/{started.json()['uid']}")
    assert backup["status"] == "Success", backup["reason"]
    # The owner sees what others back up from its cluster.
    seen = owner.get(f"/api/v1/backups/{backup['uid']}")
    assert seen.status_code == 200 and seen.json()["access"] == "view"
    assert backup["uid"] in {b["uid"] for b in owner.get("/api/v1/backups").json()["items"]}
    assert sharee.post(f"/api/v1/clusters/{uid}/sync").status_code == 202

    # The cluster's credentials, its removal and its shares stay its owner's.
    replace = {"kubeconfig": kubeconfig_text}
    _refused(sharee.put(f"/api/v1/clusters/{uid}/kubeconfig", json=replace), 403, "owner")
    _refused(sharee.delete(f"/api/v1/clusters/{uid}"), 403, "owner")
    assert sharee.get(f"/api/v1/clusters/{uid}").json()["status"] != "DeletePending"


def test_restore_shares_put_back_the_clusters_own_backups_only(
    as_user: Users, target: dict[str, str], kube: Kube, kubeconfig_text: str
) -> None:
    owner, sharee = as_user("infraadmin"), as_user("appuser")
    assert sharee.get("/api/v1/me").status_code == 200  # signed in once: a share target
    namespace = _namespace(kube)
    mine, other = (
        owner.post(
            "/api/v1/clusters", json={"name": unique(name), "kubeconfig": kubeconfig_text}
        ).json()["uid"]
        for name in ("mine", "other")
    )
    started = owner.post("/api/v1/backups", json={
        "cluster_uid": mine, "location_uid": target["location"], "namespaces": [namespace],
    })  # fmt: skip
    assert started.status_code == 201, started.text
    backup = _wait(owner, f"/api/v1/backups/{started.json()['uid']}")
    assert backup["status"] == "Success", backup["reason"]
    copy = unique("copy")
    restore = {"backup_uid": backup["uid"], "namespace_mapping": {namespace: copy}}

    # A view share of the cluster shows its owner's backups but restores nothing.
    _share(owner, "clusters", mine, "appuser", "view")
    assert sharee.get(f"/api/v1/backups/{backup['uid']}").json()["access"] == "view"
    _refused(sharee.post("/api/v1/restores", json=restore), 403, "restore access")

    # Restore: the cluster's own backup goes back into it...
    _share(owner, "clusters", mine, "appuser", "restore")
    _share(owner, "clusters", other, "appuser", "restore")
    started = sharee.post("/api/v1/restores", json=restore)
    assert started.status_code == 201, started.text
    done = _wait(sharee, f"/api/v1/restores/{started.json()['uid']}")
    assert done["status"] == "Success", done["reason"]
    assert kube.read("v1", "ConfigMap", "settings", copy)["data"]["owner"] == "infraadmin"
    # ... and the cluster's owner sees that restore.
    assert owner.get(f"/api/v1/restores/{done['uid']}").status_code == 200

    # Bringing another cluster's objects into a cluster needs full access to it.
    elsewhere = {**restore, "cluster_uid": other}
    _refused(sharee.post("/api/v1/restores", json=elsewhere), 403, "another cluster's backup")
    _refused(sharee.post("/api/v1/restores/preview", json=elsewhere), 403)
