"""Back up a namespace of the real test cluster, delete it, restore it: everything comes back.

Checked by reading the cluster with the official client, not with our own archive reader.
"""

from __future__ import annotations

import base64
import hashlib
import os
import random
import time
from pathlib import Path
from typing import Any

import httpx
from kubernetes.dynamic.exceptions import DynamicApiError
from minio import Minio

from deploy.local.doubles.csi.driver import VolumeNotFound, volume_dir
from deploy.local.doubles.kubelet import exec_records, run_pod
from deploy.local.doubles.kubelet_server import ExecRecord, container_dir
from deploy.local.doubles.snapshot_crds import (
    HOSTPATH_SNAPSHOT_CLASS,
    SNAPSHOT_CLASS,
    STORAGE_CLASS,
)
from deploy.local.stack import Stack
from tests.api.helpers import remove_cluster, unique, workflow_histories
from tests.conftest import Users
from tests.e2e.conftest import Kube

SECRET_VALUE = "s3cr3t-database-password"
CRD_GROUP = "demo.lifeboat.dev"


def _crd(kube: Kube) -> None:
    try:
        kube.create(
            {
                "apiVersion": "apiextensions.k8s.io/v1",
                "kind": "CustomResourceDefinition",
                "metadata": {"name": f"widgets.{CRD_GROUP}"},
                "spec": {
                    "group": CRD_GROUP,
                    "scope": "Namespaced",
                    "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
                    "versions": [
                        {
                            "name": "v1", "served": True, "storage": True,
                            "schema": {"openAPIV3Schema": {
                                "type": "object", "x-kubernetes-preserve-unknown-fields": True,
                            }},
                        }
                    ],
                },
            }
        )  # fmt: skip
    except DynamicApiError as exc:
        if exc.status != 409:
            raise
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        crd = kube.read(
            "apiextensions.k8s.io/v1", "CustomResourceDefinition", f"widgets.{CRD_GROUP}"
        )
        conditions = (crd.get("status") or {}).get("conditions") or []
        if any(c["type"] == "Established" and c["status"] == "True" for c in conditions):
            kube.dyn.resources.invalidate_cache()
            return
        time.sleep(0.2)
    raise TimeoutError("CRD not established")


def _application(kube: Kube, namespace: str) -> None:
    """A small application: Deployment, Service, ConfigMap, Secret and a custom resource."""
    labels = {"app": "web"}
    for obj in (
        {"apiVersion": "v1", "kind": "Namespace",
         "metadata": {"name": namespace, "labels": {"team": "payments"}}},
        {"apiVersion": "v1", "kind": "ConfigMap",
         "metadata": {"name": "settings", "namespace": namespace}, "data": {"mode": "production"}},
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db", "namespace": namespace},
         "stringData": {"password": SECRET_VALUE}},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": namespace},
         "spec": {"selector": labels, "ports": [{"port": 80, "targetPort": 8080}]}},
        {"apiVersion": "apps/v1", "kind": "Deployment",
         "metadata": {"name": "web", "namespace": namespace},
         "spec": {"replicas": 2, "selector": {"matchLabels": labels}, "template": {
             "metadata": {"labels": labels},
             "spec": {"containers": [{"name": "web", "image": "nginx:1.25"}]}}}},
        {"apiVersion": f"{CRD_GROUP}/v1", "kind": "Widget",
         "metadata": {"name": "gear", "namespace": namespace}, "spec": {"teeth": 42}},
    ):  # fmt: skip
        kube.create(obj)


