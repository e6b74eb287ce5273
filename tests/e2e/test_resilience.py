"""Backups survive a worker killed in the middle of a volume upload, an S3 outage, and a
restarted Temporal server."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from minio import Minio
from temporalio.client import Client

from deploy.local.doubles.kubelet import exec_records, run_pod
from deploy.local.servers.procs import ManagedProcess, pid_alive
from deploy.local.servers.s3 import start_s3, stop_s3
from deploy.local.servers.temporal import stop_temporal
from deploy.local.stack import Stack, up
from tests.api.helpers import unique
from tests.conftest import Users
from tests.e2e.conftest import Kube
from tests.e2e.test_backup_restore import (
    _bound_dir,
    _checksums,
    _claim,
    _delete_namespace,
    _rule,
    _wait,
)
from workflows.ids import backup_workflow_id

# Each moves hundreds of MiB, and most stop and start servers of the session's stack.
pytestmark = pytest.mark.slow

VOLUME_BYTES = 400 * 1024 * 1024
# The backup's stages from the volume snapshot until its data is in the location.
DATA_STAGES = ("SnapshotVolumes", "MoveVolumeData")


def _kill_worker(stack: Stack) -> int:
    worker = ManagedProcess("worker", Path(stack.state) / "worker")
    pid = worker.pid()
    assert pid is not None
    os.killpg(pid, signal.SIGKILL)
    while pid_alive(pid):
        time.sleep(0.05)
    return pid


def _big_volume(
    kube: Kube, stack: Stack, prefix: str, *, with_pod: bool
) -> tuple[str, dict[str, str]]:
    """A namespace whose claim holds VOLUME_BYTES of random data; its checksums."""
    namespace = unique(prefix)
    kube.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
    if with_pod:
        run_pod(Path(stack.kubeconfig), namespace, "db-0", labels={"app": "db"}, containers=("db",))
    _claim(kube, namespace, "data")
    volume = _bound_dir(stack, namespace, "data")
    with (volume / "random.bin").open("wb") as f:
        for _ in range(VOLUME_BYTES // (4 << 20)):
            f.write(os.urandom(4 << 20))
    return namespace, _checksums(volume)


def _start_backup(api: httpx.Client, target: dict[str, str], namespace: str, **rules: str) -> str:
    """Start a backup and return once its upload is under way, as the progress bar shows."""
    started = api.post("/api/v1/backups", json={
        "cluster_uid": target["cluster"], "location_uid": target["location"],
        "namespaces": [namespace], **rules,
    })  # fmt: skip
    uid: str = started.json()["uid"]
    deadline = time.monotonic() + 120
    while True:
        backup: dict[str, Any] = api.get(f"/api/v1/backups/{uid}").json()
        done = (backup.get("progress") or {}).get("bytes_done", 0)
        if done > 0:
            assert done < VOLUME_BYTES, "the upload ended before the test could interrupt it"
            return uid
        assert backup["status"] in ("Pending", "InProgress"), backup
        assert time.monotonic() < deadline, "the upload never started"
        time.sleep(0.1)


def _start_backup_until_its_data_stage(
    api: httpx.Client, target: dict[str, str], namespace: str
) -> str:
    """Start a backup; return once it snapshots its volumes or moves their data, as its stage
    says (a step of the backup, not a clock, tells the test when to interfere)."""
    started = api.post("/api/v1/backups", json={
        "cluster_uid": target["cluster"], "location_uid": target["location"],
        "namespaces": [namespace],
    })  # fmt: skip
    assert started.status_code == 201, started.text
    uid: str = started.json()["uid"]
    deadline = time.monotonic() + 300
    while (backup := api.get(f"/api/v1/backups/{uid}").json())["stage"] not in DATA_STAGES:
        assert backup["status"] in ("Pending", "InProgress"), backup
        assert time.monotonic() < deadline, f"backup {uid} never reached {DATA_STAGES}"
        time.sleep(0.1)
    return uid


def _wait_for_a_failed_attempt(
    api: httpx.Client, stack: Stack, uid: str, timeout: float = 300
) -> list[str]:
    """The backup's running steps that have failed and wait for their retry (as the Temporal
    UI shows its pending activities), once there is one; the backup must not end meanwhile."""

    async def failed_steps() -> list[str]:
        client = await Client.connect(stack.temporal_address)
        description = await client.get_workflow_handle(backup_workflow_id(uid)).describe()
        return [
            pending.activity_type.name
            for pending in description.raw_description.pending_activities
            if pending.attempt > 1 or pending.HasField("last_failure")
        ]

    deadline = time.monotonic() + timeout
    while not (failed := asyncio.run(failed_steps())):
        backup = api.get(f"/api/v1/backups/{uid}").json()
        assert backup["status"] in ("Pending", "InProgress"), (backup["status"], backup["reason"])
        assert time.monotonic() < deadline, f"no step of backup {uid} failed within {timeout}s"
        time.sleep(1)
    return failed


def _restore_and_compare(
    api: httpx.Client, kube: Kube, stack: Stack, uid: str, namespace: str, expected: dict[str, str]
) -> None:
    """Delete the namespace, restore the backup, and compare every file of the volume."""
    _delete_namespace(kube, namespace)
    restored = api.post("/api/v1/restores", json={"backup_uid": uid})
    restore = _wait(api, f"/api/v1/restores/{restored.json()['uid']}", timeout=600)
    assert restore["status"] == "Success", (restore["reason"], restore["volumes"])
    assert _checksums(_bound_dir(stack, namespace, "data")) == expected


def _thawed(stack: Stack, namespace: str) -> int:
    """How many times the post rule ran in the namespace."""
    return sum(
        1 for r in exec_records(Path(stack.kubelet_home))
        if r["namespace"] == namespace and "thawed" in " ".join(r["command"])
    )  # fmt: skip


def _freeze_rules(api: httpx.Client) -> dict[str, str]:
    return {
        "pre_rule_uid": _rule(api, [{"command": "echo frozen >> state"}]),
        "post_rule_uid": _rule(api, [{"command": "echo thawed >> state"}]),
    }


def test_a_worker_killed_mid_upload_resumes_and_the_backup_completes(
    as_user: Users, target: dict[str, str], kube: Kube, stack: Stack
) -> None:
    api = as_user("infraadmin")
    namespace, expected = _big_volume(kube, stack, "big", with_pod=True)
    uid = _start_backup(api, target, namespace, **_freeze_rules(api))
    _kill_worker(stack)
    up(Path(stack.state), fixed_ports=False, database_url=stack.database_url)

    backup = _wait(api, f"/api/v1/backups/{uid}", timeout=300)
    assert backup["status"] == "Success", backup["reason"]
    assert _thawed(stack, namespace) == 1, "post rules ran once"
    # Nothing stored twice: the repository holds about the volume's bytes, not more.
    s3 = Minio(stack.s3_endpoint.removeprefix("http://"), stack.s3_access_key,
               stack.s3_secret_key, secure=False)  # fmt: skip
    stored = sum(
        o.size or 0 for o in s3.list_objects(target["bucket"], "lifeboat-data/", recursive=True)
    )
    assert stored < VOLUME_BYTES * 1.1 + 64 * 1024 * 1024, stored
    _restore_and_compare(api, kube, stack, uid, namespace, expected)


def test_an_s3_outage_while_the_data_moves_is_retried_and_the_backup_completes(
    as_user: Users, target: dict[str, str], kube: Kube, stack: Stack
) -> None:
    api = as_user("infraadmin")
    namespace, expected = _big_volume(kube, stack, "outage", with_pod=False)
    # The store goes away once the backup snapshots its volume (or starts moving its data).
    uid = _start_backup_until_its_data_stage(api, target, namespace)
    s3_home = Path(stack.state) / "s3"
    port = int(stack.s3_endpoint.rsplit(":", 1)[1])
    stop_s3(s3_home)
    # It stays away until the mover's attempt has failed on it (Temporal then retries it),
    # however long that takes on a busy machine; it comes back whatever happens, for the
    # tests after this one.
    try:
        failed = _wait_for_a_failed_attempt(api, stack, uid)
    finally:
        start_s3(s3_home, port=port)
    assert "move_volume" in failed, f"the data was moved before S3 stopped; failed: {failed}"

    backup = _wait(api, f"/api/v1/backups/{uid}", timeout=600)
    assert backup["status"] == "Success", backup["reason"]
    _restore_and_compare(api, kube, stack, uid, namespace, expected)


def test_a_cancelled_backup_runs_post_rules_removes_snapshots_and_says_aborted(
    as_user: Users, target: dict[str, str], kube: Kube, stack: Stack
) -> None:
    api = as_user("infraadmin")
    namespace, _expected = _big_volume(kube, stack, "cancel", with_pod=True)
    uid = _start_backup(api, target, namespace, **_freeze_rules(api))

    assert api.post(f"/api/v1/backups/{uid}/cancel").status_code == 202
    backup = _wait(api, f"/api/v1/backups/{uid}", timeout=120)
    assert backup["status"] == "Aborted", backup
    assert "cancelled" in backup["reason"]
    assert _thawed(stack, namespace) == 1
    _nothing_left_behind(kube, namespace)
    assert api.post(f"/api/v1/backups/{uid}/cancel").status_code == 409


def _nothing_left_behind(kube: Kube, namespace: str) -> None:
    """No snapshot and no temporary claim of the mover left in the namespace."""
    snapshots = kube.dyn.resources.get(
        api_version="snapshot.storage.k8s.io/v1", kind="VolumeSnapshot"
    )
    claims = kube.dyn.resources.get(api_version="v1", kind="PersistentVolumeClaim")
    deadline = time.monotonic() + 60
    while snapshots.get(namespace=namespace).to_dict()["items"]:
        assert time.monotonic() < deadline, f"a VolumeSnapshot was left behind in {namespace}"
        time.sleep(0.3)
    names = [c["metadata"]["name"] for c in claims.get(namespace=namespace).to_dict()["items"]]
    assert names == ["data"], names


def test_the_api_and_worker_keep_working_after_temporal_alone_is_restarted(
    as_user: Users, target: dict[str, str], kube: Kube, stack: Stack
) -> None:
    api = as_user("infraadmin")
    state = Path(stack.state)
    # `make up` while everything runs (a second `make up`), then Temporal alone goes away in
    # the middle of a backup, and the next `make up` starts it again; the api and worker are
    # not restarted.
    up(state, fixed_ports=False, database_url=stack.database_url)
    clients = {name: ManagedProcess(name, state / name).pid() for name in ("api", "worker")}
    running_namespace, expected = _big_volume(kube, stack, "temporal-restart", with_pod=False)
    running = _start_backup_until_its_data_stage(api, target, running_namespace)
    stop_temporal(state / "temporal")
    restarted = up(state, fixed_ports=False, database_url=stack.database_url)
    assert restarted.temporal_address == stack.temporal_address
    assert {name: ManagedProcess(name, state / name).pid() for name in clients} == clients

    later_namespace = unique("after-restart")
    kube.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": later_namespace}})
    _claim(kube, later_namespace, "data")
    (_bound_dir(stack, later_namespace, "data") / "orders.csv").write_text("id,total\n1,42\n")
    started = api.post("/api/v1/backups", json={
        "cluster_uid": target["cluster"], "location_uid": target["location"],
        "namespaces": [later_namespace],
    })  # fmt: skip
    assert started.status_code == 201, started.text
    later = started.json()["uid"]

    for uid, namespace in ((running, running_namespace), (later, later_namespace)):
        backup = _wait(api, f"/api/v1/backups/{uid}", timeout=600)
        assert backup["status"] == "Success", backup["reason"]
        assert [v["pvc"] for v in backup["volumes"]] == ["data"]
        _nothing_left_behind(kube, namespace)
    _restore_and_compare(api, kube, stack, running, running_namespace, expected)
