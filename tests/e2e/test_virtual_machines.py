"""KubeVirt VMs on the real test cluster: listed by a sync, backed up frozen, restored whole.

The cluster has KubeVirt's API types but no KubeVirt (`deploy.local.doubles.kubevirt`): VMs, their
DataVolumes, claims and launcher pods are made as its controllers would, and `pods/exec`
reaches the launcher's virt-freezer through the real API server and the exec double.
"""

from __future__ import annotations

import base64
import datetime
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from deploy.local.doubles.csi.server import ACTION_LOG
from deploy.local.doubles.kubelet import exec_records
from deploy.local.doubles.kubelet_server import ExecRecord
from deploy.local.doubles.kubevirt import (
    VirtualMachineObjects,
    create_virtual_machine,
    install_kubevirt_api,
)
from deploy.local.servers.oidc import OidcProvider
from deploy.local.stack import Stack
from lifeboat.virtual_machines import freezer_command
from tests.api.helpers import unique, wait_for_sync
from tests.api.test_modes import _client, federated_api  # noqa: F401 (a fixture)
from tests.conftest import Users
from tests.e2e.conftest import Kube
from tests.e2e.test_backup_restore import _bound_dir, _checksums, _delete_namespace, _fill, _wait


@pytest.fixture(scope="module")
def kubevirt(stack: Stack) -> None:
    install_kubevirt_api(Path(stack.kubeconfig))


@pytest.fixture(scope="module")
def vms(kubevirt: None, stack: Stack, kube: Kube) -> Iterator[dict[str, VirtualMachineObjects]]:
    """A namespace with a running VM (two disks), a stopped one, and objects of neither."""
    namespace = unique("vms")
    kubeconfig = Path(stack.kubeconfig)
    web = create_virtual_machine(
        kubeconfig, namespace, "web", kubelet_home=Path(stack.kubelet_home), claim=True
    )
    idle = create_virtual_machine(kubeconfig, namespace, "idle")
    kube.create(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "unrelated", "namespace": namespace},
            "data": {"a": "b"},
        }
    )
    kube.create(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "other", "namespace": namespace},
            "stringData": {"c": "d"},
        }
    )
    yield {"web": web, "idle": idle}


def _backup_vms(api: httpx.Client, target: dict[str, str], *refs: str) -> dict[str, Any]:
    started = api.post(
        "/api/v1/backups",
        json={"cluster_uid": target["cluster"], "location_uid": target["location"],
              "virtual_machines": list(refs)},
    )  # fmt: skip
    assert started.status_code == 201, started.text
    return _wait(api, f"/api/v1/backups/{started.json()['uid']}")


def _synced_vms(api: httpx.Client, cluster: str, namespace: str) -> dict[str, Any]:
    """The namespace's VMs in the listing, once a sync that started after them has run.

    A sync already running when asked for is not doubled, and it may have started before the
    VMs were made: ask again until one that saw them is recorded.
    """
    for _ in range(5):
        before = api.get(f"/api/v1/clusters/{cluster}").json()["last_synced_at"]
        assert api.post(f"/api/v1/clusters/{cluster}/sync").status_code == 202
        wait_for_sync(api, cluster, after=before)
        listed = api.get(f"/api/v1/clusters/{cluster}/virtual-machines").json()["items"]
        mine = {vm["name"]: vm for vm in listed if vm["namespace"] == namespace}
        if mine:
            return mine
    raise AssertionError(f"no sync listed the VMs of {namespace}")


def _ended(record: ExecRecord) -> datetime.datetime:
    started = datetime.datetime.fromisoformat(record["started"])
    return started + datetime.timedelta(seconds=record["seconds"])


def _snapshot_times(stack: Stack, namespace: str) -> list[datetime.datetime]:
    """When the CSI double cut each snapshot of the namespace's claims."""
    lines = (Path(stack.csi_home) / ACTION_LOG).read_text().splitlines()
    return [
        datetime.datetime.fromisoformat(entry["time"])
        for entry in map(json.loads, lines)
        if entry["action"] == "snapshot" and entry["claim"].startswith(f"{namespace}/")
    ]


