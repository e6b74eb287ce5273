"""Kubernetes objects in and out of the archive: export for backup, apply for restore.

Export lists every listable namespaced type the API server offers, a page at a time (memory
stays bounded whatever the object count), strips what the server sets, and writes the objects
to the backup location in sealed packs per type (lifeboat.archive), several uploads at once.
Restore applies objects in the order of `RESTORE_ORDER`, a table with a reason per row: type
after type, the objects of one type in parallel, retrying those that failed on a dependency
created later in the same pass.
"""

from __future__ import annotations

import contextlib
import copy
import fnmatch
import itertools
import json
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import kubernetes.client
from kubernetes.client.exceptions import ApiException
from kubernetes.dynamic import DynamicClient
from kubernetes.dynamic.exceptions import DynamicApiError, ResourceNotFoundError
from kubernetes.dynamic.resource import Resource

from activities.kube import PAGE_SIZE, REQUEST_TIMEOUT, api_client
from activities.locations import OpenLocation
from lifeboat.archive import Pack, PackWriter, Sealer
from lifeboat.object_diff import changes
from lifeboat.specs import BackupResolution, BackupSpec, RestoreSpec
from lifeboat.status import RestorePhase
from lifeboat.virtual_machines import DATA_VOLUME_TYPE, VIRTUAL_MACHINE_TYPE

# Types never backed up, with the reason: rebuilt by controllers, or history rather than state.
SKIPPED_TYPES: dict[str, str] = {
    "events": "recorded history, not state",
    "events.events.k8s.io": "recorded history, not state",
    "endpoints": "rebuilt from Services by the endpoints controller",
    "endpointslices.discovery.k8s.io": "rebuilt from Services by the endpointslice controller",
    "controllerrevisions.apps": "rebuilt by their StatefulSets and DaemonSets",
    "leases.coordination.k8s.io": "leader election state of running processes",
    "podmetrics.metrics.k8s.io": "live measurements",
}
SERVER_SET_METADATA = (
    "uid", "resourceVersion", "creationTimestamp", "generation", "managedFields", "selfLink",
    "deletionTimestamp", "deletionGracePeriodSeconds", "ownerReferences",
)  # fmt: skip
# Annotations the API server or controllers write, meaningless in another cluster.
SERVER_SET_ANNOTATIONS = (
    "pv.kubernetes.io/*",
    "volume.beta.kubernetes.io/storage-provisioner",
    "volume.kubernetes.io/storage-provisioner",
    "deployment.kubernetes.io/revision",
    "kubernetes.io/service-account.uid",
)

# CDI imports nothing into the claim of a DataVolume marked so: the restore filled it.
PRE_POPULATED = "cdi.kubevirt.io/storage.prePopulated"
# On each object a restore creates: the restore's uid. A retried attempt finds the objects an
# earlier attempt of the same restore created, and counts them as created, not as existing
# ones to keep (a claim it created still gets its data).
RESTORED_BY = "lifeboat.dev/restored-by"

# The restore order: each type waits for those above it. Types not listed come last.
RESTORE_ORDER: tuple[tuple[str, str], ...] = (
    ("customresourcedefinitions.apiextensions.k8s.io", "custom resources need their types"),
    ("namespaces", "everything else lives in one"),
    ("storageclasses.storage.k8s.io", "claims name their class"),
    ("persistentvolumeclaims", "pods mount claims; their data is restored with them"),
    ("secrets", "mounted and referenced by pods and service accounts"),
    ("configmaps", "mounted and referenced by pods"),
    ("serviceaccounts", "pods run as them"),
    ("limitranges", "admission checks new pods against them"),
    ("resourcequotas", "admission checks new pods against them"),
    ("roles.rbac.authorization.k8s.io", "bindings refer to roles"),
    ("rolebindings.rbac.authorization.k8s.io", "workloads need their permissions"),
    ("services", "workloads find each other through them"),
    ("deployments.apps", "workloads, after what they use"),
    ("statefulsets.apps", "workloads, after what they use"),
    ("daemonsets.apps", "workloads, after what they use"),
    ("replicasets.apps", "workloads not owned by a deployment"),
    ("jobs.batch", "workloads, after what they use"),
    ("cronjobs.batch", "workloads, after what they use"),
    ("virtualmachineinstancetypes.instancetype.kubevirt.io", "virtual machines name them"),
    ("virtualmachinepreferences.instancetype.kubevirt.io", "virtual machines name them"),
    (DATA_VOLUME_TYPE, "after their claims hold the data: CDI adopts a filled claim"),
    (VIRTUAL_MACHINE_TYPE, "VMs start after their disks, cloud-init secrets and config"),
    ("pods", "pods not owned by a controller"),
)
DEPENDENCY_PASSES = 3
# Packs uploaded at once by an export, and objects applied at once by a restore: enough to
# keep the object storage and the API server busy, few enough to spare them.
UPLOADS = 6
APPLIERS = 8
# An object replaced by deleting and creating it again waits this long to be gone: finalizers
# may hold it (a claim stays while a pod mounts it).
DELETED_TIMEOUT_SECONDS = 60.0


