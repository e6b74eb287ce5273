"""The dev cluster's hostpath CSI driver: volumes are directories, snapshots are copies of them.

    python -m deploy.local.doubles.csi.server --home DIR --kubeconfig K [--ready-delay SECONDS]

The dev cluster has no node, no CSI driver and no external-provisioner or external-snapshotter,
so this process plays all of them for the driver `hostpath.csi.lifeboat.dev`, through the real
API server and its real objects only (PersistentVolumeClaim, PersistentVolume, VolumeSnapshot,
VolumeSnapshotContent, VolumeSnapshotClass, StorageClass). Lifeboat's code therefore runs
unchanged against it and against a real cluster.

It is a level-triggered reconciler: every POLL_INTERVAL it lists what it cares about and acts
on the difference. Polling rather than watching keeps it simple and lets it ride through API
server restarts (the client is rebuilt from the kubeconfig, whose port may have changed).

    DIR/volumes/<pv>/              a volume's data: the PV's hostPath
    DIR/snapshots/<handle>/        a snapshot's copy; the handle is the VolumeSnapshot's uid
    DIR/snapshots/<handle>.json    when it was cut and its restore size
    DIR/csi-log.jsonl              one JSON line per action
    DIR/ready                      this process's PID, after its first pass over the cluster
"""

from __future__ import annotations

import argparse
import datetime
import json
import logging
import os
import shutil
import signal
import threading
import time
from collections.abc import Callable, Iterable
from functools import partial
from pathlib import Path
from typing import Any

from kubernetes import client, config
from kubernetes.client.exceptions import ApiException
from kubernetes.utils import parse_quantity

from deploy.local.doubles.snapshot_crds import (
    API_VERSION,
    CLASSES,
    CONTENTS,
    DEFAULT_SNAPSHOT_CLASS_ANNOTATION,
    DRIVER,
    GROUP,
    SNAPSHOTS,
    VERSION,
)

Obj = dict[str, Any]

FINALIZER = "snapshot.storage.lifeboat.dev/protection"
VOLUMES_DIR = "volumes"
SNAPSHOTS_DIR = "snapshots"
ACTION_LOG = "csi-log.jsonl"
READY_FILE = "ready"
READY_DELAY_ENV = "LIFEBOAT_CSI_READY_DELAY"
POLL_INTERVAL = 0.3
# After an API server outage, retry more slowly so the log does not fill with failures.
RETRY_INTERVAL = 1.0
# Calls to a dev API server take milliseconds; one that hangs is retried by the next pass.
REQUEST_TIMEOUT = 5.0
USER_AGENT = "lifeboat-hostpath-csi"
# How long the PV controller gets to do its part (ask for provisioning, bind) before we do it:
# kube-controller-manager may not run at all.
CONTROLLER_GRACE = 5.0
PROVISIONED_BY = "pv.kubernetes.io/provisioned-by"
# Set by the PV controller on claims it leaves to an external provisioner (beta name in 1.20).
PROVISIONER_ANNOTATIONS = (
    "volume.beta.kubernetes.io/storage-provisioner",
    "volume.kubernetes.io/storage-provisioner",
)

_CORE = "/api/v1"
_STORAGE_CLASSES = "/apis/storage.k8s.io/v1/storageclasses"
_SNAPSHOT_API = f"/apis/{GROUP}/{VERSION}"

log = logging.getLogger("lifeboat.csi")