@pytest.mark.slow
def test_vms_are_listed_backed_up_frozen_and_restored_whole(
    as_user: Users,
    target: dict[str, str],
    kube: Kube,
    stack: Stack,
    vms: dict[str, VirtualMachineObjects],
) -> None:
    api = as_user("infraadmin")
    web, idle = vms["web"], vms["idle"]
    namespace, root_disk = web.namespace, str(web.data_volume)
    data = {claim: _fill(_bound_dir(stack, namespace, claim)) for claim in web.claims}

    # A sync lists the VMs and the namespaces.
    mine = _synced_vms(api, target["cluster"], namespace)
    assert mine == {
        "web": {"namespace": namespace, "name": "web", "status": "Running", "running": True,
                "claims": sorted(web.claims)},
        "idle": {"namespace": namespace, "name": "idle", "status": "Stopped", "running": False,
                 "claims": idle.claims},
    }  # fmt: skip
    namespaces = api.get(f"/api/v1/clusters/{target['cluster']}/namespaces").json()["items"]
    assert {"name": namespace} in namespaces

    # A VM backup holds the VM and what it uses, nothing else of its namespace.
    backup = _backup_vms(api, target, f"{namespace}/web")
    assert backup["status"] == "Success", backup["reason"]
    assert backup["reason"] == ""
    held = {(r["type"], r["name"]) for r in backup["resources"] if r["namespace"] == namespace}
    assert held == {
        ("virtualmachines.kubevirt.io", "web"), ("datavolumes.cdi.kubevirt.io", web.data_volume),
        ("persistentvolumeclaims", web.data_volume), ("persistentvolumeclaims", web.claim),
        ("secrets", web.cloud_init_secret),
    }  # fmt: skip
    assert sorted(v["pvc"] for v in backup["volumes"]) == sorted(web.claims)

    # Frozen once before the snapshots, thawed once after them, in the launcher's compute.
    runs = [r for r in exec_records(Path(stack.kubelet_home)) if r["namespace"] == namespace]
    assert [(r["pod"], r["container"], r["command"], r["exit_code"]) for r in runs] == [
        (web.launcher_pod, "compute", freezer_command("freeze", namespace, "web"), 0),
        (web.launcher_pod, "compute", freezer_command("unfreeze", namespace, "web"), 0),
    ]
    cuts = _snapshot_times(stack, namespace)
    assert len(cuts) == 2
    assert _ended(runs[0]) <= min(cuts) and max(cuts) <= _ended(runs[1])
    freezer_log = (web.launcher_dir(Path(stack.kubelet_home)) / "virt-freezer.log").read_text()
    assert freezer_log.splitlines() == [
        f"--freeze --name web --namespace {namespace}",
        f"--unfreeze --name web --namespace {namespace}",
    ]

    # A VM without a launcher pod is backed up crash-consistent, and the backup says so.
    stopped = _backup_vms(api, target, f"{namespace}/idle")
    assert stopped["status"] == "Success", stopped["reason"]
    assert f"{namespace}/idle" in stopped["reason"] and "crash-consistent" in stopped["reason"]
    assert len([r for r in exec_records(Path(stack.kubelet_home))
                if r["namespace"] == namespace]) == 2  # fmt: skip

    # A VM the cluster does not have fails the backup at its validate step.
    ghost = _backup_vms(api, target, f"{namespace}/ghost")
    assert ghost["status"] == "Failed"
    assert ghost["reason"] == f"Validate: virtual machines not in the cluster: {namespace}/ghost"

    # A backup of the whole namespace holds the claim its DataVolume controls, too.
    whole = _wait(api, "/api/v1/backups/" + api.post("/api/v1/backups", json={
        "cluster_uid": target["cluster"], "location_uid": target["location"],
        "namespaces": [namespace]}).json()["uid"])  # fmt: skip
    assert whole["status"] == "Success", whole["reason"]
    assert ("persistentvolumeclaims", root_disk) in {
        (r["type"], r["name"]) for r in whole["resources"]
    }

    # Delete the namespace, restore: the VM, its disks with every byte, its secret.
    _delete_namespace(kube, namespace)
    restored = api.post("/api/v1/restores", json={"backup_uid": backup["uid"]})
    assert restored.status_code == 201, restored.text
    restore = _wait(api, f"/api/v1/restores/{restored.json()['uid']}")
    assert restore["status"] == "Success", (restore["reason"], restore["resources"])
    vm = kube.read("kubevirt.io/v1", "VirtualMachine", "web", namespace)
    assert vm["spec"]["template"]["spec"]["volumes"][0]["cloudInitNoCloud"] == {
        "secretRef": {"name": web.cloud_init_secret}
    }
    disk = kube.read("cdi.kubevirt.io/v1beta1", "DataVolume", root_disk, namespace)
    # CDI adopts the restored claim instead of importing into it again.
    annotations = disk["metadata"]["annotations"]
    assert annotations["cdi.kubevirt.io/storage.prePopulated"] == root_disk
    secret = kube.read("v1", "Secret", web.cloud_init_secret, namespace)
    assert base64.b64decode(secret["data"]["userdata"]).decode().startswith("#cloud-config")
    for claim, sums in data.items():
        assert _checksums(_bound_dir(stack, namespace, claim)) == sums
    configmaps = kube.dyn.resources.get(api_version="v1", kind="ConfigMap")
    names = {c["metadata"]["name"] for c in configmaps.get(namespace=namespace).to_dict()["items"]}
    assert "unrelated" not in names

    # And from the namespace's backup: every disk's bytes come back as well.
    _delete_namespace(kube, namespace)
    again = api.post("/api/v1/restores", json={"backup_uid": whole["uid"]})
    restore = _wait(api, f"/api/v1/restores/{again.json()['uid']}")
    assert restore["status"] == "Success", (restore["reason"], restore["volumes"])
    for claim, sums in data.items():
        assert _checksums(_bound_dir(stack, namespace, claim)) == sums


