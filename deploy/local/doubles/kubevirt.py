"""KubeVirt in the dev cluster, for tests: its API types, and virtual machines made by hand.

The dev cluster runs no KubeVirt and no CDI: nothing starts a VM or imports a disk. This
installs the two types Lifeboat reads, `kubevirt.io/v1` VirtualMachine and
`cdi.kubevirt.io/v1beta1` DataVolume (namespaced, with a status subresource, schemas open as
the real ones are to a client), and `create_virtual_machine` makes what the controllers would:
the VM with its status, the DataVolume of its `dataVolumeTemplates` (owned by the VM) and the
DataVolume's claim (owned by the DataVolume), and, for a running VM, its virt-launcher pod on
the exec double's node, marked Running, whose `compute` container has a `virt-freezer` that
records each call in its POD_DIR/virt-freezer.log.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from deploy.local.doubles.kubelet import run_pod
from deploy.local.doubles.kubelet_server import PODS_DIR, container_dir
from deploy.local.doubles.snapshot_crds import (
    ESTABLISH_TIMEOUT,
    STORAGE_CLASS,
    create_or_replace_crd,
    wait_established,
)

KUBEVIRT = ("kubevirt.io", "v1", "virtualmachines")
CDI = ("cdi.kubevirt.io", "v1beta1", "datavolumes")
FREEZER_LOG = "virt-freezer.log"
# What the real virt-freezer does needs a guest agent; the double only records the call.
_FREEZER = """#!/bin/sh
# virt-freezer of the Lifeboat exec double: records each call.
echo "$*" >> "$POD_DIR/virt-freezer.log"
"""

Obj = dict[str, Any]


def _crd(api: tuple[str, str, str], kind: str, short_names: list[str]) -> Obj:
    group, version, plural = api
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{group}"},
        "spec": {
            "group": group,
            "scope": "Namespaced",
            "names": {"plural": plural, "singular": kind.lower(), "kind": kind,
                      "shortNames": short_names},
            "versions": [{
                "name": version, "served": True, "storage": True,
                "schema": {"openAPIV3Schema": {
                    "type": "object", "x-kubernetes-preserve-unknown-fields": True,
                }},
                "subresources": {"status": {}},
            }],
        },
    }  # fmt: skip


def install_kubevirt_api(kubeconfig: Path) -> None:
    """Install the VirtualMachine and DataVolume types (safe to repeat); wait until served."""
    crds = [_crd(KUBEVIRT, "VirtualMachine", ["vm", "vms"]), _crd(CDI, "DataVolume", ["dv"])]
    with _api(kubeconfig) as api:
        extensions = client.ApiextensionsV1Api(api)
        for crd in crds:
            create_or_replace_crd(extensions, crd)
        deadline = time.monotonic() + ESTABLISH_TIMEOUT
        for crd in crds:
            wait_established(extensions, crd["metadata"]["name"], deadline)


@dataclass(frozen=True)
class VirtualMachineObjects:
    """A VM made by `create_virtual_machine`, and the names of what belongs to it."""

    namespace: str
    name: str
    data_volume: str | None  # its DataVolume, whose claim has the same name
    claim: str | None  # a claim its volumes name directly
    cloud_init_secret: str
    launcher_pod: str | None  # None: the VM is stopped

    @property
    def claims(self) -> list[str]:
        return [c for c in (self.data_volume, self.claim) if c]

    def launcher_dir(self, kubelet_home: Path) -> Path:
        """Where the launcher's `compute` commands run (its virt-freezer.log is there)."""
        assert self.launcher_pod, f"{self.namespace}/{self.name} has no launcher pod"
        return container_dir(kubelet_home / PODS_DIR, self.namespace, self.launcher_pod, "compute")


