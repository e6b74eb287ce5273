"""Restore controls on the real stack: cancel, retry of only what failed, delete of the record;
a restore takes its target namespaces as a backup does; a preview lists the fields a replace
would change, a Secret's values never among them.

A restore is held in its data step by a claim that never binds: the claim is mapped to a
storage class no provisioner serves, so the data mover waits for it until cancelled.
"""

from __future__ import annotations

import base64
import time
from typing import Any

import httpx

from deploy.local.doubles.snapshot_crds import STORAGE_CLASS
from deploy.local.stack import Stack
from tests.api.helpers import unique
from tests.conftest import Users
from tests.e2e.conftest import Kube
from tests.e2e.test_backup_restore import (
    _backup,
    _bound_dir,
    _claim,
    _delete_namespace,
    _fill,
    _wait,
)


def _config_map(kube: Kube, namespace: str, name: str, data: dict[str, str]) -> None:
    kube.create(
        {"apiVersion": "v1", "kind": "ConfigMap",
         "metadata": {"name": name, "namespace": namespace}, "data": data}
    )  # fmt: skip


def _until(api: httpx.Client, path: str, check: Any, what: str, timeout: float = 120) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        body = api.get(path).json()
        if check(body):
            return body
        assert time.monotonic() < deadline, f"{path}: no {what} in {timeout}s: {body}"
        time.sleep(0.5)


def _exists(kube: Kube, kind: str, name: str, namespace: str) -> bool:
    resource = kube.dyn.resources.get(api_version="v1", kind=kind)
    names = [o["metadata"]["name"] for o in resource.get(namespace=namespace).to_dict()["items"]]
    return name in names


def test_a_restore_holds_its_namespaces_is_cancelled_and_its_record_deleted(
    as_user: Users, target: dict[str, str], kube: Kube, stack: Stack
) -> None:
    api = as_user("infraadmin")
    namespace = unique("held")
    kube.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
    _claim(kube, namespace, "pgdata")
    _fill(_bound_dir(stack, namespace, "pgdata"))
    _config_map(kube, namespace, "settings", {"mode": "fast"})
    backup = _backup(api, target, namespace)
    assert backup["status"] == "Success", backup["reason"]
    _delete_namespace(kube, namespace)

    # The claim comes back in a class nothing provisions: the data step waits for it.
    held = api.post("/api/v1/restores", json={
        "backup_uid": backup["uid"], "storage_class_mapping": {STORAGE_CLASS: "never-bound"},
    })  # fmt: skip
    assert held.status_code == 201, held.text
    held_path = f"/api/v1/restores/{held.json()['uid']}"
    running = _until(api, held_path, lambda r: r["stage"] == "MoveVolumeData", "data step")
    assert running["status"] == "InProgress", running

    # A second restore into the same namespace waits, saying for what, and so does a backup.
    second = api.post("/api/v1/restores", json={"backup_uid": backup["uid"]})
    assert second.status_code == 201, second.text
    second_path = f"/api/v1/restores/{second.json()['uid']}"
    waiting = _until(api, second_path, lambda r: r["reason"], "waiting reason")
    assert (waiting["status"], waiting["stage"]) == ("Pending", "WaitingForNamespaces"), waiting
    assert f"namespaces {namespace} are being restored by {running['name']}" in waiting["reason"]
    started = api.post("/api/v1/backups", json={
        "cluster_uid": target["cluster"], "location_uid": target["location"],
        "namespaces": [namespace],
    })  # fmt: skip
    backup_path = f"/api/v1/backups/{started.json()['uid']}"
    _until(api, backup_path, lambda b: b["stage"] == "WaitingForNamespaces", "namespace wait")
    assert api.get(backup_path).json()["status"] == "Pending"
    assert api.post(f"{backup_path}/cancel").status_code == 202
    assert _wait(api, backup_path)["status"] == "Aborted"

    # A running restore's record stays until it ends; cancelled, it says where it stopped.
    refused = api.delete(held_path)
    assert refused.status_code == 409 and "cancel it first" in refused.json()["error"]["message"]
    assert api.post(f"{held_path}/cancel").status_code == 202
    aborted = _wait(api, held_path)
    assert aborted["status"] == "Aborted", aborted
    assert aborted["reason"] == "cancelled during MoveVolumeData", aborted
    [volume] = aborted["volumes"]
    assert volume["status"] == "Failed" and "cancelled" in volume["reason"], volume
    # What comes after the data was never applied; the claim it made stays.
    assert not _exists(kube, "ConfigMap", "settings", namespace)
    assert _exists(kube, "PersistentVolumeClaim", "pgdata", namespace)
    again = api.post(f"{held_path}/cancel")
    assert again.status_code == 409 and "nothing to cancel" in again.json()["error"]["message"]

    # The namespace is free again: the waiting restore goes on and brings the rest back.
    done = _wait(api, second_path)
    assert done["status"] == "Success", (done["reason"], done["resources"])
    assert done["reason"] == ""
    assert _exists(kube, "ConfigMap", "settings", namespace)

    assert api.delete(held_path).status_code == 204
    assert api.get(held_path).status_code == 404
    assert api.delete(held_path).status_code == 404
    assert api.get(second_path).status_code == 200  # only that record went
    assert api.get(f"/api/v1/backups/{backup['uid']}").json()["status"] == "Success"
    # Someone else's restore is not theirs to cancel, retry or delete (nor to see).
    other = as_user("appuser")
    assert other.post(f"{second_path}/cancel").status_code == 404
    assert other.post(f"{second_path}/retry").status_code == 404
    assert other.delete(second_path).status_code == 404
    _delete_namespace(kube, namespace)