def _wait(api: httpx.Client, path: str, timeout: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        body: dict[str, Any] = api.get(path).json()
        if body["status"] not in ("Pending", "InProgress"):
            return body
        assert time.monotonic() < deadline, f"{path} still {body['status']} ({body['stage']})"
        time.sleep(0.5)


def _delete_namespace(kube: Kube, namespace: str) -> None:
    # No kubelet confirms a pod's end here: pods go at once, or the namespace never would.
    pods = kube.dyn.resources.get(api_version="v1", kind="Pod")
    for pod in pods.get(namespace=namespace).to_dict()["items"]:
        pods.delete(name=pod["metadata"]["name"], namespace=namespace, grace_period_seconds=0)
    kube.delete("v1", "Namespace", namespace)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            kube.read("v1", "Namespace", namespace)
        except DynamicApiError as exc:
            if exc.status == 404:
                return
            raise
        time.sleep(0.3)
    raise TimeoutError(f"namespace {namespace} not deleted")


def _assert_application(kube: Kube, namespace: str) -> None:
    assert kube.read("v1", "Namespace", namespace)["metadata"]["labels"]["team"] == "payments"
    settings = kube.read("v1", "ConfigMap", "settings", namespace)
    assert settings["data"] == {"mode": "production"}
    secret = kube.read("v1", "Secret", "db", namespace)
    assert base64.b64decode(secret["data"]["password"]).decode() == SECRET_VALUE
    service = kube.read("v1", "Service", "web", namespace)
    assert [(p["port"], p["targetPort"]) for p in service["spec"]["ports"]] == [(80, 8080)]
    deployment = kube.read("apps/v1", "Deployment", "web", namespace)
    assert deployment["spec"]["replicas"] == 2
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.25"
    widget = kube.read(f"{CRD_GROUP}/v1", "Widget", "gear", namespace)
    assert widget["spec"] == {"teeth": 42}


def test_backup_delete_restore_and_restore_into_a_mapped_namespace(
    as_user: Users, target: dict[str, str], kube: Kube, stack: Stack
) -> None:
    api = as_user("infraadmin")
    namespace = unique("shop")
    _crd(kube)
    _application(kube, namespace)

    started = api.post(
        "/api/v1/backups",
        json={
            "cluster_uid": target["cluster"],
            "location_uid": target["location"],
            "namespaces": [namespace],
        },
    )
    assert started.status_code == 201, started.text
    backup = _wait(api, f"/api/v1/backups/{started.json()['uid']}")
    assert backup["status"] == "Success", backup["reason"]
    assert backup["resource_count"] >= 6

    _delete_namespace(kube, namespace)
    restored = api.post("/api/v1/restores", json={"backup_uid": backup["uid"]})
    assert restored.status_code == 201, restored.text
    restore = _wait(api, f"/api/v1/restores/{restored.json()['uid']}")
    failed = [r for r in restore["resources"] if r["action"] == "failed"]
    assert restore["status"] == "Success", "\n".join(
        f"{r['type']} {r['name']}: {r['reason']}" for r in failed
    )
    _assert_application(kube, namespace)
    actions = {(r["type"], r["name"]): r["action"] for r in restore["resources"]}
    assert actions[("Secret", "db")] == "created"

    # Into another namespace of the same cluster.
    copy = unique("shop-copy")
    mapped = api.post(
        "/api/v1/restores",
        json={"backup_uid": backup["uid"], "namespace_mapping": {namespace: copy}},
    )
    assert _wait(api, f"/api/v1/restores/{mapped.json()['uid']}")["status"] == "Success"
    _assert_application(kube, copy)

    # A preview over what exists changes nothing and says so.
    preview = api.post("/api/v1/restores/preview", json={"backup_uid": backup["uid"]})
    assert preview.status_code == 200, preview.text
    assert {r["action"] for r in preview.json()["resources"]} == {"skip"}

    # Neither the Secret nor any object travelled through workflow history.
    for query in (f'LifeboatCluster = "{target["cluster"]}"',):
        for history in workflow_histories(stack.temporal_address, query, mentioning=backup["uid"]):
            assert SECRET_VALUE not in history
            assert base64.b64encode(SECRET_VALUE.encode()).decode() not in history
            assert "nginx:1.25" not in history


def _rule(api: httpx.Client, actions: list[dict[str, Any]]) -> str:
    response = api.post(
        "/api/v1/rules",
        json={
            "name": unique("rule"),
            "rules": [{"pod_selector": {"app": "db"}, "actions": actions}],
        },
    )
    assert response.status_code == 201, response.text
    uid: str = response.json()["uid"]
    return uid


def _backup(
    api: httpx.Client, target: dict[str, str], namespace: str, **rules: str
) -> dict[str, Any]:
    started = api.post(
        "/api/v1/backups",
        json={"cluster_uid": target["cluster"], "location_uid": target["location"],
              "namespaces": [namespace], **rules},
    )  # fmt: skip
    assert started.status_code == 201, started.text
    return _wait(api, f"/api/v1/backups/{started.json()['uid']}")


def _database_pods(stack: Stack, namespace: str) -> list[Path]:
    """Two exec-able pods labelled app=db; returns where their commands' files land."""
    for pod in ("db-0", "db-1"):
        run_pod(Path(stack.kubeconfig), namespace, pod, labels={"app": "db"}, containers=("db",))
    home = Path(stack.kubelet_home)
    return [container_dir(home / "pods", namespace, pod, "db") for pod in ("db-0", "db-1")]


def _runs(stack: Stack, namespace: str, command: str) -> list[ExecRecord]:
    return [
        r for r in exec_records(Path(stack.kubelet_home))
        if r["namespace"] == namespace and command in " ".join(r["command"])
    ]  # fmt: skip


def test_pre_and_post_rules_run_around_the_backup(
    as_user: Users, target: dict[str, str], stack: Stack
) -> None:
    api = as_user("infraadmin")
    namespace = unique("db")
    pod_dirs = _database_pods(stack, namespace)
    pre = _rule(api, [
        {"command": "echo frozen >> state"},
        {"command": "echo locked >> lock; sleep 600", "background": True},
    ])  # fmt: skip
    post = _rule(api, [{"command": "echo thawed >> state"}])

    backup = _backup(api, target, namespace, pre_rule_uid=pre, post_rule_uid=post)
    assert backup["status"] == "Success", backup["reason"]
    for pod_dir in pod_dirs:
        assert (pod_dir / "state").read_text() == "frozen\nthawed\n"
        assert (pod_dir / "lock").read_text() == "locked\n"
    # The background lock was held, then released (its stream closed) once the export was done.
    held = _runs(stack, namespace, "sleep 600")
    assert len(held) == 2 and all(r["ended"] == "disconnected" for r in held)
    assert len(_runs(stack, namespace, "thawed")) == 2  # post rules ran once per pod


def test_a_failing_pre_rule_fails_the_backup_and_post_rules_still_run(
    as_user: Users, target: dict[str, str], stack: Stack
) -> None:
    api = as_user("infraadmin")
    namespace = unique("db")
    pod_dirs = _database_pods(stack, namespace)
    pre = _rule(api, [{"command": "echo frozen >> state"}, {"command": "echo broken >&2; exit 3"}])
    post = _rule(api, [{"command": "echo thawed >> state"}])

    backup = _backup(api, target, namespace, pre_rule_uid=pre, post_rule_uid=post)
    assert backup["status"] == "Failed"
    assert "PreRules" in backup["reason"] and "exit code 3" in backup["reason"]
    assert "broken" in backup["reason"]
    # The first pod was frozen before the failure: it is thawed again.
    assert (pod_dirs[0] / "state").read_text() == "frozen\nthawed\n"
    assert not (pod_dirs[1] / "state").exists()  # never reached, so never touched

    # A retry of a failed backup runs it all again, under the same name: rules included.
    retried = api.post(f"/api/v1/backups/{backup['uid']}/retry")
    assert retried.status_code == 202 and "the whole backup" in retried.json()["message"]
    again = _wait(api, f"/api/v1/backups/{backup['uid']}")
    assert again["status"] == "Failed" and again["attempt"] == 2
    assert again["name"] == backup["name"] and "exit code 3" in again["reason"]
    assert (pod_dirs[0] / "state").read_text() == "frozen\nthawed\n" * 2


def test_deleting_a_backup_removes_its_archive_and_is_safe_to_repeat(
    as_user: Users, target: dict[str, str], stack: Stack
) -> None:
    api = as_user("infraadmin")
    namespace = unique("gone")
    run_pod(Path(stack.kubeconfig), namespace, "web-0", labels={"app": "web"})
    backup = _backup(api, target, namespace)
    assert backup["status"] == "Success", backup["reason"]
    s3 = Minio(
        stack.s3_endpoint.removeprefix("http://"),
        stack.s3_access_key,
        stack.s3_secret_key,
        secure=False,
    )

    def archived() -> list[str]:
        return [
            str(o.object_name)
            for o in s3.list_objects(target["bucket"], recursive=True)
            if backup["uid"] in str(o.object_name)
        ]

    assert any(name.endswith("manifest.json.sealed") for name in archived())
    assert api.delete(f"/api/v1/backups/{backup['uid']}").status_code == 202
    deadline = time.monotonic() + 60
    while api.get(f"/api/v1/backups/{backup['uid']}").status_code != 404:
        assert time.monotonic() < deadline, "the backup was not deleted"
        time.sleep(0.3)
    assert archived() == []
    assert api.delete(f"/api/v1/backups/{backup['uid']}").status_code == 404


def _claim(kube: Kube, namespace: str, name: str) -> None:
    kube.create(
        {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
         "metadata": {"name": name, "namespace": namespace},
         "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": STORAGE_CLASS,
                  "resources": {"requests": {"storage": "1Gi"}}}}
    )  # fmt: skip


