"""Backup verification and repository check on the real stack: a good backup verifies with no
difference and leaves no scratch namespace; a chunk deleted or corrupted behind Lifeboat's back
(straight in the S3 bucket) is caught and named, with the backups it affects.
"""

from __future__ import annotations

import io
import random
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from kubernetes.dynamic.exceptions import DynamicApiError
from minio import Minio

from deploy.local.stack import Stack
from tests.api.helpers import dev_location, dev_s3, unique
from tests.conftest import Users
from tests.e2e.conftest import Kube
from tests.e2e.test_backup_restore import _backup, _bound_dir, _claim
from tests.e2e.test_metrics import scrape
from tests.e2e.test_tenant_access import _share

CHUNKS = "lifeboat-data/v1/chunks/"


def _application(kube: Kube, namespace: str) -> None:
    """A namespace with a workload, its settings, a secret, a service and a filled claim."""
    kube.create(
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": namespace, "labels": {"team": "payments"}},
        }
    )
    kube.create(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "settings", "namespace": namespace},
            "data": {"mode": "production"},
        }
    )
    kube.create(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "db", "namespace": namespace},
            "stringData": {"password": "s3cr3t"},
        }
    )
    kube.create(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "web", "namespace": namespace},
            "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]},
        }
    )
    kube.create(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web", "namespace": namespace},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "web", "image": "nginx:1.25"}]},
                },
            },
        }
    )
    _claim(kube, namespace, "pgdata")  # fmt: skip


def _fill(directory: Path) -> None:
    """One large file of random bytes (its chunks are objects of their own), small files
    (packed), a directory and a symlink."""
    rng = random.Random(17)
    (directory / "big.bin").write_bytes(rng.randbytes(6 * 1024 * 1024))
    (directory / "conf").mkdir()
    for i in range(20):
        (directory / "conf" / f"part-{i:02d}").write_bytes(rng.randbytes(rng.randint(1, 2000)))
    (directory / "current").symlink_to("big.bin")


def _backed_up(api: httpx.Client, kube: Kube, stack: Stack, target: dict[str, str]) -> Any:
    namespace = unique("verify")
    _application(kube, namespace)
    _fill(_bound_dir(stack, namespace, "pgdata"))
    backup = _backup(api, target, namespace)
    assert backup["status"] == "Success", backup["reason"]
    assert backup["volume_count"] == 1
    return backup


def _own_bucket(api: httpx.Client, stack: Stack, target: dict[str, str]) -> dict[str, str]:
    """The test cluster, and a location on a bucket of its own: its chunks are this test's."""
    return {"cluster": target["cluster"], **dev_location(api, stack)}


def _verified(api: httpx.Client, uid: str, timeout: float = 300) -> dict[str, Any]:
    """The backup once its verification has ended."""
    deadline = time.monotonic() + timeout
    while True:
        backup: dict[str, Any] = api.get(f"/api/v1/backups/{uid}").json()
        verification = backup["verification"]
        if verification and verification["status"] != "InProgress":
            return backup
        assert time.monotonic() < deadline, f"verification still {verification}"
        time.sleep(1)


def _gone(kube: Kube, namespace: str) -> bool:
    try:
        kube.read("v1", "Namespace", namespace)
    except DynamicApiError as exc:
        if exc.status == 404:
            return True
        raise
    return False


def _s3(stack: Stack) -> Minio:
    return dev_s3(stack)


def _chunk_objects(s3: Minio, bucket: str) -> list[tuple[str, int]]:
    return sorted(
        (str(o.object_name), int(o.size or 0))
        for o in s3.list_objects(bucket, prefix=CHUNKS, recursive=True)
    )


def _failed_verifications(stack: Stack) -> float:
    page = scrape(stack.worker_metrics_url)
    found = [
        s.value
        for s in page.samples
        if s.name == "lifeboat_verifications_total" and s.labels == {"status": "Failed"}
    ]
    return found[0] if found else 0.0


