"""The provisioner side of the CSI driver: what external-provisioner does for a real driver.

For each PersistentVolumeClaim of a StorageClass of ours it creates the volume (empty, or
restored from a VolumeSnapshot in `dataSource`) and its PersistentVolume; a volume whose claim
is gone is deleted, data first, when its reclaim policy says so. kube-controller-manager's PV
controller binds claim and volume; when it has not done so in CONTROLLER_GRACE (it may not run
at all), the provisioner binds them as it would.
"""

from __future__ import annotations

from pathlib import Path

from kubernetes.utils import parse_quantity

from deploy.local.doubles.csi.hostpath import HostpathNode
from deploy.local.doubles.csi.objects import (
    CORE,
    PROVISIONED_BY,
    Journal,
    age,
    name_of,
    ref_of,
)
from deploy.local.doubles.kube_json import Kube, Obj
from deploy.local.doubles.snapshot_crds import DRIVER, GROUP

# How long the PV controller gets to do its part (ask for provisioning, bind) before we do it:
# kube-controller-manager may not run at all.
CONTROLLER_GRACE = 5.0
# Set by the PV controller on claims it leaves to an external provisioner (beta name in 1.20).
PROVISIONER_ANNOTATIONS = (
    "volume.beta.kubernetes.io/storage-provisioner",
    "volume.kubernetes.io/storage-provisioner",
)