def _bound_dir(stack: Stack, namespace: str, claim: str, timeout: float = 60) -> Path:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return volume_dir(Path(stack.csi_home), Path(stack.kubeconfig), namespace, claim)
        except VolumeNotFound:
            assert time.monotonic() < deadline, f"{namespace}/{claim} never bound"
            time.sleep(0.3)


def _fill(directory: Path) -> dict[str, str]:
    """Mixed data: text, random bytes, small files, a symlink; returns path -> sha256."""
    rng = random.Random(7)
    (directory / "db").mkdir()
    (directory / "db" / "table.txt").write_text("row,value\n" * 200_000)
    (directory / "db" / "blob.bin").write_bytes(rng.randbytes(3 * 1024 * 1024))
    for i in range(200):
        (directory / "db" / f"wal-{i:04d}").write_bytes(rng.randbytes(rng.randint(0, 4096)))
    (directory / "current").symlink_to("db/table.txt")
    return _checksums(directory)


def _checksums(directory: Path) -> dict[str, str]:
    sums = {}
    for path in sorted(directory.rglob("*")):
        relative = str(path.relative_to(directory))
        if path.is_symlink():
            sums[relative] = "-> " + os.readlink(path)
        elif path.is_file():
            sums[relative] = hashlib.sha256(path.read_bytes()).hexdigest()
    return sums