def type_name(plural: str, group: str) -> str:
    """`deployments.apps`, or `configmaps` for the core group: how users name types."""
    return f"{plural}.{group}" if group else plural


@contextlib.contextmanager
def dynamic_client(client: kubernetes.client.ApiClient) -> Iterator[DynamicClient]:
    """A dynamic client with a discovery cache of its own (another run's may predate new
    CRDs), removed afterwards: a worker makes one per export and per restore."""
    with tempfile.TemporaryDirectory(prefix="lifeboat-discovery-") as folder:
        yield DynamicClient(client, cache_file=str(Path(folder) / "cache.json"))


def _listable_namespaced(dyn: DynamicClient) -> Iterator[Resource]:
    """Preferred versions of namespaced types that can be listed, without subresources."""
    seen: set[str] = set()
    for resource in dyn.resources.search():
        if not getattr(resource, "namespaced", False) or "/" in resource.name:
            continue
        if "list" not in (resource.verbs or []) or not resource.preferred:
            continue
        name = type_name(resource.name, resource.group)
        if name not in seen:
            seen.add(name)
            yield resource


def _paged(resource: Resource, **kwargs: Any) -> Iterator[dict[str, Any]]:
    """Every object of a list, a page at a time, as plain JSON (the dynamic client's objects
    cost more to build than the whole request)."""
    token = None
    while True:
        response = resource.get(
            limit=PAGE_SIZE,
            _continue=token,
            _request_timeout=REQUEST_TIMEOUT,
            serialize=False,
            **kwargs,
        )
        page = json.loads(response.data)
        yield from page.get("items") or []
        token = (page.get("metadata") or {}).get("continue")
        if not token:
            return


def strip(obj: dict[str, Any]) -> dict[str, Any]:
    """The object without what the server sets: what a user would apply again. In place: the
    objects come fresh from the API server."""
    obj.pop("status", None)
    meta = obj.setdefault("metadata", {})
    for key in SERVER_SET_METADATA:
        meta.pop(key, None)
    annotations = meta.get("annotations") or {}
    for key in list(annotations):
        if any(fnmatch.fnmatch(key, pattern) for pattern in SERVER_SET_ANNOTATIONS):
            del annotations[key]
    spec = obj.get("spec") or {}
    kind = obj.get("kind")
    if kind == "Service":
        if spec.get("clusterIP") != "None":  # headless services keep their None
            spec.pop("clusterIP", None)
            spec.pop("clusterIPs", None)
        spec.pop("healthCheckNodePort", None)
        for port in spec.get("ports") or []:
            port.pop("nodePort", None)
    if kind == "PersistentVolumeClaim":
        spec.pop("volumeName", None)
        spec.pop("dataSource", None)
        spec.pop("dataSourceRef", None)
    if kind == "ServiceAccount":
        obj.pop("secrets", None)
    return obj


def _minted(obj: dict[str, Any]) -> bool:
    """A service-account token Secret: the token controller mints a new one for the account."""
    return obj.get("kind") == "Secret" and obj.get("type") == "kubernetes.io/service-account-token"


def _controlled(obj: dict[str, Any]) -> bool:
    return any(ref.get("controller") for ref in obj["metadata"].get("ownerReferences") or [])


@dataclass
class ExportSelection:
    """What a backup exports: its spec's filters over the namespaces it resolved to; only
    the resolved objects for a VM backup (chosen one by one, they are exported even when a
    controller made them)."""

    spec: BackupSpec
    resolution: BackupResolution