def _quota(kube: Kube, namespace: str, config_maps: int) -> None:
    kube.create(
        {"apiVersion": "v1", "kind": "ResourceQuota",
         "metadata": {"name": "few", "namespace": namespace},
         "spec": {"hard": {"count/configmaps": str(config_maps)}}}
    )  # fmt: skip


def _config_map_names(kube: Kube, namespace: str) -> list[str]:
    config_maps = kube.dyn.resources.get(api_version="v1", kind="ConfigMap")
    return [c.metadata.name for c in config_maps.get(namespace=namespace).items]


def _config_maps_used(kube: Kube, namespace: str) -> int | None:
    quota = kube.read("v1", "ResourceQuota", "few", namespace)
    used = ((quota.get("status") or {}).get("used") or {}).get("count/configmaps")
    return None if used is None else int(used)


def test_a_retry_restores_only_the_object_that_failed(
    as_user: Users, target: dict[str, str], kube: Kube
) -> None:
    api = as_user("infraadmin")
    source, copy = unique("quota-src"), unique("quota-dst")
    kube.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": source}})
    _config_map(kube, source, "first", {"a": "1"})
    _config_map(kube, source, "second", {"b": "2"})
    backup = _backup(api, target, source)
    assert backup["status"] == "Success", backup["reason"]

    # The target namespace has room for one more config map: the second one fails.
    kube.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": copy}})
    deadline = time.monotonic() + 60
    # The controller manager publishes the namespace's own kube-root-ca.crt a moment after the
    # namespace exists: counted before it, the quota would leave no room for either config map.
    while not _config_map_names(kube, copy):
        assert time.monotonic() < deadline, "kube-root-ca.crt never appeared"
        time.sleep(0.5)
    _quota(kube, copy, 1000)
    while (used := _config_maps_used(kube, copy)) is None:
        assert time.monotonic() < deadline, "the quota controller never counted"
        time.sleep(0.5)
    kube.dyn.resources.get(api_version="v1", kind="ResourceQuota").delete(
        name="few", namespace=copy
    )
    _quota(kube, copy, used + 1)
    while _config_maps_used(kube, copy) is None:
        assert time.monotonic() < deadline, "the quota controller never counted"
        time.sleep(0.5)

    body = {"backup_uid": backup["uid"], "namespace_mapping": {source: copy}}
    started = api.post("/api/v1/restores", json=body)
    path = f"/api/v1/restores/{started.json()['uid']}"
    first = _wait(api, path)
    assert first["status"] == "PartialSuccess", first
    results = {r["name"]: r for r in first["resources"] if r["kind"] == "ConfigMap"}
    [failed] = [r for r in results.values() if r["action"] == "failed"]
    [restored] = [r for r in results.values() if r["action"] == "created"]
    assert "quota" in failed["reason"], failed
    kept_version = kube.read("v1", "ConfigMap", restored["name"], copy)["metadata"][
        "resourceVersion"
    ]

    kube.dyn.resources.get(api_version="v1", kind="ResourceQuota").delete(
        name="few", namespace=copy
    )
    retried = api.post(f"{path}/retry")
    assert retried.status_code == 202, retried.text
    second = _wait(api, path)
    assert second["status"] == "Success", second
    assert second["uid"] == first["uid"] and second["name"] == first["name"]
    after = {r["name"]: r for r in second["resources"] if r["kind"] == "ConfigMap"}
    assert after[failed["name"]]["action"] == "created", after
    # The object restored the first time was left alone: same result, same object.
    assert after[restored["name"]] == restored
    assert (
        kube.read("v1", "ConfigMap", restored["name"], copy)["metadata"]["resourceVersion"]
        == kept_version
    )
    assert len(second["resources"]) == len(first["resources"])
    nothing = api.post(f"{path}/retry")
    assert nothing.status_code == 409 and "nothing to retry" in nothing.json()["error"]["message"]
    _delete_namespace(kube, copy)
    _delete_namespace(kube, source)


