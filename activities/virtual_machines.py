"""KubeVirt VMs in a protected cluster: what a VM backup holds, and each VM's launcher pod."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import kubernetes.client
from kubernetes.client.exceptions import ApiException

from activities.kube import REQUEST_TIMEOUT, api_client, paginate
from lifeboat.virtual_machines import (
    GROUP,
    LAUNCHER_SELECTOR,
    LAUNCHER_VM_LABEL,
    PLURAL,
    VERSION,
    VIRTUAL_MACHINE_TYPE,
    referenced_objects,
    split_ref,
)


@dataclass
class VirtualMachineContents:
    """What a VM backup holds: the VMs' namespaces, and each object as [type, namespace, name]."""

    namespaces: list[str] = field(default_factory=list)
    objects: list[list[str]] = field(default_factory=list)
    # The VMs asked for that the cluster does not have.
    missing: list[str] = field(default_factory=list)


def resolve_virtual_machines(kubeconfig: dict[str, Any], refs: list[str]) -> VirtualMachineContents:
    """Each VM, its DataVolumes, the claims of its disks, the Secrets and ConfigMaps it uses."""
    objects: set[tuple[str, str, str]] = set()
    missing = []
    with api_client(kubeconfig) as client:
        custom = kubernetes.client.CustomObjectsApi(client)
        for ref in dict.fromkeys(refs):
            namespace, name = split_ref(ref)
            try:
                vm: Any = custom.get_namespaced_custom_object(
                    GROUP, VERSION, namespace, PLURAL, name, _request_timeout=REQUEST_TIMEOUT
                )
            except ApiException as exc:
                if exc.status != 404:  # a VM that is not there, or no KubeVirt at all
                    raise
                missing.append(ref)
                continue
            objects.add((VIRTUAL_MACHINE_TYPE, namespace, name))
            objects |= {(kind, namespace, other) for kind, other in referenced_objects(vm)}
    return VirtualMachineContents(
        namespaces=sorted({namespace for _, namespace, _ in objects}),
        objects=[list(o) for o in sorted(objects)],
        missing=missing,
    )


def launcher_pods(core: kubernetes.client.CoreV1Api, refs: list[str]) -> dict[str, str]:
    """The running virt-launcher pod of each VM that has one, by its `<namespace>/<name>`.

    One listing per namespace, not per VM: a namespace's launchers carry their VM's name.
    """
    pods: dict[str, str] = {}
    for namespace in dict.fromkeys(split_ref(ref)[0] for ref in refs):
        for pod in paginate(
            core.list_namespaced_pod, namespace=namespace, label_selector=LAUNCHER_SELECTOR
        ):
            vm = (pod.metadata.labels or {}).get(LAUNCHER_VM_LABEL)
            running = pod.status and pod.status.phase == "Running"
            if vm and running and not pod.metadata.deletion_timestamp:
                pods.setdefault(f"{namespace}/{vm}", str(pod.metadata.name))
    return pods