@dataclass
class ExportedObject:
    """One object in the archive: where it is, and what happened to it.

    `key` is its pack and `position` its line there (layout 2), or its own object (layout 1).
    """

    api_version: str
    kind: str
    type: str
    namespace: str | None
    name: str
    key: str = ""
    status: str = "backed up"
    reason: str = ""
    position: int = 0


@dataclass
class Export:
    """What an export wrote: its packs and the objects in them."""

    packs: list[Pack]
    objects: list[ExportedObject]


class _Uploads:
    """Packs uploaded by a few threads while the export goes on; at most twice as many
    waiting as there are threads, so memory stays bounded when the storage is the slower."""

    def __init__(self, location: OpenLocation) -> None:
        self._location = location
        self._pool = ThreadPoolExecutor(UPLOADS, thread_name_prefix="lifeboat-pack-upload")
        self._slots = threading.BoundedSemaphore(2 * UPLOADS)
        self._futures: list[Future[int]] = []

    def put(self, key: str, blob: bytes) -> None:
        self._slots.acquire()
        future = self._pool.submit(self._location.backend.put, key, blob)
        future.add_done_callback(lambda _f: self._slots.release())
        self._futures.append(future)
        for done in [f for f in self._futures if f.done()]:
            done.result()  # a failed upload fails the export now
            self._futures.remove(done)

    def finish(self) -> None:
        """Wait for every upload; the first failure is raised."""
        try:
            for future in self._futures:
                future.result()
        finally:
            self._pool.shutdown(cancel_futures=True)

    def abandon(self) -> None:
        """The export failed: send nothing more (what was sent is unused and harmless)."""
        self._pool.shutdown(wait=True, cancel_futures=True)


def _wanted(resource: Resource, selection: ExportSelection) -> str | None:
    """None when the type is backed up, else why not."""
    name = type_name(resource.name, resource.group)
    if name in SKIPPED_TYPES:
        return SKIPPED_TYPES[name]
    if selection.spec.include_types and name not in selection.spec.include_types:
        return "not among the included types"
    if name in selection.spec.exclude_types:
        return "among the excluded types"
    return None


def export_resources(
    kubeconfig: dict[str, Any],
    location: OpenLocation,
    backup_uid: str,
    selection: ExportSelection,
    heartbeat: Callable[[int], None] = lambda _count: None,
) -> Export:
    """Write every selected object of the namespaces (and what they depend on) to the archive."""
    sealer = Sealer(location.key)
    exported: list[ExportedObject] = []
    packs: list[Pack] = []
    writers: dict[str, PackWriter] = {}
    uploads = _Uploads(location)
    custom_types: set[str] = set()
    storage_classes: set[str] = set()
    objects = selection.resolution.objects
    chosen = None if objects is None else set(objects)
    chosen_types = None if chosen is None else {kind for kind, _, _ in chosen}

    def upload(sealed: tuple[Pack, bytes] | None) -> None:
        if sealed is not None:
            packs.append(sealed[0])
            uploads.put(sealed[0].key, sealed[1])

    def write(obj: dict[str, Any], resource: Resource) -> None:
        meta = obj["metadata"]
        name = type_name(resource.name, resource.group)
        writer = writers.get(name)
        if writer is None:
            writer = writers[name] = PackWriter(sealer, location.prefix, backup_uid, name)
        exported.append(
            ExportedObject(
                api_version=obj["apiVersion"],
                kind=obj["kind"],
                type=name,
                namespace=meta.get("namespace"),
                name=meta["name"],
                key=writer.next_key,
                position=writer.position,
            )
        )
        upload(writer.add(obj))
        heartbeat(len(exported))

    def close(name: str) -> None:
        if name in writers:
            upload(writers.pop(name).close())

    try:
        with api_client(kubeconfig) as client, dynamic_client(client) as dyn:
            crds = dyn.resources.get(
                api_version="apiextensions.k8s.io/v1", kind="CustomResourceDefinition"
            )
            # A CRD is named `<plural>.<group>`: the name of the type it defines.
            defined_by_crds = {item["metadata"]["name"] for item in _paged(crds)}
            namespaces = dyn.resources.get(api_version="v1", kind="Namespace")
            for namespace in selection.resolution.namespaces:
                write(strip(_as_dict(namespaces.get(name=namespace))), namespaces)
            close("namespaces")
            for resource in _listable_namespaced(dyn):
                name = type_name(resource.name, resource.group)
                if _wanted(resource, selection) is not None:
                    continue
                if chosen_types is not None and name not in chosen_types:
                    continue
                for namespace in selection.resolution.namespaces:
                    for item in _paged(
                        resource,
                        namespace=namespace,
                        label_selector=selection.spec.label_selector or None,
                    ):
                        item.setdefault("apiVersion", resource.group_version)
                        item.setdefault("kind", resource.kind)
                        if chosen is not None:
                            if (name, namespace, item["metadata"]["name"]) not in chosen:
                                continue
                        elif _minted(item) or (
                            _controlled(item) and resource.kind != "PersistentVolumeClaim"
                        ):
                            # Recreated in the restored cluster by its controller. Claims never
                            # are: their data comes back into them first, and their controller
                            # (a DataVolume, an operator) finds them there.
                            continue
                        if name in defined_by_crds:
                            custom_types.add(name)
                        if resource.kind == "PersistentVolumeClaim":
                            storage_classes.add(
                                (item.get("spec") or {}).get("storageClassName") or ""
                            )
                        write(strip(item), resource)
                close(name)  # a type's last pack goes up while the next type is listed
            if selection.spec.include_cluster_resources:
                _export_dependencies(dyn, custom_types, storage_classes - {""}, write)
        for name in list(writers):
            close(name)
    except BaseException:
        uploads.abandon()
        raise
    uploads.finish()
    return Export(packs=packs, objects=exported)


