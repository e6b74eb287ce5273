"""KubeVirt virtual machines: how users name them, what one consists of, how it is frozen.

A VM (`kubevirt.io/v1` VirtualMachine) runs in a virt-launcher pod; its disks are claims,
named directly or through CDI DataVolumes (whose claim has the DataVolume's name), and its
cloud-init data, config and credentials come from Secrets and ConfigMaps. A VM backup is
those objects and the claims' data; `virt-freezer` in the launcher pod freezes the guest's
file systems around the snapshots (through the guest agent).
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import AfterValidator, Field

GROUP, VERSION, PLURAL = "kubevirt.io", "v1", "virtualmachines"
API_VERSION = f"{GROUP}/{VERSION}"
# Types as users name them (`<plural>.<group>`), as in backups' include and exclude lists.
VIRTUAL_MACHINE_TYPE = f"{PLURAL}.{GROUP}"
DATA_VOLUME_TYPE = "datavolumes.cdi.kubevirt.io"
_INSTANCETYPE_GROUP = "instancetype.kubevirt.io"
_NAMESPACED_INSTANCETYPES = {
    "VirtualMachineInstancetype": f"virtualmachineinstancetypes.{_INSTANCETYPE_GROUP}",
    "VirtualMachinePreference": f"virtualmachinepreferences.{_INSTANCETYPE_GROUP}",
}
# KubeVirt labels each VM's launcher pod so, and with the VM's name; `compute` is the
# container running the VM.
LAUNCHER_SELECTOR = "kubevirt.io=virt-launcher"
LAUNCHER_VM_LABEL = "vm.kubevirt.io/name"
LAUNCHER_CONTAINER = "compute"
# Run states in which KubeVirt keeps a VM running.
_RUNNING_STRATEGIES = frozenset({"Always", "RerunOnFailure"})

_DNS_LABEL = r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?"
_REF = re.compile(rf"^{_DNS_LABEL}/{_DNS_LABEL}$")


def _ref(value: str) -> str:
    if not _REF.match(value):
        raise ValueError(
            f"{value!r} is not '<namespace>/<name>' of a virtual machine: two Kubernetes names "
            "(lower-case letters, digits and '-', at most 63 characters each) joined by '/'"
        )
    return value


VirtualMachineRef = Annotated[
    str,
    Field(
        description="<namespace>/<name> of a KubeVirt VirtualMachine",
        max_length=127,
        json_schema_extra={"pattern": _REF.pattern},
    ),
    AfterValidator(_ref),
]


def split_ref(ref: str) -> tuple[str, str]:
    """`(namespace, name)` of a validated `<namespace>/<name>`."""
    namespace, _, name = ref.partition("/")
    return namespace, name


def _volumes(vm: dict[str, Any]) -> list[dict[str, Any]]:
    template = (vm.get("spec") or {}).get("template") or {}
    volumes: list[dict[str, Any]] = (template.get("spec") or {}).get("volumes") or []
    return volumes


def claim_names(vm: dict[str, Any]) -> list[str]:
    """The claims holding the VM's disks: named directly, or by a DataVolume of that name."""
    claims = []
    for volume in _volumes(vm):
        pvc = volume.get("persistentVolumeClaim") or (volume.get("ephemeral") or {}).get(
            "persistentVolumeClaim"
        )
        if pvc and pvc.get("claimName"):
            claims.append(pvc["claimName"])
        if (volume.get("dataVolume") or {}).get("name"):
            claims.append(volume["dataVolume"]["name"])
    return sorted(set(claims))


def referenced_objects(vm: dict[str, Any]) -> list[tuple[str, str]]:
    """`(type, name)` of what the VM needs in its namespace: disks, cloud-init, config, access."""
    spec = vm.get("spec") or {}
    found: set[tuple[str, str]] = {("persistentvolumeclaims", c) for c in claim_names(vm)}
    data_volumes = [v["dataVolume"]["name"] for v in _volumes(vm) if v.get("dataVolume")]
    data_volumes += [t["metadata"]["name"] for t in spec.get("dataVolumeTemplates") or []]
    found |= {(DATA_VOLUME_TYPE, name) for name in data_volumes}
    found |= {("persistentvolumeclaims", name) for name in data_volumes}
    for volume in _volumes(vm):
        for cloud_init in ("cloudInitNoCloud", "cloudInitConfigDrive"):
            source = volume.get(cloud_init) or {}
            for ref in ("secretRef", "networkDataSecretRef"):
                if (source.get(ref) or {}).get("name"):
                    found.add(("secrets", source[ref]["name"]))
        sysprep = volume.get("sysprep") or {}
        if (volume.get("configMap") or {}).get("name"):
            found.add(("configmaps", volume["configMap"]["name"]))
        if (sysprep.get("configMap") or {}).get("name"):
            found.add(("configmaps", sysprep["configMap"]["name"]))
        if (volume.get("secret") or {}).get("secretName"):
            found.add(("secrets", volume["secret"]["secretName"]))
        if (sysprep.get("secret") or {}).get("name"):
            found.add(("secrets", sysprep["secret"]["name"]))
        if (volume.get("serviceAccount") or {}).get("serviceAccountName"):
            found.add(("serviceaccounts", volume["serviceAccount"]["serviceAccountName"]))
    template_spec = (spec.get("template") or {}).get("spec") or {}
    for credential in template_spec.get("accessCredentials") or []:
        for method in credential.values():
            secret = ((method or {}).get("source") or {}).get("secret") or {}
            if secret.get("secretName"):
                found.add(("secrets", secret["secretName"]))
    for key in ("instancetype", "preference"):
        matcher = spec.get(key) or {}
        if matcher.get("kind") in _NAMESPACED_INSTANCETYPES and matcher.get("name"):
            found.add((_NAMESPACED_INSTANCETYPES[matcher["kind"]], matcher["name"]))
    return sorted(found)


def summary(vm: dict[str, Any]) -> dict[str, Any]:
    """What the cluster's inventory shows of a VM."""
    meta, spec, status = vm["metadata"], vm.get("spec") or {}, vm.get("status") or {}
    running = spec.get("running")
    if running is None:
        running = spec.get("runStrategy") in _RUNNING_STRATEGIES
    return {
        "namespace": meta["namespace"],
        "name": meta["name"],
        "status": status.get("printableStatus") or "",
        "running": bool(running),
        "claims": claim_names(vm),
    }


def freezer_command(action: str, namespace: str, name: str) -> list[str]:
    """`virt-freezer --freeze` or `--unfreeze` of a VM, run in its launcher's compute container."""
    return ["virt-freezer", f"--{action}", "--name", name, "--namespace", namespace]