def test_a_vm_backup_names_its_vms_correctly(as_user: Users, target: dict[str, str]) -> None:
    api = as_user("infraadmin")
    body = {"cluster_uid": target["cluster"], "location_uid": target["location"]}
    malformed = api.post("/api/v1/backups", json={**body, "virtual_machines": ["no-slash"]})
    assert malformed.status_code == 422
    assert malformed.json()["error"]["field"] == "virtual_machines.0"
    both = api.post(
        "/api/v1/backups", json={**body, "virtual_machines": ["a/b"], "namespaces": ["a"]}
    )
    assert both.status_code == 422
    assert both.json()["error"]["field"] == "virtual_machines"


def test_federated_mode_has_no_virtual_machines(
    federated_api: str,  # noqa: F811 (the fixture imported above)
    provider: OidcProvider,
    target: dict[str, str],
) -> None:
    with _client(federated_api, provider, "infraadmin") as api:
        listed = api.get(f"/api/v1/clusters/{target['cluster']}/virtual-machines")
        assert listed.status_code == 404
        assert "federated mode" in listed.json()["error"]["message"]
        backup = api.post(
            "/api/v1/backups",
            json={"cluster_uid": target["cluster"], "location_uid": target["location"],
                  "virtual_machines": ["vms/web"]},
        )  # fmt: skip
        assert backup.status_code == 404
        assert "federated mode" in backup.json()["error"]["message"]
        # The cluster's namespaces are listed in either mode.
        namespaces = api.get(f"/api/v1/clusters/{target['cluster']}/namespaces")
        assert namespaces.status_code == 200, namespaces.text