def _as_dict(obj: Any) -> dict[str, Any]:
    value: dict[str, Any] = obj.to_dict()
    return value


def _export_dependencies(
    dyn: DynamicClient,
    custom_types: Iterable[str],
    storage_classes: Iterable[str],
    write: Callable[[dict[str, Any], Resource], None],
) -> None:
    """The cluster-scoped objects the namespaces need: CRDs of their custom resources, classes."""
    crds = dyn.resources.get(api_version="apiextensions.k8s.io/v1", kind="CustomResourceDefinition")
    classes = dyn.resources.get(api_version="storage.k8s.io/v1", kind="StorageClass")
    for resource, names in ((crds, custom_types), (classes, storage_classes)):
        for name in sorted(names):
            try:
                obj = _as_dict(resource.get(name=name))
            except (ResourceNotFoundError, DynamicApiError, ApiException):
                continue  # an aggregated API or a class that is gone: nothing to carry
            obj.setdefault("apiVersion", resource.group_version)
            obj.setdefault("kind", resource.kind)
            write(strip(obj), resource)


def wait_established(dyn: DynamicClient, name: str, timeout: float = 30) -> None:
    """Wait until a CRD serves its type, so its custom resources can be created."""
    crds = dyn.resources.get(api_version="apiextensions.k8s.io/v1", kind="CustomResourceDefinition")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        conditions = (crds.get(name=name).to_dict().get("status") or {}).get("conditions") or []
        if any(c["type"] == "Established" and c["status"] == "True" for c in conditions):
            dyn.resources.invalidate_cache()
            return
        time.sleep(0.2)
    raise TimeoutError(f"custom resource definition {name} not established in {timeout:.0f}s")


@dataclass
class RestoredObject:
    """What a restore did (or, in a preview, would do) with one object, and why."""

    kind: str
    type: str
    namespace: str | None
    name: str
    action: str  # created | replaced | skipped | failed (preview: create | replace | skip)
    reason: str = ""
    # A preview's replace: the fields it would change (see lifeboat.object_diff).
    changes: list[dict[str, Any]] = field(default_factory=list)


def _order(entry: ExportedObject) -> int:
    for position, (name, _reason) in enumerate(RESTORE_ORDER):
        if entry.type == name:
            return position
    return len(RESTORE_ORDER)


CLAIMS_PHASE_END = next(
    i for i, (name, _) in enumerate(RESTORE_ORDER) if name == "persistentvolumeclaims"
)