def test_volume_data_is_backed_up_and_every_byte_restored(
    as_user: Users, target: dict[str, str], kube: Kube, stack: Stack
) -> None:
    api = as_user("infraadmin")
    namespace = unique("data")
    kube.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
    _claim(kube, namespace, "pgdata")
    expected = _fill(_bound_dir(stack, namespace, "pgdata"))

    backup = _backup(api, target, namespace)
    assert backup["status"] == "Success", backup["reason"]
    assert backup["volume_count"] == 1
    cluster = api.get(f"/api/v1/clusters/{target['cluster']}").json()
    assert cluster["protected_bytes"] >= backup["size_bytes"] > 5 * 1024 * 1024
    assert [v["pvc"] for v in backup["volumes"]] == ["pgdata"]
    # The snapshot and the mover's claim are gone once the data is in the location.
    snapshots = kube.dyn.resources.get(
        api_version="snapshot.storage.k8s.io/v1", kind="VolumeSnapshot"
    )
    # (Deleted by the backup; gone once the snapshot controller has released it.)
    deadline = time.monotonic() + 30
    while snapshots.get(namespace=namespace).to_dict()["items"]:
        assert time.monotonic() < deadline, "the backup's VolumeSnapshot was not deleted"
        time.sleep(0.3)

    _delete_namespace(kube, namespace)
    restored = api.post("/api/v1/restores", json={"backup_uid": backup["uid"]})
    restore = _wait(api, f"/api/v1/restores/{restored.json()['uid']}")
    assert restore["status"] == "Success", (restore["reason"], restore["volumes"])
    assert _checksums(_bound_dir(stack, namespace, "pgdata")) == expected

    # Into a mapped namespace too.
    copy = unique("data-copy")
    mapped = api.post(
        "/api/v1/restores",
        json={"backup_uid": backup["uid"], "namespace_mapping": {namespace: copy}},
    )
    assert _wait(api, f"/api/v1/restores/{mapped.json()['uid']}")["status"] == "Success"
    assert _checksums(_bound_dir(stack, copy, "pgdata")) == expected

    # Deleting the backup prunes the data only it referred to (3 MiB of random bytes at
    # least) from the location's repository; nothing else writes to it meanwhile.
    before = _repository_bytes(stack, target["bucket"])
    assert api.delete(f"/api/v1/backups/{backup['uid']}").status_code == 202
    deadline = time.monotonic() + 60
    while before - _repository_bytes(stack, target["bucket"]) < 3 * 1024 * 1024:
        assert time.monotonic() < deadline, "the backup's volume data was not pruned"
        time.sleep(0.5)


def _repository_bytes(stack: Stack, bucket: str) -> int:
    s3 = Minio(
        stack.s3_endpoint.removeprefix("http://"),
        stack.s3_access_key,
        stack.s3_secret_key,
        secure=False,
    )
    return sum(
        int(o.size or 0)
        for o in s3.list_objects(bucket, recursive=True)
        if "/lifeboat-data/" in f"/{o.object_name}"
    )


def test_backups_started_in_the_same_second_get_distinct_default_names(
    as_user: Users, target: dict[str, str], kube: Kube
) -> None:
    api = as_user("infraadmin")
    namespace = unique("twice")
    kube.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
    body = {"cluster_uid": target["cluster"], "location_uid": target["location"],
            "namespaces": [namespace]}  # fmt: skip
    first, second = api.post("/api/v1/backups", json=body), api.post("/api/v1/backups", json=body)
    assert first.status_code == second.status_code == 201, (first.text, second.text)
    assert first.json()["name"] != second.json()["name"]
    # Same namespace: the second waits for the first, then both succeed.
    for started in (first, second):
        assert _wait(api, f"/api/v1/backups/{started.json()['uid']}")["status"] == "Success"