def test_a_preview_lists_the_fields_a_replace_changes_and_never_a_secrets_value(
    as_user: Users, target: dict[str, str], kube: Kube
) -> None:
    api = as_user("infraadmin")
    namespace = unique("diff")
    kube.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
    _config_map(kube, namespace, "settings", {"mode": "fast", "size": "10"})
    secret_values = ("backed-up-pass", "changed-later-pass")
    kube.create(
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db", "namespace": namespace},
         "data": {"password": base64.b64encode(secret_values[0].encode()).decode()}}
    )  # fmt: skip
    backup = _backup(api, target, namespace)
    assert backup["status"] == "Success", backup["reason"]

    # After the backup: a value changed, a key and a label added, the secret changed.
    config_maps = kube.dyn.resources.get(api_version="v1", kind="ConfigMap")
    config_maps.patch(
        name="settings", namespace=namespace,
        body={"metadata": {"labels": {"tier": "gold"}}, "data": {"mode": "slow", "extra": "x"}},
    )  # fmt: skip
    kube.dyn.resources.get(api_version="v1", kind="Secret").patch(
        name="db", namespace=namespace,
        body={"data": {"password": base64.b64encode(secret_values[1].encode()).decode()}},
    )  # fmt: skip

    body = {"backup_uid": backup["uid"], "replace_policy": "replace"}
    preview = api.post("/api/v1/restores/preview", json=body)
    assert preview.status_code == 200, preview.text
    objects = {(r["kind"], r["name"]): r for r in preview.json()["resources"]}
    settings = objects[("ConfigMap", "settings")]
    assert settings["action"] == "replace"
    assert {c["path"]: c for c in settings["changes"]} == {
        "data.mode": {"path": "data.mode", "change": "changed", "old": "slow", "new": "fast"},
        "data.extra": {"path": "data.extra", "change": "removed", "old": "x"},
        "metadata.labels": {
            "path": "metadata.labels",
            "change": "removed",
            "old": {"tier": "gold"},
        },
    }
    secret = objects[("Secret", "db")]
    assert secret["changes"] == [{"path": "data.password", "change": "changed", "hidden": True}]
    for value in secret_values:
        assert value not in preview.text
        assert base64.b64encode(value.encode()).decode() not in preview.text
    # Under keep nothing is replaced, so no change is listed; and a preview changed nothing.
    kept = api.post("/api/v1/restores/preview", json={**body, "replace_policy": "keep"}).json()
    assert all(not r["changes"] for r in kept["resources"])
    assert kube.read("v1", "ConfigMap", "settings", namespace)["data"]["mode"] == "slow"
    _delete_namespace(kube, namespace)