def test_a_good_backup_verifies_without_differences_and_leaves_no_scratch_namespace(
    as_user: Users, target: dict[str, str], kube: Kube, stack: Stack
) -> None:
    api = as_user("infraadmin")
    cluster = target["cluster"]
    target = _own_bucket(api, stack, target)
    backup = _backed_up(api, kube, stack, target)
    assert backup["verification"] is None and backup["verified_at"] is None

    started = api.post(f"/api/v1/backups/{backup['uid']}/verify")
    assert started.status_code == 202, started.text
    done = _verified(api, backup["uid"])
    verification = done["verification"]
    assert verification["status"] == "Passed", verification["differences"]
    assert verification["differences_total"] == 0 and verification["differences"] == []
    assert done["verified_at"]
    scratch = f"lifeboat-verify-{backup['uid'].split('-')[0]}"
    [source] = verification["namespaces"]
    assert verification["namespaces"] == {source: scratch}
    # Namespace, ConfigMap, Secret, Service, Deployment, claim: each compared.
    assert verification["objects"]["checked"] >= 6
    assert verification["objects"]["differing"] == 0
    [volume] = verification["volumes"]
    assert volume["pvc"] == "pgdata" and volume["status"] == "Passed"
    assert volume["files"] == 21 and volume["bytes_checked"] > 6 * 1024 * 1024
    assert _gone(kube, scratch), "the scratch namespace was left behind"
    # The list shows the last verification too.
    listed = api.get("/api/v1/backups", params={"cluster_uid": cluster}).json()["items"]
    [row] = [b for b in listed if b["uid"] == backup["uid"]]
    assert row["verification"]["status"] == "Passed" and row["verified_at"]
    # The original namespace was not touched: its Deployment still wants 2 replicas.
    deployment = kube.read("apps/v1", "Deployment", "web", source)
    assert deployment["spec"]["replicas"] == 2


def test_a_chunk_deleted_behind_lifeboats_back_fails_the_verification_naming_the_file(
    as_user: Users, target: dict[str, str], kube: Kube, stack: Stack
) -> None:
    api = as_user("infraadmin")
    target = _own_bucket(api, stack, target)
    backup = _backed_up(api, kube, stack, target)
    s3 = _s3(stack)
    chunks = _chunk_objects(s3, target["bucket"])
    # The only objects of their own are big.bin's chunks (small files are packed).
    assert len(chunks) >= 2, chunks
    deleted = chunks[0][0]
    s3.remove_object(target["bucket"], deleted)
    failed_before = _failed_verifications(stack)

    assert api.post(f"/api/v1/backups/{backup['uid']}/verify").status_code == 202
    verification = _verified(api, backup["uid"])["verification"]
    assert verification["status"] == "Failed"
    assert "differences" in verification["reason"]
    files = [d for d in verification["differences"] if d["kind"] == "file"]
    named = [d for d in files if d["name"] == "pgdata" and d["path"] == "big.bin"]
    assert named, verification["differences"]
    assert deleted.rsplit("/", 1)[-1] in named[0]["problem"]
    [volume] = verification["volumes"]
    assert volume["pvc"] == "pgdata" and volume["status"] == "Failed"
    # Objects still compared equal: only the data is damaged.
    assert verification["objects"]["differing"] == 0
    assert _gone(kube, f"lifeboat-verify-{backup['uid'].split('-')[0]}")
    assert _failed_verifications(stack) == failed_before + 1


def _checked(api: httpx.Client, location: str, before: str | None) -> dict[str, Any]:
    deadline = time.monotonic() + 180
    while True:
        check: dict[str, Any] = api.get(
            f"/api/v1/backup-locations/{location}/repository-check"
        ).json()
        if check["started_at"] not in (None, before) and check["status"] != "InProgress":
            return check
        assert time.monotonic() < deadline, f"repository check still {check['status']}"
        time.sleep(1)


def test_the_repository_check_finds_a_deleted_and_a_corrupted_chunk_and_names_the_backups(
    as_user: Users, target: dict[str, str], kube: Kube, stack: Stack
) -> None:
    api = as_user("infraadmin")
    target = _own_bucket(api, stack, target)
    location = target["location"]
    never = api.get(f"/api/v1/backup-locations/{location}/repository-check").json()
    assert never["status"] is None

    # Out of range: refused, naming the field, and nothing starts.
    refused = api.post(
        f"/api/v1/backup-locations/{location}/check-repository", json={"sample_fraction": 1.5}
    )
    assert refused.status_code == 422 and "sample_fraction" in refused.text

    backup = _backed_up(api, kube, stack, target)
    clean = api.post(
        f"/api/v1/backup-locations/{location}/check-repository", json={"sample_fraction": 1.0}
    )
    assert clean.status_code == 202, clean.text
    passed = _checked(api, location, None)
    assert passed["status"] == "Passed", passed["problems"]
    assert passed["chunks"] >= 3 and passed["chunks_sampled"] == passed["chunks"]
    assert passed["snapshots"] == 1 and passed["backups_affected"] == []

    s3 = _s3(stack)
    chunks = _chunk_objects(s3, target["bucket"])
    assert len(chunks) >= 2, chunks
    (deleted, _), (corrupted, size) = chunks[0], chunks[1]
    s3.remove_object(target["bucket"], deleted)
    # Same size, other bytes: only downloading it can tell.
    garbage = random.Random(3).randbytes(size)
    s3.put_object(target["bucket"], corrupted, io.BytesIO(garbage), size)

    # Without a sample only the missing chunk shows.
    api.post(f"/api/v1/backup-locations/{location}/check-repository", json={})
    quick = _checked(api, location, passed["started_at"])
    assert quick["status"] == "Failed"
    assert [(p["problem"], p["object"]) for p in quick["problems"]] == [("missing", deleted)]

    api.post(f"/api/v1/backup-locations/{location}/check-repository", json={"sample_fraction": 1.0})
    check = _checked(api, location, quick["started_at"])
    assert check["status"] == "Failed"
    found = {p["object"]: p for p in check["problems"]}
    assert set(found) == {deleted, corrupted}, check["problems"]
    assert found[deleted]["problem"] == "missing"
    assert found[corrupted]["problem"] == "corrupt"
    for problem in found.values():
        assert [b["name"] for b in problem["backups"]] == [backup["name"]]
    assert check["backups_affected"] == [{"uid": backup["uid"], "name": backup["name"]}]
    assert backup["name"] in check["reason"] or "1 backups affected" in check["reason"]


