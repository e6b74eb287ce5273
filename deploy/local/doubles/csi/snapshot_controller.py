"""The snapshot side of the CSI driver: the snapshot controller and external-snapshotter.

For each VolumeSnapshot of a class of ours (named, or the default class) it adds a finalizer,
has the node cut a copy of the claim's volume, creates the VolumeSnapshotContent and shows the
content's state on the snapshot; a pre-provisioned snapshot is bound to the content its author
named. With no other snapshot controller in the dev cluster it also reports what the real one
reports for every driver (a missing class or content). Contents keep a status true to their
data, which goes with them when their deletion policy is Delete.
"""

from __future__ import annotations

import time

from deploy.local.doubles.csi.hostpath import HostpathNode
from deploy.local.doubles.csi.objects import (
    CORE,
    FINALIZER,
    SNAPSHOT_API,
    Journal,
    differs,
    name_of,
    now,
    ours,
    quantity,
    ref_of,
    rfc3339,
    timestamp,
)
from deploy.local.doubles.kube_json import Kube, Obj
from deploy.local.doubles.snapshot_crds import (
    API_VERSION,
    CONTENTS,
    DEFAULT_SNAPSHOT_CLASS_ANNOTATION,
    DRIVER,
    SNAPSHOTS,
)


class SnapshotController:
    """VolumeSnapshots and VolumeSnapshotContents of `hostpath.csi.lifeboat.dev`."""

    def __init__(
        self, kube: Kube, journal: Journal, node: HostpathNode, ready_delay: float
    ) -> None:
        self.kube = kube
        self.journal = journal
        self.node = node
        # Seconds a new snapshot stays unready after its cut (tests watch a backup wait).
        self.ready_delay = ready_delay

    def snapshot(self, snapshot: Obj, classes: dict[str, Obj], contents: dict[str, Obj]) -> None:
        """Claim a snapshot of ours, cut or bind it, show its state; release it when deleted."""
        meta, source = snapshot["metadata"], snapshot["spec"]["source"]
        claimed = FINALIZER in (meta.get("finalizers") or [])
        if meta.get("deletionTimestamp"):
            if claimed:
                self._delete_snapshot(snapshot, contents)
            return
        pre_provisioned = source.get("volumeSnapshotContentName")
        snapshot_class: Obj | None = None
        # With no other snapshot controller in the dev cluster, we also report what the real
        # one reports for every driver: a missing content or class. Nothing is claimed then.
        if pre_provisioned:
            content = contents.get(pre_provisioned)
            if not claimed and content is None:
                self._snapshot_error(
                    snapshot, f"VolumeSnapshotContent {pre_provisioned} does not exist"
                )
                return
            if not claimed and content is not None and content["spec"].get("driver") != DRIVER:
                return
        else:
            snapshot_class, problem = _snapshot_class(snapshot, classes)
            if problem is not None:
                self._snapshot_error(snapshot, problem)
            if snapshot_class is None:
                return
        if not claimed:
            snapshot = self._claim_snapshot(snapshot, snapshot_class)
        if pre_provisioned:
            self._bind_pre_provisioned(snapshot, contents)
        elif snapshot_class is not None:
            self._cut(snapshot, snapshot_class, contents)

    def _claim_snapshot(self, snapshot: Obj, snapshot_class: Obj | None) -> Obj:
        """Add our finalizer (so data is removed before the object goes) and the class used."""
        meta = snapshot["metadata"]
        patch: Obj = {
            "metadata": {
                "finalizers": [*(meta.get("finalizers") or []), FINALIZER],
                "resourceVersion": meta["resourceVersion"],
            }
        }
        if snapshot_class is not None and not snapshot["spec"].get("volumeSnapshotClassName"):
            # As the real snapshot controller does, record which (default) class was used.
            patch["spec"] = {"volumeSnapshotClassName": name_of(snapshot_class)}
        return self.kube.patch(_snapshot_path(snapshot), patch)

    def _cut(self, snapshot: Obj, snapshot_class: Obj, contents: dict[str, Obj]) -> None:
        meta = snapshot["metadata"]
        key, uid = f"vs/{ref_of(snapshot)}", meta["uid"]
        content_name = f"snapcontent-{uid}"
        content = contents.get(content_name)
        if content is None:
            bound = (snapshot.get("status") or {}).get("boundVolumeSnapshotContentName")
            if bound:
                self._snapshot_error(snapshot, f"VolumeSnapshotContent {bound} is missing")
                return
            volume = self._source_volume(snapshot)
            if volume is None:
                return
            self.node.cut(uid, volume)
            content = self.kube.create(
                f"{SNAPSHOT_API}/{CONTENTS}",
                {
                    "apiVersion": API_VERSION,
                    "kind": "VolumeSnapshotContent",
                    "metadata": {"name": content_name, "finalizers": [FINALIZER]},
                    "spec": {
                        "driver": DRIVER,
                        "deletionPolicy": snapshot_class.get("deletionPolicy", "Delete"),
                        "source": {"volumeHandle": name_of(volume)},
                        "volumeSnapshotClassName": name_of(snapshot_class),
                        "volumeSnapshotRef": _reference(snapshot),
                    },
                },
            )
            contents[content_name] = content
            self.journal.resolved(key)
            self.journal.record(
                "snapshot",
                snapshot=ref_of(snapshot),
                content=content_name,
                volume=name_of(volume),
                claim=f"{meta['namespace']}/{snapshot['spec']['source']['persistentVolumeClaimName']}",
            )
            self.content(content, contents)
        self._mirror(snapshot, contents[content_name])

    def _source_volume(self, snapshot: Obj) -> Obj | None:
        """The bound hostpath volume of the snapshot's claim, or None (reported on the snapshot)."""
        namespace = snapshot["metadata"]["namespace"]
        claim_name = snapshot["spec"]["source"]["persistentVolumeClaimName"]
        claim = self.kube.get(f"{CORE}/namespaces/{namespace}/persistentvolumeclaims/{claim_name}")
        where = f"PersistentVolumeClaim {namespace}/{claim_name}"
        if claim is None:
            self._snapshot_error(snapshot, f"{where} does not exist")
            return None
        phase = (claim.get("status") or {}).get("phase")
        volume_name = claim["spec"].get("volumeName")
        if phase != "Bound" or not volume_name:
            self._snapshot_error(snapshot, f"{where} is not bound to a volume (phase {phase})")
            return None
        volume = self.kube.get(f"{CORE}/persistentvolumes/{volume_name}")
        if volume is None or not ours(volume):
            self._snapshot_error(
                snapshot, f"{where} is bound to {volume_name}, not a volume of {DRIVER}"
            )
            return None
        return volume

    def _bind_pre_provisioned(self, snapshot: Obj, contents: dict[str, Obj]) -> None:
        """A snapshot of existing data: bind it to the content its author named."""
        meta = snapshot["metadata"]
        content_name = snapshot["spec"]["source"]["volumeSnapshotContentName"]
        content = contents.get(content_name)
        if content is None:
            self._snapshot_error(snapshot, f"VolumeSnapshotContent {content_name} does not exist")
            return
        ref = content["spec"].get("volumeSnapshotRef") or {}
        if (ref.get("namespace"), ref.get("name")) != (meta["namespace"], meta["name"]):
            self._snapshot_error(
                snapshot,
                f"VolumeSnapshotContent {content_name} names VolumeSnapshot "
                f"{ref.get('namespace')}/{ref.get('name')} in spec.volumeSnapshotRef",
            )
            return
        if ref.get("uid") != meta["uid"]:
            if ref.get("uid"):
                self._snapshot_error(
                    snapshot, f"VolumeSnapshotContent {content_name} is bound to another object"
                )
                return
            contents[content_name] = self.kube.patch(
                f"{SNAPSHOT_API}/{CONTENTS}/{content_name}",
                {"spec": {"volumeSnapshotRef": {"uid": meta["uid"]}}},
            )
            self.journal.record("bind-snapshot", snapshot=ref_of(snapshot), content=content_name)
        self._mirror(snapshot, contents[content_name])

    def _mirror(self, snapshot: Obj, content: Obj) -> None:
        """Show the content's state on the snapshot, as the real snapshot controller does."""
        state = content.get("status") or {}
        wanted: Obj = {
            "boundVolumeSnapshotContentName": name_of(content),
            "readyToUse": bool(state.get("readyToUse")),
            "error": state.get("error"),
        }
        if state.get("creationTime") is not None:
            wanted["creationTime"] = timestamp(int(state["creationTime"]))
        if state.get("restoreSize") is not None:
            wanted["restoreSize"] = quantity(int(state["restoreSize"]))
        current = snapshot.get("status") or {}
        if not differs(current, wanted):
            return
        self.kube.patch(f"{_snapshot_path(snapshot)}/status", {"status": wanted})
        self.journal.resolved(f"vs/{ref_of(snapshot)}")
        if wanted["readyToUse"] and not current.get("readyToUse"):
            self.journal.record(
                "snapshot-ready", snapshot=ref_of(snapshot), content=name_of(content)
            )

    def _snapshot_error(self, snapshot: Obj, message: str) -> None:
        current = snapshot.get("status") or {}
        if (current.get("error") or {}).get("message") != message or current.get("readyToUse"):
            error = {"message": message, "time": rfc3339(now())}
            self.kube.patch(
                f"{_snapshot_path(snapshot)}/status",
                {"status": {"readyToUse": False, "error": error}},
            )
        self.journal.problem(f"vs/{ref_of(snapshot)}", "snapshot-error", message)

    def _delete_snapshot(self, snapshot: Obj, contents: dict[str, Obj]) -> None:
        """Delete the content and data (when its policy is Delete), then let the object go."""
        meta = snapshot["metadata"]
        status = snapshot.get("status") or {}
        content_name = (
            status.get("boundVolumeSnapshotContentName")
            or snapshot["spec"]["source"].get("volumeSnapshotContentName")
            or f"snapcontent-{meta['uid']}"
        )
        content = contents.get(content_name)
        ref_uid = ((content or {}).get("spec", {}).get("volumeSnapshotRef") or {}).get("uid")
        if content is None:
            # Cut but not yet recorded in a content (a crash in between): nobody else has it.
            self.node.remove_snapshot(meta["uid"])
        elif ref_uid == meta["uid"] and content["spec"].get("deletionPolicy") == "Delete":
            self.node.remove_snapshot(_handle(content))
            self._release(content, f"{SNAPSHOT_API}/{CONTENTS}/{content_name}")
            self.kube.delete(f"{SNAPSHOT_API}/{CONTENTS}/{content_name}")
            contents.pop(content_name, None)
        self._release(snapshot, _snapshot_path(snapshot))
        self.journal.resolved(f"vs/{ref_of(snapshot)}")
        self.journal.record(
            "delete-snapshot",
            snapshot=ref_of(snapshot),
            content=content_name,
            contentDeleted=content is not None and content_name not in contents,
        )

    def content(self, content: Obj, contents: dict[str, Obj]) -> None:
        """Keep a content's status true to its data; remove the data when it is deleted."""
        name, meta = name_of(content), content["metadata"]
        path = f"{SNAPSHOT_API}/{CONTENTS}/{name}"
        handle = _handle(content)
        if meta.get("deletionTimestamp"):
            if FINALIZER in (meta.get("finalizers") or []):
                if content["spec"].get("deletionPolicy") == "Delete" and handle:
                    self.node.remove_snapshot(handle)
                self._release(content, path)
                self.journal.record("delete-content", content=name, handle=handle)
            return
        if FINALIZER not in (meta.get("finalizers") or []):
            content = self.kube.patch(
                path,
                {
                    "metadata": {
                        "finalizers": [*(meta.get("finalizers") or []), FINALIZER],
                        "resourceVersion": meta["resourceVersion"],
                    }
                },
            )
        info = self.node.info(handle)
        wanted: Obj
        if info is None:
            wanted = {
                "readyToUse": False,
                "error": {
                    "message": f"no snapshot data for handle {handle!r} in {self.node.snapshots}",
                    "time": rfc3339(now()),
                },
            }
        else:
            cut = int(info["creationTime"])
            wanted = {
                "snapshotHandle": handle,
                "creationTime": cut,
                "restoreSize": int(info["restoreSize"]),
                "readyToUse": time.time_ns() >= cut + int(self.ready_delay * 1e9),
                "error": None,
            }
        if differs(content.get("status") or {}, wanted):
            content = self.kube.patch(f"{path}/status", {"status": wanted})
        contents[name] = content

    def _release(self, obj: Obj, path: str) -> None:
        """Remove our finalizer, guarded by the resourceVersion so no other change is lost."""
        meta = obj["metadata"]
        finalizers = [f for f in meta.get("finalizers") or [] if f != FINALIZER]
        self.kube.patch(
            path,
            {"metadata": {"finalizers": finalizers, "resourceVersion": meta["resourceVersion"]}},
        )