def test_removing_a_cluster_keeps_its_backups_which_restore_elsewhere(
    as_user: Users, target: dict[str, str], kube: Kube, kubeconfig_text: str
) -> None:
    api = as_user("infraadmin")
    namespace = unique("leaving")
    kube.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
    kube.create(
        {"apiVersion": "v1", "kind": "ConfigMap",
         "metadata": {"name": "settings", "namespace": namespace}, "data": {"mode": "kept"}}
    )  # fmt: skip
    # The same real cluster registered a second time, under another name: the one to remove.
    leaving = api.post(
        "/api/v1/clusters", json={"name": unique("old"), "kubeconfig": kubeconfig_text}
    ).json()
    backup = _backup(api, {**target, "cluster": leaving["uid"]}, namespace)
    assert backup["status"] == "Success", backup["reason"]

    remove_cluster(api, leaving["uid"])
    assert api.get(f"/api/v1/backups/{backup['uid']}").json()["status"] == "Success"
    # Restoring it "where it came from" names the field to set; into another cluster works.
    nowhere = api.post("/api/v1/restores", json={"backup_uid": backup["uid"]})
    assert nowhere.status_code == 422, nowhere.text
    assert nowhere.json()["error"]["field"] == "cluster_uid"
    copy = unique("arrived")
    restored = api.post(
        "/api/v1/restores",
        json={"backup_uid": backup["uid"], "cluster_uid": target["cluster"],
              "namespace_mapping": {namespace: copy}},
    )  # fmt: skip
    assert restored.status_code == 201, restored.text
    assert _wait(api, f"/api/v1/restores/{restored.json()['uid']}")["status"] == "Success"
    assert kube.read("v1", "ConfigMap", "settings", copy)["data"]["mode"] == "kept"
    # The restore's record outlives the backup.
    assert api.delete(f"/api/v1/backups/{backup['uid']}").status_code == 202
    deadline = time.monotonic() + 60
    while api.get(f"/api/v1/backups/{backup['uid']}").status_code != 404:
        assert time.monotonic() < deadline
        time.sleep(0.3)
    assert api.get(f"/api/v1/restores/{restored.json()['uid']}").status_code == 200


def test_retry_redoes_only_the_failed_volumes(
    as_user: Users, target: dict[str, str], kube: Kube, stack: Stack
) -> None:
    api = as_user("infraadmin")
    namespace = unique("retry")
    kube.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
    _claim(kube, namespace, "pgdata")
    expected = _fill(_bound_dir(stack, namespace, "pgdata"))
    classes = kube.dyn.resources.get(
        api_version="snapshot.storage.k8s.io/v1", kind="VolumeSnapshotClass"
    )
    # An administrator removed the cluster's VolumeSnapshotClass: the volume cannot be
    # snapshotted, everything else is backed up, and the backup says so.
    classes.delete(name=SNAPSHOT_CLASS)
    try:
        backup = _backup(api, target, namespace)
    finally:
        kube.create(HOSTPATH_SNAPSHOT_CLASS)
    assert backup["status"] == "PartialSuccess", backup
    assert "volume " + namespace + "/pgdata" in backup["reason"]
    assert "VolumeSnapshotClass" in backup["reason"]
    assert backup["volume_count"] == 0 and backup["resource_count"] > 0
    uid = backup["uid"]
    # Nothing else is redone: a ConfigMap created now is not in the retried backup.
    kube.create(
        {"apiVersion": "v1", "kind": "ConfigMap",
         "metadata": {"name": "late", "namespace": namespace}, "data": {"a": "b"}}
    )  # fmt: skip
    retried = api.post(f"/api/v1/backups/{uid}/retry")
    assert retried.status_code == 202, retried.text
    assert "1 failed volume(s)" in retried.json()["message"]
    backup = _wait(api, f"/api/v1/backups/{uid}")
    assert backup["status"] == "Success", backup["reason"]
    assert backup["attempt"] == 2 and backup["volume_count"] == 1
    assert not [r for r in backup["resources"] if r["name"] == "late"]
    again = api.post(f"/api/v1/backups/{uid}/retry")
    assert again.status_code == 409 and "nothing to retry" in again.json()["error"]["message"]

    _delete_namespace(kube, namespace)
    restored = api.post("/api/v1/restores", json={"backup_uid": uid})
    restore = _wait(api, f"/api/v1/restores/{restored.json()['uid']}")
    assert restore["status"] == "Success", (restore["reason"], restore["volumes"])
    assert _checksums(_bound_dir(stack, namespace, "pgdata")) == expected
