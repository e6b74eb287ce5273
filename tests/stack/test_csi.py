"""The hostpath CSI test double provisions, snapshots and restores through the real API server."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import pytest
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from deploy.local.doubles.csi.driver import (
    running_csi,
    snapshot_dir,
    start_csi,
    stop_csi,
    volume_dir,
)
from deploy.local.doubles.csi.objects import FINALIZER
from deploy.local.doubles.csi.server import ACTION_LOG
from deploy.local.doubles.snapshot_crds import (
    CONTENTS,
    DRIVER,
    GROUP,
    SNAPSHOT_CLASS,
    SNAPSHOTS,
    STORAGE_CLASS,
    VERSION,
)
from deploy.local.servers.kube import start_kube, stop_kube
from deploy.local.servers.procs import ManagedProcess, pid_alive

T = TypeVar("T")
Obj = dict[str, Any]


@dataclass(frozen=True)
class Env:
    """A running cluster with the driver; clients are built per call, since the API server
    moves to another port when the restart test restarts it."""

    kube_home: Path
    csi_home: Path
    kubeconfig: Path

    def core(self) -> client.CoreV1Api:
        return client.CoreV1Api(config.new_client_from_config(config_file=str(self.kubeconfig)))

    def custom(self) -> client.CustomObjectsApi:
        api = config.new_client_from_config(config_file=str(self.kubeconfig))
        return client.CustomObjectsApi(api)


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    base = tmp_path_factory.mktemp("csi")
    kube_home, csi_home = base / "kube", base / "csi"
    cluster = start_kube(kube_home)
    try:
        started = time.monotonic()
        start_csi(csi_home, cluster.kubeconfig)
        print(f"start_csi took {time.monotonic() - started:.1f}s")
        yield Env(kube_home, csi_home, cluster.kubeconfig)
    finally:
        stop_csi(csi_home)
        stop_kube(kube_home)


def _wait_for(what: str, check: Callable[[], T | None], timeout: float = 10.0) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"{what} did not happen within {timeout:.0f}s")


def _gone(read: Callable[[], object]) -> bool:
    try:
        read()
    except ApiException as error:
        if error.status == 404:
            return True
        raise
    return False


def _namespace(env: Env, name: str) -> None:
    env.core().create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))


def _create_claim(env: Env, namespace: str, name: str, *, from_snapshot: str | None = None) -> None:
    spec: Obj = {
        "storageClassName": STORAGE_CLASS,
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": "1Gi"}},
    }
    if from_snapshot is not None:
        spec["dataSource"] = {"apiGroup": GROUP, "kind": "VolumeSnapshot", "name": from_snapshot}
    claim = {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": name}}
    env.core().create_namespaced_persistent_volume_claim(
        namespace, client.V1PersistentVolumeClaim.model_validate({**claim, "spec": spec})
    )


def _plain(model: object) -> Obj:
    """A typed client object as the API's JSON, with the API's field names."""
    found: Obj = client.ApiClient().sanitize_for_serialization(model)
    return found


def _claim(env: Env, namespace: str, name: str) -> Obj:
    return _plain(env.core().read_namespaced_persistent_volume_claim(name, namespace))


def _volume(env: Env, name: str) -> Obj:
    return _plain(env.core().read_persistent_volume(name))


def _wait_bound(env: Env, namespace: str, name: str, timeout: float = 10.0) -> Obj:
    def bound() -> Obj | None:
        claim = _claim(env, namespace, name)
        return claim if claim.get("status", {}).get("phase") == "Bound" else None

    return _wait_for(f"claim {namespace}/{name} Bound", bound, timeout)


def _create_snapshot(
    env: Env, namespace: str, name: str, claim: str, snapshot_class: str | None = None
) -> None:
    spec: Obj = {"source": {"persistentVolumeClaimName": claim}}
    # Without a class named, the default class (ours) applies, as Lifeboat relies on.
    if snapshot_class is not None:
        spec["volumeSnapshotClassName"] = snapshot_class
    snapshot = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "VolumeSnapshot",
        "metadata": {"name": name},
        "spec": spec,
    }
    env.custom().create_namespaced_custom_object(GROUP, VERSION, namespace, SNAPSHOTS, snapshot)


def _snapshot(env: Env, namespace: str, name: str) -> Obj:
    found = env.custom().get_namespaced_custom_object(GROUP, VERSION, namespace, SNAPSHOTS, name)
    assert isinstance(found, dict)
    return found


def _content(env: Env, name: str) -> Obj:
    found = env.custom().get_cluster_custom_object(GROUP, VERSION, CONTENTS, name)
    assert isinstance(found, dict)
    return found


def _wait_ready(env: Env, namespace: str, name: str, timeout: float = 10.0) -> Obj:
    def ready() -> Obj | None:
        snapshot = _snapshot(env, namespace, name)
        return snapshot if (snapshot.get("status") or {}).get("readyToUse") else None

    return _wait_for(f"snapshot {namespace}/{name} ready", ready, timeout)


def _delete_snapshot(env: Env, namespace: str, name: str) -> None:
    env.custom().delete_namespaced_custom_object(GROUP, VERSION, namespace, SNAPSHOTS, name)
    _wait_for(
        f"snapshot {namespace}/{name} gone", lambda: _gone(lambda: _snapshot(env, namespace, name))
    )


def _tree(root: Path) -> dict[str, tuple[object, ...]]:
    """Every entry under root with what a restore must keep: bytes, mode, mtime, link target."""
    entries: dict[str, tuple[object, ...]] = {}
    for path in sorted(root.rglob("*")):
        name = str(path.relative_to(root))
        if path.is_symlink():
            entries[name] = ("link", os.readlink(path))
        elif path.is_dir():
            entries[name] = ("dir", path.stat().st_mode & 0o777)
        else:
            stat = path.stat()
            entries[name] = ("file", path.read_bytes(), stat.st_mode & 0o777, stat.st_mtime_ns)
    return entries


def _actions(env: Env) -> list[str]:
    lines = (env.csi_home / ACTION_LOG).read_text().splitlines()
    return [json.loads(line)["action"] for line in lines]


def test_claim_snapshot_restore_and_delete(env: Env) -> None:
    _namespace(env, "shop")
    started = time.monotonic()
    _create_claim(env, "shop", "data")
    claim = _wait_bound(env, "shop", "data")
    print(f"claim bound after {time.monotonic() - started:.2f}s")
    volume_name = claim["spec"]["volumeName"]
    volume = _volume(env, volume_name)["spec"]
    data = volume_dir(env.csi_home, env.kubeconfig, "shop", "data")
    assert volume["hostPath"]["path"] == str(data)
    assert data.parent == env.csi_home.resolve() / "volumes" and data.is_dir()
    assert volume["capacity"]["storage"] == "1Gi"
    assert volume["persistentVolumeReclaimPolicy"] == "Delete"
    assert volume["storageClassName"] == STORAGE_CLASS
    assert (volume["claimRef"]["namespace"], volume["claimRef"]["name"]) == ("shop", "data")

    (data / "orders.db").write_bytes(os.urandom(200_000))
    (data / "conf").mkdir()
    (data / "conf" / "app.yaml").write_text("replicas: 3\n")
    (data / "conf" / "app.yaml").chmod(0o600)
    (data / "current").symlink_to("orders.db")
    before = _tree(data)

    started = time.monotonic()
    _create_snapshot(env, "shop", "data-1", claim="data")
    snapshot = _wait_ready(env, "shop", "data-1")
    print(f"snapshot ready after {time.monotonic() - started:.2f}s")
    assert snapshot["spec"]["volumeSnapshotClassName"] == SNAPSHOT_CLASS
    assert FINALIZER in snapshot["metadata"]["finalizers"]
    status = snapshot["status"]
    assert status["restoreSize"] == "1Gi" and status["creationTime"] and "error" not in status
    content = _content(env, status["boundVolumeSnapshotContentName"])
    assert content["spec"]["driver"] == DRIVER
    assert content["spec"]["deletionPolicy"] == "Delete"
    assert content["spec"]["source"] == {"volumeHandle": volume_name}
    assert content["spec"]["volumeSnapshotRef"]["uid"] == snapshot["metadata"]["uid"]
    assert content["status"]["snapshotHandle"] == snapshot["metadata"]["uid"]
    assert content["status"]["readyToUse"] is True
    assert content["status"]["restoreSize"] == 1 << 30
    copy = snapshot_dir(env.csi_home, env.kubeconfig, "shop", "data-1")
    assert _tree(copy) == before

    # Writes after the snapshot do not reach it: it is a point-in-time copy.
    (data / "orders.db").write_bytes(b"overwritten")
    (data / "conf" / "app.yaml").unlink()
    (data / "later.log").write_text("after the snapshot\n")
    assert _tree(copy) == before

    _create_claim(env, "shop", "restored", from_snapshot="data-1")
    restored = _wait_bound(env, "shop", "restored")
    assert _tree(volume_dir(env.csi_home, env.kubeconfig, "shop", "restored")) == before

    _delete_snapshot(env, "shop", "data-1")
    assert _gone(lambda: _content(env, status["boundVolumeSnapshotContentName"]))
    assert not copy.exists()

    restored_dir = volume_dir(env.csi_home, env.kubeconfig, "shop", "restored")
    for name in ("data", "restored"):
        env.core().delete_namespaced_persistent_volume_claim(name, "shop")
    for name in (volume_name, restored["spec"]["volumeName"]):
        _wait_for(f"volume {name} deleted", partial(_gone, partial(_volume, env, name)))
    assert not data.exists() and not restored_dir.exists()
    actions = _actions(env)
    for action in ("provision", "snapshot", "snapshot-ready", "delete-snapshot", "delete-volume"):
        assert action in actions


def _error(env: Env, namespace: str, name: str) -> str:
    def error() -> str | None:
        status = _snapshot(env, namespace, name).get("status") or {}
        assert not status.get("readyToUse")
        message: str | None = (status.get("error") or {}).get("message")
        return message

    return _wait_for(f"an error on snapshot {namespace}/{name}", error)


def test_snapshot_of_missing_claim_reports_error_until_it_exists(env: Env) -> None:
    _namespace(env, "late")
    _create_snapshot(env, "late", "early", claim="db")
    _create_snapshot(env, "late", "classless", claim="db", snapshot_class="fast")
    assert _error(env, "late", "early") == "PersistentVolumeClaim late/db does not exist"
    assert _error(env, "late", "classless") == "VolumeSnapshotClass fast does not exist"

    # Like the real snapshotter, it keeps trying: once the claim is there the snapshot is cut.
    _create_claim(env, "late", "db")
    _wait_bound(env, "late", "db")
    assert "error" not in _wait_ready(env, "late", "early")["status"]
    for name in ("early", "classless"):
        _delete_snapshot(env, "late", name)
    env.core().delete_namespaced_persistent_volume_claim("db", "late")


def test_restarts_of_driver_and_api_server(env: Env) -> None:
    _namespace(env, "ops")
    _create_claim(env, "ops", "db")
    _wait_bound(env, "ops", "db")
    process = ManagedProcess("csi", env.csi_home.resolve())
    pid = process.pid()
    assert pid is not None

    stop_csi(env.csi_home)
    assert not pid_alive(pid)
    assert running_csi(env.csi_home) is None

    # Created while no driver runs: nothing happens until one starts again.
    _create_snapshot(env, "ops", "while-down", claim="db")
    time.sleep(1.0)
    assert "status" not in _snapshot(env, "ops", "while-down")

    start_csi(env.csi_home, env.kubeconfig, ready_delay=1.5)
    started = time.monotonic()

    def bound_but_not_ready() -> Obj | None:
        status = _snapshot(env, "ops", "while-down").get("status") or {}
        return status if status.get("boundVolumeSnapshotContentName") else None

    assert _wait_for("the snapshot bound", bound_but_not_ready)["readyToUse"] is False
    _wait_ready(env, "ops", "while-down")
    assert time.monotonic() - started >= 1.0

    # A restarted API server comes back on another port, in the same kubeconfig file.
    stop_kube(env.kube_home)
    start_kube(env.kube_home)
    _create_claim(env, "ops", "after-restart")
    _wait_bound(env, "ops", "after-restart", timeout=20)
    actions = _actions(env)
    assert actions.index("api-unreachable") < actions.index("api-reachable")

    pid = process.pid()
    assert pid is not None
    stop_csi(env.csi_home)
    assert not pid_alive(pid)
    assert _actions(env)[-1] == "stop"