def _snapshot_class(snapshot: Obj, classes: dict[str, Obj]) -> tuple[Obj | None, str | None]:
    """The class of a dynamic snapshot when it is one of ours (named, else our default), and
    the problem to report when no class applies at all; (None, None) when another driver's."""
    named = snapshot["spec"].get("volumeSnapshotClassName")
    if named:
        found = classes.get(named)
        if found is None:
            return None, f"VolumeSnapshotClass {named} does not exist"
        return (found if found.get("driver") == DRIVER else None), None
    defaults = sorted(
        (
            c
            for c in classes.values()
            if (c["metadata"].get("annotations") or {}).get(DEFAULT_SNAPSHOT_CLASS_ANNOTATION)
            == "true"
        ),
        key=lambda c: (c.get("driver") != DRIVER, name_of(c)),
    )
    if not defaults:
        return None, (
            "no default VolumeSnapshotClass: name one in spec.volumeSnapshotClassName or mark "
            f'one with the annotation {DEFAULT_SNAPSHOT_CLASS_ANNOTATION}: "true"'
        )
    return (defaults[0] if defaults[0].get("driver") == DRIVER else None), None


def _handle(content: Obj) -> str:
    """Where a content's data lives: its own handle when pre-provisioned, else its snapshot's."""
    source = content["spec"].get("source") or {}
    handle = source.get("snapshotHandle") or (content.get("status") or {}).get("snapshotHandle")
    if handle:
        return str(handle)
    # Dynamic snapshots are stored under the uid of the VolumeSnapshot they were cut for.
    return str((content["spec"].get("volumeSnapshotRef") or {}).get("uid") or "")


def _reference(snapshot: Obj) -> Obj:
    meta = snapshot["metadata"]
    return {
        "apiVersion": API_VERSION,
        "kind": "VolumeSnapshot",
        "namespace": meta["namespace"],
        "name": meta["name"],
        "uid": meta["uid"],
        "resourceVersion": meta["resourceVersion"],
    }


def _snapshot_path(snapshot: Obj) -> str:
    meta = snapshot["metadata"]
    return f"{SNAPSHOT_API}/namespaces/{meta['namespace']}/{SNAPSHOTS}/{meta['name']}"