class Kube:
    """Plain-JSON calls to the API server, so objects keep their API field names throughout.

    The client is rebuilt from the kubeconfig after any failed pass: a restarted dev API
    server may listen on another port, and start_kube rewrites the same kubeconfig file.
    """

    def __init__(self, kubeconfig: Path) -> None:
        self._kubeconfig = kubeconfig
        self._api: client.ApiClient | None = None

    def reset(self) -> None:
        """Forget the connection; the next call reads the kubeconfig again."""
        if self._api is not None:
            self._api.close()
        self._api = None

    def request(self, method: str, path: str, body: Obj | None = None) -> Obj:
        """One call; raises ApiException for an HTTP error, urllib3 errors when unreachable."""
        result: Obj = json.loads(self._call(method, path, body))
        return result

    def ready(self) -> bool:
        """Whether the API server reports itself ready.

        While it starts, a request for a custom resource can hang until its CRD informers have
        synced (we saw 10 s); /readyz answers at once and only says ok after that.
        """
        try:
            return self._call("GET", "/readyz", None).strip() == b"ok"
        except ApiException:
            return False

    def _call(self, method: str, path: str, body: Obj | None) -> bytes:
        if self._api is None:
            self._api = config.new_client_from_config(config_file=str(self._kubeconfig))
            # Names this driver as the manager in the objects' managedFields.
            self._api.user_agent = USER_AGENT
        api = self._api
        headers = {"Accept": "application/json, */*"}
        if body is not None:
            headers["Content-Type"] = (
                "application/merge-patch+json" if method == "PATCH" else "application/json"
            )
        verb, url, header_params, payload, post_params = api.param_serialize(
            method=method,
            resource_path=path,
            header_params=headers,
            body=body,
            auth_settings=["BearerToken"],
        )
        response = api.call_api(
            verb,
            url,
            header_params=header_params,
            body=payload,
            post_params=post_params,
            _request_timeout=REQUEST_TIMEOUT,
        )
        data: bytes = response.read()
        if not 200 <= response.status <= 299:
            raise ApiException.from_response(
                http_resp=response, body=data.decode(errors="replace"), data=None
            )
        return data

    def list(self, path: str) -> list[Obj]:
        """The items of a collection (a quorum read, never a stale cache)."""
        items: list[Obj] = self.request("GET", path).get("items") or []
        return items

    def get(self, path: str) -> Obj | None:
        """The object, or None when it does not exist."""
        try:
            return self.request("GET", path)
        except ApiException as error:
            if error.status == 404:
                return None
            raise

    def create(self, path: str, body: Obj) -> Obj:
        """Create the object in the collection; an existing one fails with 409."""
        return self.request("POST", path, body)

    def patch(self, path: str, body: Obj) -> Obj:
        """A JSON merge patch; with metadata.resourceVersion in it, a conflict fails (409)."""
        return self.request("PATCH", path, body)

    def delete(self, path: str) -> None:
        """Delete the object; one already gone is fine."""
        try:
            self.request("DELETE", path)
        except ApiException as error:
            if error.status != 404:
                raise


class Journal:
    """What the driver did: the process log, and one JSON line per action in csi-log.jsonl."""

    def __init__(self, path: Path) -> None:
        self._path = path
        # The last problem reported per object, so a condition that lasts is reported once.
        self._problems: dict[str, str] = {}

    def record(self, action: str, **fields: Any) -> None:
        """Log the action and append it as one JSON line."""
        line = {"time": _now().isoformat(timespec="milliseconds"), "action": action, **fields}
        log.info("%s %s", action, " ".join(f"{k}={v}" for k, v in fields.items()))
        with self._path.open("a") as out:
            out.write(json.dumps(line) + "\n")

    def problem(self, key: str, action: str, message: str) -> None:
        """Record a condition that blocks an object, unless it was the last one recorded."""
        if self._problems.get(key) != message:
            self._problems[key] = message
            self.record(action, object=key, message=message)

    def resolved(self, key: str) -> None:
        """The object is past its problem: a recurrence is recorded again."""
        self._problems.pop(key, None)


