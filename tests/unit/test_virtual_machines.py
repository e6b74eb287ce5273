"""What a VM backup holds, and how a VM's objects are restored: read from the VM's own spec."""

from __future__ import annotations

import pytest
from pydantic import TypeAdapter, ValidationError

from activities.resources import PRE_POPULATED, transform
from lifeboat.specs import RestoreSpec
from lifeboat.virtual_machines import VirtualMachineRef, referenced_objects, summary

VM = {
    "apiVersion": "kubevirt.io/v1",
    "kind": "VirtualMachine",
    "metadata": {"name": "db", "namespace": "vms"},
    "spec": {
        "runStrategy": "Always",
        "dataVolumeTemplates": [
            {"metadata": {"name": "db-root"},
             "spec": {"storage": {"storageClassName": "fast"}}},
        ],
        "template": {"spec": {
            "accessCredentials": [
                {"sshPublicKey": {"source": {"secret": {"secretName": "keys"}}}},
            ],
            "volumes": [
                {"name": "root", "dataVolume": {"name": "db-root"}},
                {"name": "data", "persistentVolumeClaim": {"claimName": "db-data"}},
                {"name": "scratch", "ephemeral": {"persistentVolumeClaim": {"claimName": "base"}}},
                {"name": "init", "cloudInitNoCloud": {"secretRef": {"name": "init"},
                                                      "networkDataSecretRef": {"name": "net"}}},
                {"name": "conf", "configMap": {"name": "settings"}},
                {"name": "creds", "secret": {"secretName": "creds"}},
                {"name": "sa", "serviceAccount": {"serviceAccountName": "db"}},
                {"name": "disk", "containerDisk": {"image": "fedora"}},
            ],
        }},
        "instancetype": {"kind": "VirtualMachineInstancetype", "name": "small"},
        "preference": {"name": "fedora"},  # cluster-wide by default: not in the namespace
    },
    "status": {"printableStatus": "Running"},
}  # fmt: skip


def test_a_vm_holds_its_disks_their_data_volumes_and_what_its_volumes_name() -> None:
    assert referenced_objects(VM) == sorted([
        ("datavolumes.cdi.kubevirt.io", "db-root"),
        ("persistentvolumeclaims", "db-root"),
        ("persistentvolumeclaims", "db-data"),
        ("persistentvolumeclaims", "base"),
        ("secrets", "init"), ("secrets", "net"), ("secrets", "creds"), ("secrets", "keys"),
        ("configmaps", "settings"),
        ("serviceaccounts", "db"),
        ("virtualmachineinstancetypes.instancetype.kubevirt.io", "small"),
    ])  # fmt: skip
    assert summary(VM) == {
        "namespace": "vms", "name": "db", "status": "Running", "running": True,
        "claims": ["base", "db-data", "db-root"],
    }  # fmt: skip


@pytest.mark.parametrize("ref", ["db", "vms/", "/db", "vms/db/x", "Vms/db", "vms/db_1"])
def test_a_malformed_vm_reference_is_refused(ref: str) -> None:
    with pytest.raises(ValidationError, match="<namespace>/<name>"):
        TypeAdapter(VirtualMachineRef).validate_python(ref)


def test_restored_data_volumes_adopt_their_filled_claims_in_the_mapped_class() -> None:
    selection = RestoreSpec(storage_class_mapping={"fast": "slow"})
    data_volume = {
        "apiVersion": "cdi.kubevirt.io/v1beta1", "kind": "DataVolume",
        "metadata": {"name": "db-root", "namespace": "vms"},
        "spec": {"source": {"blank": {}}, "pvc": {"storageClassName": "fast"}},
    }  # fmt: skip
    restored = transform(data_volume, selection)
    assert restored["metadata"]["annotations"] == {PRE_POPULATED: "db-root"}
    assert restored["spec"]["pvc"]["storageClassName"] == "slow"
    vm = transform(VM, selection)
    assert vm["spec"]["dataVolumeTemplates"][0]["spec"]["storage"]["storageClassName"] == "slow"