def test_who_may_restore_a_backup_may_verify_it_and_others_do_not_see_it(
    as_user: Users, target: dict[str, str], kube: Kube, kubeconfig_text: str
) -> None:
    owner, sharee = as_user("infraadmin"), as_user("appuser")
    assert sharee.get("/api/v1/me").status_code == 200  # signed in once: a share target
    namespace = unique("shared")
    kube.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
    kube.create({"apiVersion": "v1", "kind": "ConfigMap",
                 "metadata": {"name": "settings", "namespace": namespace},
                 "data": {"owner": "infraadmin"}})  # fmt: skip
    cluster = owner.post(
        "/api/v1/clusters", json={"name": unique("mine"), "kubeconfig": kubeconfig_text}
    ).json()["uid"]
    backup = _backup(owner, {**target, "cluster": cluster}, namespace)
    assert backup["status"] == "Success", backup["reason"]
    verify = f"/api/v1/backups/{backup['uid']}/verify"

    # Not shared: the app user cannot see it, so cannot verify it either.
    assert sharee.post(verify).status_code == 404
    # A view share shows the backup but verifies nothing (a verification is a restore).
    _share(owner, "clusters", cluster, "appuser", "view")
    refused = sharee.post(verify)
    assert refused.status_code == 403 and "restore" in refused.text, refused.text
    # A restore share lets them restore it, so verify it too.
    _share(owner, "clusters", cluster, "appuser", "restore")
    started = sharee.post(verify)
    assert started.status_code == 202, started.text
    verification = _verified(sharee, backup["uid"])["verification"]
    assert verification["status"] == "Passed", verification["differences"]


def test_a_schedule_with_verify_every_1_verifies_the_backup_its_run_made(
    as_user: Users, target: dict[str, str], kube: Kube
) -> None:
    api = as_user("infraadmin")
    namespace = unique("scheduled")
    kube.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
    # Half a day away: only run-now makes a backup during the test.
    at = (datetime.now().astimezone() + timedelta(hours=12)).strftime("%H:%M")
    policy = api.post("/api/v1/schedule-policies", json={
        "name": unique("daily"), "schedule": {"type": "daily", "time": at},
    })  # fmt: skip
    assert policy.status_code == 201, policy.text
    body = {
        "name": unique("verified"), "policy_uid": policy.json()["uid"], "verify_every": -1,
        "backup": {"cluster_uid": target["cluster"], "location_uid": target["location"],
                   "namespaces": [namespace]},
    }  # fmt: skip
    refused = api.post("/api/v1/backup-schedules", json=body)
    assert refused.status_code == 422 and "verify_every" in refused.text
    schedule = api.post("/api/v1/backup-schedules", json={**body, "verify_every": 1})
    assert schedule.status_code == 201, schedule.text
    assert schedule.json()["spec"]["verify_every"] == 1
    uid = schedule.json()["uid"]
    assert api.post(f"/api/v1/backup-schedules/{uid}/run-now").status_code == 202
    deadline = time.monotonic() + 180
    while not (made := api.get("/api/v1/backups", params={"schedule_uid": uid}).json()["items"]):
        assert time.monotonic() < deadline, "the schedule made no backup"
        time.sleep(1)
    verification = _verified(api, made[0]["uid"])["verification"]
    assert verification["status"] == "Passed", verification["differences"]
    assert verification["namespaces"] == {
        namespace: f"lifeboat-verify-{made[0]['uid'].split('-')[0]}"
    }