class HostpathDriver:
    """Provisioner and snapshotter of `hostpath.csi.lifeboat.dev`, one pass at a time."""

    def __init__(self, home: Path, kube: Kube, journal: Journal, ready_delay: float) -> None:
        self.volumes = home / VOLUMES_DIR
        self.snapshots = home / SNAPSHOTS_DIR
        self.kube = kube
        self.journal = journal
        self.ready_delay = ready_delay
        self.volumes.mkdir(parents=True, exist_ok=True)
        self.snapshots.mkdir(parents=True, exist_ok=True)

    def reconcile(self) -> None:
        """Read the cluster, then bring every object of this driver where it should be.

        Claims are listed before volumes so that a volume whose claim is missing from the list
        really lost it (it was created before the list); deletions are still confirmed by a
        direct read.
        """
        storage_classes = {_name(sc): sc for sc in self.kube.list(_STORAGE_CLASSES)}
        claims = self.kube.list(f"{_CORE}/persistentvolumeclaims")
        volumes = {_name(pv): pv for pv in self.kube.list(f"{_CORE}/persistentvolumes")}
        classes = {_name(c): c for c in self.kube.list(f"{_SNAPSHOT_API}/{CLASSES}")}
        contents = {_name(c): c for c in self.kube.list(f"{_SNAPSHOT_API}/{CONTENTS}")}
        snapshots = self.kube.list(f"{_SNAPSHOT_API}/{SNAPSHOTS}")
        by_claim = {
            pv["spec"]["claimRef"].get("uid"): pv
            for pv in volumes.values()
            if _ours(pv) and pv["spec"].get("claimRef")
        }
        claim_uids = {claim["metadata"]["uid"] for claim in claims}

        for claim in claims:
            sc = storage_classes.get(claim["spec"].get("storageClassName") or "")
            if sc is None or sc.get("provisioner") != DRIVER:
                continue
            volume = by_claim.get(_uid(claim))
            self._guard(
                f"pvc/{_ref(claim)}",
                partial(self._claim, claim, sc, volume, snapshots, contents),
            )
        for pv in volumes.values():
            if _ours(pv):
                self._guard(f"pv/{_name(pv)}", partial(self._volume, pv, claim_uids))
        # Contents before snapshots, so snapshots show their contents' newest state.
        for content in list(contents.values()):
            if content["spec"].get("driver") == DRIVER:
                self._guard(f"vsc/{_name(content)}", partial(self._content, content, contents))
        for snapshot in snapshots:
            self._guard(
                f"vs/{_ref(snapshot)}", partial(self._snapshot, snapshot, classes, contents)
            )

    def _guard(self, key: str, action: Callable[[], None]) -> None:
        """Run one object's step; its failure is reported and retried next pass, not fatal."""
        try:
            action()
        except ApiException as error:
            if error.status == 409:
                # Someone changed the object meanwhile; the next pass sees the new state.
                return
            self.journal.problem(key, "error", _api_message(error))
        except (OSError, ValueError, KeyError, TypeError) as error:
            # Files that cannot be copied, objects missing a field: this object only.
            self.journal.problem(key, "error", f"{type(error).__name__}: {error}")

    # Provisioner ---------------------------------------------------------------------------

    def _claim(
        self,
        claim: Obj,
        storage_class: Obj,
        volume: Obj | None,
        snapshots: list[Obj],
        contents: dict[str, Obj],
    ) -> None:
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
        if not asked and _age(meta) < CONTROLLER_GRACE:
            return
        self._provision(claim, storage_class, snapshots, contents)

    def _provision(
        self, claim: Obj, storage_class: Obj, snapshots: list[Obj], contents: dict[str, Obj]
    ) -> None:
        meta, spec = claim["metadata"], claim["spec"]
        key = f"pvc/{_ref(claim)}"
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
        target = self.volumes / name
        if not target.exists():
            staging = self.volumes / f".{name}.tmp"
            shutil.rmtree(staging, ignore_errors=True)
            if data is None:
                staging.mkdir()
            else:
                shutil.copytree(data, staging, symlinks=True)
            # Renamed into place only when complete, so a crash mid-copy leaves no half volume.
            staging.rename(target)
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
        self.kube.create(f"{_CORE}/persistentvolumes", volume)
        self.journal.resolved(key)
        restored = {"restoredFrom": source["name"]} if source is not None else {}
        self.journal.record("provision", claim=_ref(claim), volume=name, size=size, **restored)

    def _restore_source(
        self,
        claim: Obj,
        source: Obj,
        size: str,
        snapshots: list[Obj],
        contents: dict[str, Obj],
    ) -> Path | None:
        """The data a new volume starts with, or None (reported) while it is not available."""
        key, namespace = f"pvc/{_ref(claim)}", claim["metadata"]["namespace"]
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
                if s["metadata"]["namespace"] == namespace and _name(s) == source["name"]
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
        return self.snapshots / _plain(handle)

    def _bind_if_stuck(self, claim: Obj, volume: Obj) -> None:
        """Bind claim and volume as the PV controller would, when it has not done so in time."""
        if _age(volume["metadata"]) < CONTROLLER_GRACE:
            return
        meta = claim["metadata"]
        path = f"{_CORE}/namespaces/{meta['namespace']}/persistentvolumeclaims/{meta['name']}"
        bound = {
            "pv.kubernetes.io/bind-completed": "yes",
            "pv.kubernetes.io/bound-by-controller": "yes",
        }
        self.kube.patch(
            path,
            {
                "metadata": {"annotations": bound, "resourceVersion": meta["resourceVersion"]},
                "spec": {"volumeName": _name(volume)},
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
            f"{_CORE}/persistentvolumes/{_name(volume)}/status", {"status": {"phase": "Bound"}}
        )
        self.journal.record("bind", claim=_ref(claim), volume=_name(volume))

    def _volume(self, volume: Obj, claim_uids: set[str]) -> None:
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
        directory = self.volumes / _plain(_name(volume))
        shutil.rmtree(directory, ignore_errors=True)
        self.kube.delete(f"{_CORE}/persistentvolumes/{_name(volume)}")
        claim = f"{claim_ref.get('namespace')}/{claim_ref.get('name')}"
        self.journal.record("delete-volume", volume=_name(volume), claim=claim)

    def _claim_gone(self, claim_ref: Obj) -> bool:
        found = self.kube.get(
            f"{_CORE}/namespaces/{claim_ref.get('namespace')}"
            f"/persistentvolumeclaims/{claim_ref.get('name')}"
        )
        return found is None or found["metadata"]["uid"] != claim_ref.get("uid")

    # Snapshotter ---------------------------------------------------------------------------

    def _snapshot(self, snapshot: Obj, classes: dict[str, Obj], contents: dict[str, Obj]) -> None:
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
            patch["spec"] = {"volumeSnapshotClassName": _name(snapshot_class)}
        return self.kube.patch(_snapshot_path(snapshot), patch)

    def _cut(self, snapshot: Obj, snapshot_class: Obj, contents: dict[str, Obj]) -> None:
        meta = snapshot["metadata"]
        key, uid = f"vs/{_ref(snapshot)}", meta["uid"]
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
            self._copy(uid, volume)
            content = self.kube.create(
                f"{_SNAPSHOT_API}/{CONTENTS}",
                {
                    "apiVersion": API_VERSION,
                    "kind": "VolumeSnapshotContent",
                    "metadata": {"name": content_name, "finalizers": [FINALIZER]},
                    "spec": {
                        "driver": DRIVER,
                        "deletionPolicy": snapshot_class.get("deletionPolicy", "Delete"),
                        "source": {"volumeHandle": _name(volume)},
                        "volumeSnapshotClassName": _name(snapshot_class),
                        "volumeSnapshotRef": _reference(snapshot),
                    },
                },
            )
            contents[content_name] = content
            self.journal.resolved(key)
            self.journal.record(
                "snapshot",
                snapshot=_ref(snapshot),
                content=content_name,
                volume=_name(volume),
                claim=f"{meta['namespace']}/{snapshot['spec']['source']['persistentVolumeClaimName']}",
            )
            self._content(content, contents)
        self._mirror(snapshot, contents[content_name])

    def _source_volume(self, snapshot: Obj) -> Obj | None:
        """The bound hostpath volume of the snapshot's claim, or None (reported on the snapshot)."""
        namespace = snapshot["metadata"]["namespace"]
        claim_name = snapshot["spec"]["source"]["persistentVolumeClaimName"]
        claim = self.kube.get(f"{_CORE}/namespaces/{namespace}/persistentvolumeclaims/{claim_name}")
        where = f"PersistentVolumeClaim {namespace}/{claim_name}"
        if claim is None:
            self._snapshot_error(snapshot, f"{where} does not exist")
            return None
        phase = (claim.get("status") or {}).get("phase")
        volume_name = claim["spec"].get("volumeName")
        if phase != "Bound" or not volume_name:
            self._snapshot_error(snapshot, f"{where} is not bound to a volume (phase {phase})")
            return None
        volume = self.kube.get(f"{_CORE}/persistentvolumes/{volume_name}")
        if volume is None or not _ours(volume):
            self._snapshot_error(
                snapshot, f"{where} is bound to {volume_name}, not a volume of {DRIVER}"
            )
            return None
        return volume

    def _copy(self, handle: str, volume: Obj) -> None:
        """Cut the snapshot: a copy of the volume's directory as it is now, and its metadata.

        Like a CSI snapshot of a mounted volume the copy is crash-consistent, not frozen:
        quiescing writers is the job of the backup's pre-exec rules.
        """
        cut = time.time_ns()
        target = self.snapshots / _plain(handle)
        if not target.exists():
            staging = self.snapshots / f".{handle}.tmp"
            shutil.rmtree(staging, ignore_errors=True)
            # copy2 keeps modes and times; symlinks stay links, as in the volume.
            shutil.copytree(volume["spec"]["hostPath"]["path"], staging, symlinks=True)
            staging.rename(target)
        info = self._info_file(handle)
        if not info.exists():
            # A CSI snapshot's restore size is the size of its volume, not of the data in it.
            size = int(parse_quantity(volume["spec"]["capacity"]["storage"]))
            record = {"creationTime": cut, "restoreSize": size, "volume": _name(volume)}
            staging_info = info.with_name(f".{info.name}.tmp")
            staging_info.write_text(json.dumps(record))
            staging_info.rename(info)

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
                f"{_SNAPSHOT_API}/{CONTENTS}/{content_name}",
                {"spec": {"volumeSnapshotRef": {"uid": meta["uid"]}}},
            )
            self.journal.record("bind-snapshot", snapshot=_ref(snapshot), content=content_name)
        self._mirror(snapshot, contents[content_name])

    def _mirror(self, snapshot: Obj, content: Obj) -> None:
        """Show the content's state on the snapshot, as the real snapshot controller does."""
        state = content.get("status") or {}
        wanted: Obj = {
            "boundVolumeSnapshotContentName": _name(content),
            "readyToUse": bool(state.get("readyToUse")),
            "error": state.get("error"),
        }
        if state.get("creationTime") is not None:
            wanted["creationTime"] = _timestamp(int(state["creationTime"]))
        if state.get("restoreSize") is not None:
            wanted["restoreSize"] = _quantity(int(state["restoreSize"]))
        current = snapshot.get("status") or {}
        if not _differs(current, wanted):
            return
        self.kube.patch(f"{_snapshot_path(snapshot)}/status", {"status": wanted})
        self.journal.resolved(f"vs/{_ref(snapshot)}")
        if wanted["readyToUse"] and not current.get("readyToUse"):
            self.journal.record("snapshot-ready", snapshot=_ref(snapshot), content=_name(content))

    def _snapshot_error(self, snapshot: Obj, message: str) -> None:
        current = snapshot.get("status") or {}
        if (current.get("error") or {}).get("message") != message or current.get("readyToUse"):
            error = {"message": message, "time": _rfc3339(_now())}
            self.kube.patch(
                f"{_snapshot_path(snapshot)}/status",
                {"status": {"readyToUse": False, "error": error}},
            )
        self.journal.problem(f"vs/{_ref(snapshot)}", "snapshot-error", message)

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
            self._remove_data(meta["uid"])
        elif ref_uid == meta["uid"] and content["spec"].get("deletionPolicy") == "Delete":
            self._remove_data(_handle(content))
            self._release(content, f"{_SNAPSHOT_API}/{CONTENTS}/{content_name}")
            self.kube.delete(f"{_SNAPSHOT_API}/{CONTENTS}/{content_name}")
            contents.pop(content_name, None)
        self._release(snapshot, _snapshot_path(snapshot))
        self.journal.resolved(f"vs/{_ref(snapshot)}")
        self.journal.record(
            "delete-snapshot",
            snapshot=_ref(snapshot),
            content=content_name,
            contentDeleted=content is not None and content_name not in contents,
        )

    def _content(self, content: Obj, contents: dict[str, Obj]) -> None:
        """Keep a content's status true to its data; remove the data when it is deleted."""
        name, meta = _name(content), content["metadata"]
        path = f"{_SNAPSHOT_API}/{CONTENTS}/{name}"
        handle = _handle(content)
        if meta.get("deletionTimestamp"):
            if FINALIZER in (meta.get("finalizers") or []):
                if content["spec"].get("deletionPolicy") == "Delete" and handle:
                    self._remove_data(handle)
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
        info = self._info(handle)
        wanted: Obj
        if info is None:
            wanted = {
                "readyToUse": False,
                "error": {
                    "message": f"no snapshot data for handle {handle!r} in {self.snapshots}",
                    "time": _rfc3339(_now()),
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
        if _differs(content.get("status") or {}, wanted):
            content = self.kube.patch(f"{path}/status", {"status": wanted})
        contents[name] = content

    def _info(self, handle: str) -> Obj | None:
        if not handle or not (self.snapshots / _plain(handle)).is_dir():
            return None
        try:
            info: Obj = json.loads(self._info_file(handle).read_text())
        except (OSError, ValueError):
            return None
        return info

    def _remove_data(self, handle: str) -> None:
        shutil.rmtree(self.snapshots / _plain(handle), ignore_errors=True)
        self._info_file(handle).unlink(missing_ok=True)

    def _info_file(self, handle: str) -> Path:
        """When a snapshot was cut and its restore size, kept beside its copy."""
        return self.snapshots / f"{_plain(handle)}.json"

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
        key=lambda c: (c.get("driver") != DRIVER, _name(c)),
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
    return f"{_SNAPSHOT_API}/namespaces/{meta['namespace']}/{SNAPSHOTS}/{meta['name']}"


def _ours(volume: Obj) -> bool:
    return (volume["metadata"].get("annotations") or {}).get(PROVISIONED_BY) == DRIVER


def _name(obj: Obj) -> str:
    return str(obj["metadata"]["name"])


def _uid(obj: Obj) -> str:
    return str(obj["metadata"]["uid"])


def _ref(obj: Obj) -> str:
    """namespace/name of a namespaced object, as reports name it."""
    return f"{obj['metadata']['namespace']}/{_name(obj)}"


def _plain(name: str) -> str:
    """A name that is safe as one path component: data is only ever touched under our dirs."""
    if not name or name in (".", "..") or "/" in name or "\0" in name:
        raise ValueError(f"{name!r} is not a usable volume or snapshot handle")
    return name


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _age(meta: Obj) -> float:
    created = datetime.datetime.fromisoformat(meta["creationTimestamp"].replace("Z", "+00:00"))
    return (_now() - created).total_seconds()


def _rfc3339(moment: datetime.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _timestamp(nanoseconds: int) -> str:
    return _rfc3339(datetime.datetime.fromtimestamp(nanoseconds / 1e9, datetime.UTC))


def _differs(current: Obj, wanted: Obj) -> bool:
    """Whether writing `wanted` changes a status; errors count as equal by message alone."""
    for field, value in wanted.items():
        if field == "error":
            if (current.get(field) or {}).get("message") != (value or {}).get("message"):
                return True
        elif current.get(field) != value:
            return True
    return False


def _quantity(size: int) -> str:
    """Bytes as the API server writes a quantity: the largest exact binary suffix."""
    for suffix, factor in (("Ti", 1 << 40), ("Gi", 1 << 30), ("Mi", 1 << 20), ("Ki", 1 << 10)):
        if size and size % factor == 0:
            return f"{size // factor}{suffix}"
    return str(size)


def _api_message(error: ApiException) -> str:
    try:
        message = json.loads(error.body or "")["message"]
    except (ValueError, KeyError, TypeError):
        message = error.body or ""
    return f"{error.status} {error.reason}: {message}"


def run(home: Path, kubeconfig: Path, ready_delay: float, stop: threading.Event) -> None:
    """Reconcile until `stop` is set; writes the ready marker after the first good pass."""
    journal = Journal(home / ACTION_LOG)
    kube = Kube(kubeconfig)
    driver = HostpathDriver(home, kube, journal, ready_delay)
    ready_file = home / READY_FILE
    journal.record("start", pid=os.getpid(), readyDelay=ready_delay, kubeconfig=str(kubeconfig))
    reachable: bool | None = None
    try:
        while not stop.is_set():
            try:
                if reachable is not True and not kube.ready():
                    raise ConnectionError("the API server is not ready (/readyz)")
                driver.reconcile()
            except Exception as error:  # any failure of a whole pass: retry it, never die
                kube.reset()
                if reachable is not False:
                    journal.record("api-unreachable", error=f"{type(error).__name__}: {error}")
                reachable = False
                stop.wait(RETRY_INTERVAL)
                continue
            if reachable is None:
                ready_file.write_text(str(os.getpid()))
                journal.record("ready", pid=os.getpid())
            elif reachable is False:
                journal.record("api-reachable")
            reachable = True
            stop.wait(POLL_INTERVAL)
    finally:
        ready_file.unlink(missing_ok=True)
        kube.reset()
        journal.record("stop", pid=os.getpid())


def main(argv: Iterable[str] | None = None) -> None:
    """Parse the command line, handle SIGTERM and SIGINT by finishing the current pass, run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--home", type=Path, required=True, help="volumes, snapshots and logs")
    parser.add_argument("--kubeconfig", type=Path, required=True)
    parser.add_argument(
        "--ready-delay",
        type=float,
        default=float(os.environ.get(READY_DELAY_ENV, "0")),
        help=f"seconds a snapshot stays unready after its cut (default ${READY_DELAY_ENV} or 0)",
    )
    args = parser.parse_args(None if argv is None else list(argv))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    # The client retries refused connections with a warning each; an outage is reported once.
    logging.getLogger("urllib3").setLevel(logging.ERROR)
    stop = threading.Event()

    def request_stop(signum: int, _frame: object) -> None:
        log.info("signal %s: stopping after the current pass", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    home: Path = args.home.resolve()
    home.mkdir(parents=True, exist_ok=True)
    run(home, args.kubeconfig.resolve(), args.ready_delay, stop)


if __name__ == "__main__":
    main()