def plan(
    entries: list[ExportedObject], selection: RestoreSpec, phase: RestorePhase = RestorePhase.ALL
) -> list[ExportedObject]:
    """The archived objects to restore, in restore order.

    Phase `claims` is everything up to the claims (their data is restored before any workload
    can mount them), phase `rest` the others.
    """
    chosen = [
        e
        for e in entries
        if e.status == "backed up"
        and (not selection.include_types or e.type in selection.include_types)
        and e.type not in selection.exclude_types
        and (
            not selection.include_namespaces
            or (e.namespace or e.name) in selection.include_namespaces
            or (e.namespace is None and e.kind != "Namespace")
        )
    ]
    if phase == RestorePhase.CLAIMS:
        chosen = [e for e in chosen if _order(e) <= CLAIMS_PHASE_END]
    elif phase == RestorePhase.REST:
        chosen = [e for e in chosen if _order(e) > CLAIMS_PHASE_END]
    return sorted(chosen, key=_order)


def transform(obj: dict[str, Any], selection: RestoreSpec) -> dict[str, Any]:
    """Apply the namespace and storage-class mappings to an archived object."""
    obj = copy.deepcopy(obj)
    meta = obj["metadata"]
    mapping = selection.namespace_mapping
    if obj["kind"] == "Namespace":
        meta["name"] = mapping.get(meta["name"], meta["name"])
    elif meta.get("namespace"):
        meta["namespace"] = mapping.get(meta["namespace"], meta["namespace"])
    if obj["kind"] == "RoleBinding":
        for subject in obj.get("subjects") or []:
            if subject.get("namespace") in mapping:
                subject["namespace"] = mapping[subject["namespace"]]
    spec = obj.get("spec") or {}
    # Where claims name their class: claims, DataVolumes, and a VM's DataVolume templates.
    claim_specs = [spec] if obj["kind"] == "PersistentVolumeClaim" else []
    if obj["kind"] == "DataVolume" and obj["apiVersion"].startswith("cdi.kubevirt.io/"):
        meta.setdefault("annotations", {})[PRE_POPULATED] = meta["name"]
        claim_specs += [spec.get("pvc") or {}, spec.get("storage") or {}]
    if obj["kind"] == "VirtualMachine" and obj["apiVersion"].startswith("kubevirt.io/"):
        for template in spec.get("dataVolumeTemplates") or []:
            template_spec = template.get("spec") or {}
            claim_specs += [template_spec.get("pvc") or {}, template_spec.get("storage") or {}]
    for claim_spec in claim_specs:
        if claim_spec.get("storageClassName"):
            name = claim_spec["storageClassName"]
            claim_spec["storageClassName"] = selection.storage_class_mapping.get(name, name)
    return obj


def _dependency_failure(error: Exception) -> bool:
    """Errors a later object of the same restore may cure (a namespace or type not yet there)."""
    status = getattr(error, "status", None)
    return isinstance(error, ResourceNotFoundError) or status in (404, 500, 503)


def apply_objects(
    kubeconfig: dict[str, Any],
    objects: list[dict[str, Any]],
    *,
    replace: bool,
    dry_run: bool,
    restore_uid: str = "",
    heartbeat: Callable[[int], None] = lambda _count: None,
) -> list[RestoredObject]:
    """Create the objects in order; keep or replace existing ones; retry dependency failures.

    `objects` come in restore order (`plan`): each run of objects of one type is applied
    `APPLIERS` at a time, and waits for the type before it. With `dry_run` nothing changes:
    the result says what would be created, replaced, skipped. Created objects carry
    `RESTORED_BY`: `restore_uid`.
    """
    results: dict[int, RestoredObject] = {}
    pending = list(range(len(objects)))

    def of_type(index: int) -> tuple[str, str]:
        return objects[index]["apiVersion"], objects[index]["kind"]

    with (
        api_client(kubeconfig) as client,
        dynamic_client(client) as dyn,
        ThreadPoolExecutor(APPLIERS, thread_name_prefix="lifeboat-apply") as pool,
    ):

        def apply(index: int) -> tuple[int, RestoredObject | Exception]:
            try:
                return index, _apply_one(
                    dyn, objects[index], replace=replace, dry_run=dry_run, restore_uid=restore_uid
                )
            except Exception as exc:  # each object's failure is its own result
                return index, exc

        for attempt in range(DEPENDENCY_PASSES):
            retry = []
            for (_, kind), run in itertools.groupby(pending, key=of_type):
                indexes = list(run)
                # Definitions one at a time: each refreshes the client's discovered types.
                applied = (
                    map(apply, indexes)
                    if kind == "CustomResourceDefinition"
                    else pool.map(apply, indexes)
                )
                for index, outcome in applied:
                    if isinstance(outcome, RestoredObject):
                        results[index] = outcome
                    else:
                        if _dependency_failure(outcome) and attempt + 1 < DEPENDENCY_PASSES:
                            retry.append(index)
                        results[index] = _result(objects[index], "failed", _reason(outcome))
                    heartbeat(len(results))
            if not retry:
                break
            dyn.resources.invalidate_cache()
            pending = retry
    return [results[i] for i in range(len(objects))]