class Provisioner:
    """Volumes for the claims of `hostpath.csi.lifeboat.dev`, one object at a time."""

    def __init__(self, kube: Kube, journal: Journal, node: HostpathNode) -> None:
        self.kube = kube
        self.journal = journal
        self.node = node

    def claim(
        self,
        claim: Obj,
        storage_class: Obj,
        volume: Obj | None,
        snapshots: list[Obj],
        contents: dict[str, Obj],
    ) -> None:
        """Provision a volume for a claim of our StorageClass, or bind them when nobody does."""
        meta, spec = claim["metadata"], claim["spec"]
        if meta.get("deletionTimestamp") or claim.get("status", {}).get("phase") == "Bound":
            return
        if volume is not None:
            self._bind_if_stuck(claim, volume)
            return
        if spec.get("volumeName"):
            return  # pre-bound by its author to a volume of their choosing
        annotations = meta.get("annotations") or {}
        asked = any(annotations.get(a) == DRIVER for a in PROVISIONER_ANNOTATIONS)
        # The PV controller first looks for an existing volume that fits, and asks for a new
        # one only when none does; without a PV controller nobody asks, so we stop waiting.
        if not asked and age(meta) < CONTROLLER_GRACE:
            return
        self._provision(claim, storage_class, snapshots, contents)

    def _provision(
        self, claim: Obj, storage_class: Obj, snapshots: list[Obj], contents: dict[str, Obj]
    ) -> None:
        meta, spec = claim["metadata"], claim["spec"]
        key = f"pvc/{ref_of(claim)}"
        if spec.get("volumeMode") == "Block":
            self.journal.problem(key, "provision-refused", "block volumes are not supported")
            return
        size = spec["resources"]["requests"]["storage"]
        source = spec.get("dataSource")
        data: Path | None = None
        if source is not None:
            found = self._restore_source(claim, source, size, snapshots, contents)
            if found is None:
                return
            data = found
        name = f"pvc-{meta['uid']}"
        target = self.node.create_volume(name, data)
        volume = {
            "apiVersion": "v1",
            "kind": "PersistentVolume",
            "metadata": {"name": name, "annotations": {PROVISIONED_BY: DRIVER}},
            "spec": {
                "capacity": {"storage": size},
                "accessModes": spec.get("accessModes") or ["ReadWriteOnce"],
                "persistentVolumeReclaimPolicy": storage_class.get("reclaimPolicy") or "Delete",
                "storageClassName": storage_class["metadata"]["name"],
                "volumeMode": "Filesystem",
                "hostPath": {"path": str(target), "type": "Directory"},
                # The PV controller binds a claim to the volume that names it here.
                "claimRef": {
                    "apiVersion": "v1",
                    "kind": "PersistentVolumeClaim",
                    "namespace": meta["namespace"],
                    "name": meta["name"],
                    "uid": meta["uid"],
                },
            },
        }
        self.kube.create(f"{CORE}/persistentvolumes", volume)
        self.journal.resolved(key)
        restored = {"restoredFrom": source["name"]} if source is not None else {}
        self.journal.record("provision", claim=ref_of(claim), volume=name, size=size, **restored)

    def _restore_source(
        self,
        claim: Obj,
        source: Obj,
        size: str,
        snapshots: list[Obj],
        contents: dict[str, Obj],
    ) -> Path | None:
        """The data a new volume starts with, or None (reported) while it is not available."""
        key, namespace = f"pvc/{ref_of(claim)}", claim["metadata"]["namespace"]
        if source.get("kind") != "VolumeSnapshot" or source.get("apiGroup") != GROUP:
            self.journal.problem(
                key,
                "provision-refused",
                f"dataSource {source.get('kind')}/{source.get('name')} is not supported: "
                f"only VolumeSnapshot ({GROUP}) sources are",
            )
            return None
        snapshot = next(
            (
                s
                for s in snapshots
                if s["metadata"]["namespace"] == namespace and name_of(s) == source["name"]
            ),
            None,
        )
        status = (snapshot or {}).get("status") or {}
        content = contents.get(status.get("boundVolumeSnapshotContentName") or "") or {}
        content_status = content.get("status") or {}
        handle = content_status.get("snapshotHandle")
        if not status.get("readyToUse") or not handle:
            self.journal.problem(
                key,
                "provision-waiting",
                f"waiting for VolumeSnapshot {namespace}/{source['name']} to be ready to use",
            )
            return None
        restore_size = content_status.get("restoreSize") or 0
        if parse_quantity(size) < restore_size:
            self.journal.problem(
                key,
                "provision-refused",
                f"requested storage {size} is smaller than the snapshot's restoreSize "
                f"{restore_size} bytes",
            )
            return None
        return self.node.snapshot_data(handle)

    def _bind_if_stuck(self, claim: Obj, volume: Obj) -> None:
        """Bind claim and volume as the PV controller would, when it has not done so in time."""
        if age(volume["metadata"]) < CONTROLLER_GRACE:
            return
        meta = claim["metadata"]
        path = f"{CORE}/namespaces/{meta['namespace']}/persistentvolumeclaims/{meta['name']}"
        bound = {
            "pv.kubernetes.io/bind-completed": "yes",
            "pv.kubernetes.io/bound-by-controller": "yes",
        }
        self.kube.patch(
            path,
            {
                "metadata": {"annotations": bound, "resourceVersion": meta["resourceVersion"]},
                "spec": {"volumeName": name_of(volume)},
            },
        )
        self.kube.patch(
            f"{path}/status",
            {
                "status": {
                    "phase": "Bound",
                    "accessModes": volume["spec"]["accessModes"],
                    "capacity": volume["spec"]["capacity"],
                }
            },
        )
        self.kube.patch(
            f"{CORE}/persistentvolumes/{name_of(volume)}/status", {"status": {"phase": "Bound"}}
        )
        self.journal.record("bind", claim=ref_of(claim), volume=name_of(volume))

    def volume(self, volume: Obj, claim_uids: set[str]) -> None:
        """Delete a volume whose claim is gone, data first, when its reclaim policy says so."""
        spec = volume["spec"]
        if volume["metadata"].get("deletionTimestamp"):
            return
        claim_ref = spec.get("claimRef") or {}
        released = volume.get("status", {}).get("phase") == "Released" or not claim_ref
        if not released and claim_ref.get("uid") in claim_uids:
            return
        if not released and not self._claim_gone(claim_ref):
            return
        if spec.get("persistentVolumeReclaimPolicy") != "Delete":
            return
        self.node.delete_volume(name_of(volume))
        self.kube.delete(f"{CORE}/persistentvolumes/{name_of(volume)}")
        claim = f"{claim_ref.get('namespace')}/{claim_ref.get('name')}"
        self.journal.record("delete-volume", volume=name_of(volume), claim=claim)

    def _claim_gone(self, claim_ref: Obj) -> bool:
        found = self.kube.get(
            f"{CORE}/namespaces/{claim_ref.get('namespace')}"
            f"/persistentvolumeclaims/{claim_ref.get('name')}"
        )
        return found is None or found["metadata"]["uid"] != claim_ref.get("uid")