def create_virtual_machine(
    kubeconfig: Path,
    namespace: str,
    name: str,
    *,
    kubelet_home: Path | None = None,
    data_volume: bool = True,
    claim: bool = False,
    size: str = "1Gi",
) -> VirtualMachineObjects:
    """Make a VM as KubeVirt and CDI would have: a cloud-init Secret, a DataVolume-backed disk
    (`data_volume`) and/or a disk on a claim of its own (`claim`), all in `namespace` (created
    when missing). Given the exec double's home, the VM runs: it gets a virt-launcher pod there.
    """
    vm = VirtualMachineObjects(
        namespace=namespace,
        name=name,
        data_volume=f"{name}-rootdisk" if data_volume else None,
        claim=f"{name}-data" if claim else None,
        cloud_init_secret=f"{name}-cloudinit",
        launcher_pod=f"virt-launcher-{name}-{secrets.token_hex(3)}" if kubelet_home else None,
    )
    pvc_spec = {
        "accessModes": ["ReadWriteOnce"],
        "storageClassName": STORAGE_CLASS,
        "resources": {"requests": {"storage": size}},
    }
    with _api(kubeconfig) as api:
        # Bodies are dicts, which the client sends as they are (its hints say models).
        core: Any = client.CoreV1Api(api)
        custom: Any = client.CustomObjectsApi(api)
        try:
            core.create_namespace({"metadata": {"name": namespace}})
        except ApiException as error:
            if error.status != 409:
                raise
        core.create_namespaced_secret(namespace, {
            "metadata": {"name": vm.cloud_init_secret},
            "stringData": {"userdata": f"#cloud-config\nhostname: {name}\n"},
        })  # fmt: skip
        created = custom.create_namespaced_custom_object(*KUBEVIRT[:2], namespace, KUBEVIRT[2],
                                                         _vm_body(vm, pvc_spec))  # fmt: skip
        running = vm.launcher_pod is not None
        custom.patch_namespaced_custom_object_status(
            *KUBEVIRT[:2], namespace, KUBEVIRT[2], name,
            {"status": {"printableStatus": "Running" if running else "Stopped",
                        "ready": running, "created": running}},
        )  # fmt: skip
        if vm.data_volume:
            disk = custom.create_namespaced_custom_object(*CDI[:2], namespace, CDI[2], {
                "apiVersion": "/".join(CDI[:2]), "kind": "DataVolume",
                "metadata": {"name": vm.data_volume,
                             "ownerReferences": [_owner(created, "kubevirt.io/v1")]},
                "spec": {"source": {"blank": {}}, "pvc": pvc_spec},
            })  # fmt: skip
            custom.patch_namespaced_custom_object_status(
                *CDI[:2], namespace, CDI[2], vm.data_volume,
                {"status": {"phase": "Succeeded", "progress": "100.0%"}},
            )  # fmt: skip
            core.create_namespaced_persistent_volume_claim(namespace, {
                "metadata": {"name": vm.data_volume,
                             "ownerReferences": [_owner(disk, "/".join(CDI[:2]))]},
                "spec": pvc_spec,
            })  # fmt: skip
        if vm.claim:
            core.create_namespaced_persistent_volume_claim(
                namespace, {"metadata": {"name": vm.claim}, "spec": pvc_spec}
            )
        if kubelet_home is not None and vm.launcher_pod:
            _launcher(kubeconfig, core, kubelet_home, vm)
    return vm


def _vm_body(vm: VirtualMachineObjects, pvc_spec: Obj) -> Obj:
    disks: list[Obj] = [{"name": "cloudinit", "disk": {"bus": "virtio"}}]
    volumes: list[Obj] = [
        {"name": "cloudinit", "cloudInitNoCloud": {"secretRef": {"name": vm.cloud_init_secret}}}
    ]
    templates = []
    if vm.data_volume:
        disks.append({"name": "rootdisk", "disk": {"bus": "virtio"}})
        volumes.append({"name": "rootdisk", "dataVolume": {"name": vm.data_volume}})
        templates.append({"metadata": {"name": vm.data_volume},
                          "spec": {"source": {"blank": {}}, "pvc": pvc_spec}})  # fmt: skip
    if vm.claim:
        disks.append({"name": "data", "disk": {"bus": "virtio"}})
        volumes.append({"name": "data", "persistentVolumeClaim": {"claimName": vm.claim}})
    return {
        "apiVersion": "/".join(KUBEVIRT[:2]),
        "kind": "VirtualMachine",
        "metadata": {"name": vm.name, "labels": {"app": vm.name}},
        "spec": {
            "running": vm.launcher_pod is not None,
            "dataVolumeTemplates": templates,
            "template": {
                "metadata": {"labels": {"kubevirt.io/vm": vm.name}},
                "spec": {
                    "domain": {"devices": {"disks": disks},
                               "resources": {"requests": {"memory": "128Mi"}}},
                    "volumes": volumes,
                },
            },
        },
    }  # fmt: skip


def _owner(obj: Obj, api_version: str) -> Obj:
    """An owner reference to obj by its controller, as KubeVirt and CDI set them."""
    meta = obj["metadata"]
    return {"apiVersion": api_version, "kind": obj["kind"], "name": meta["name"],
            "uid": meta["uid"], "controller": True, "blockOwnerDeletion": True}  # fmt: skip


def _launcher(kubeconfig: Path, core: Any, kubelet_home: Path, vm: VirtualMachineObjects) -> None:
    """The VM's virt-launcher pod, Running, with a virt-freezer in its `compute` container."""
    assert vm.launcher_pod
    freezer = vm.launcher_dir(kubelet_home) / "bin" / "virt-freezer"
    freezer.parent.mkdir(parents=True, exist_ok=True)
    freezer.write_text(_FREEZER)
    freezer.chmod(0o755)
    labels = {"kubevirt.io": "virt-launcher", "vm.kubevirt.io/name": vm.name}
    run_pod(kubeconfig, vm.namespace, vm.launcher_pod, labels=labels, containers=("compute",))
    # No kubelet reports the pod's phase: say it runs, as a kubelet would.
    core.patch_namespaced_pod_status(
        vm.launcher_pod,
        vm.namespace,
        {"status": {"phase": "Running"}},
        _content_type="application/merge-patch+json",
    )


def _api(kubeconfig: Path) -> client.ApiClient:
    api: client.ApiClient = config.new_client_from_config(config_file=str(kubeconfig))
    return api