def _reason(error: Exception) -> str:
    if isinstance(error, DynamicApiError):
        return f"{error.status} {error.reason}: {error.summary()}"[:500]
    return f"{type(error).__name__}: {error}"[:500]


def _result(obj: dict[str, Any], action: str, reason: str = "") -> RestoredObject:
    meta = obj["metadata"]
    group = obj["apiVersion"].rpartition("/")[0]
    return RestoredObject(
        kind=obj["kind"],
        type=f"{obj['kind']}.{group}" if group else obj["kind"],
        namespace=meta.get("namespace"),
        name=meta["name"],
        action=action,
        reason=reason,
    )


def _apply_one(
    dyn: DynamicClient, obj: dict[str, Any], *, replace: bool, dry_run: bool, restore_uid: str
) -> RestoredObject:
    resource = dyn.resources.get(api_version=obj["apiVersion"], kind=obj["kind"])
    if restore_uid:
        obj = copy.deepcopy(obj)
        obj["metadata"].setdefault("annotations", {})[RESTORED_BY] = restore_uid
    meta = obj["metadata"]
    namespace = meta.get("namespace") if resource.namespaced else None
    try:
        existing = json.loads(
            resource.get(name=meta["name"], namespace=namespace, serialize=False).data
        )
    except DynamicApiError as exc:
        if exc.status != 404:
            raise
        existing = None
    if existing is None:
        if dry_run:
            return _result(obj, "create")
        resource.create(body=obj, namespace=namespace, serialize=False)
        if obj["kind"] == "CustomResourceDefinition":
            wait_established(dyn, meta["name"])
        return _result(obj, "created")
    restored_by = (existing["metadata"].get("annotations") or {}).get(RESTORED_BY)
    if restore_uid and restored_by == restore_uid:
        return _result(obj, "created", "restored by an earlier attempt of this restore")
    if not replace or obj["kind"] == "Namespace":
        why = "exists; the restore keeps existing objects" if not replace else "exists"
        return _result(obj, "skip" if dry_run else "skipped", why)
    if dry_run:
        replacing = _result(obj, "replace")
        replacing.changes = changes(obj["kind"], strip(existing), obj, ignore=(RESTORED_BY,))
        return replacing
    body = copy.deepcopy(obj)
    body["metadata"]["resourceVersion"] = existing["metadata"]["resourceVersion"]
    try:
        resource.replace(body=body, namespace=namespace, serialize=False)
    except DynamicApiError as exc:
        if exc.status != 422:  # an immutable field changed: recreate the object instead
            raise
        resource.delete(name=meta["name"], namespace=namespace)
        _wait_deleted(resource, meta["name"], namespace)
        resource.create(body=obj, namespace=namespace)
    return _result(obj, "replaced")


def _wait_deleted(resource: Resource, name: str, namespace: str | None) -> None:
    """Wait until a deleted object is gone, so that it can be created again."""
    deadline = time.monotonic() + DELETED_TIMEOUT_SECONDS
    while True:
        try:
            resource.get(name=name, namespace=namespace)
        except DynamicApiError as exc:
            if exc.status == 404:
                return
            raise
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"{resource.kind} {name} is still being deleted after "
                f"{DELETED_TIMEOUT_SECONDS:.0f}s, held by its finalizers (a claim stays while a "
                "pod mounts it): stop what uses it, or restore with replace_policy keep"
            )
        time.sleep(0.2)
