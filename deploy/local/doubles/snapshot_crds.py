"""The snapshot API of the dev cluster: the `snapshot.storage.k8s.io/v1` CRDs and our classes.

A real cluster gets these CRDs from kubernetes-csi/external-snapshotter; the dev cluster has
no way to fetch them, so they are written here by hand with the fields Lifeboat reads and
writes, and the same group, version, kinds, scopes and status subresources, so code that works
here works against the real ones unchanged. Beside them: the StorageClass and the default
VolumeSnapshotClass of the hostpath test driver (`deploy.local.doubles.csi.server`).
"""

from __future__ import annotations

import json
import time
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

GROUP = "snapshot.storage.k8s.io"
VERSION = "v1"
API_VERSION = f"{GROUP}/{VERSION}"
SNAPSHOTS = "volumesnapshots"
CONTENTS = "volumesnapshotcontents"
CLASSES = "volumesnapshotclasses"

DRIVER = "hostpath.csi.lifeboat.dev"
STORAGE_CLASS = "lifeboat-hostpath"
SNAPSHOT_CLASS = "lifeboat-hostpath-snapclass"
DEFAULT_SNAPSHOT_CLASS_ANNOTATION = "snapshot.storage.kubernetes.io/is-default-class"
# The API server refuses CRDs in *.k8s.io groups without an approval link; the real snapshot
# CRDs carry this one.
APPROVAL = {
    "api-approved.kubernetes.io": "https://github.com/kubernetes-csi/external-snapshotter/pull/419"
}
ESTABLISH_TIMEOUT = 30.0

Obj = dict[str, Any]

_STRING: Obj = {"type": "string"}
_TIME: Obj = {"type": "string", "format": "date-time"}
_DELETION_POLICY: Obj = {"type": "string", "enum": ["Delete", "Retain"]}
_ERROR: Obj = {
    "type": "object",
    "properties": {"message": _STRING, "time": _TIME},
}
_QUANTITY: Obj = {
    "anyOf": [{"type": "integer"}, {"type": "string"}],
    "x-kubernetes-int-or-string": True,
    "pattern": (
        r"^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]"
        r"|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$"
    ),
}


def _root(properties: Obj, required: list[str]) -> Obj:
    """An object schema with the fields every Kubernetes object has."""
    return {
        "type": "object",
        "required": required,
        "properties": {
            "apiVersion": _STRING,
            "kind": _STRING,
            "metadata": {"type": "object"},
            **properties,
        },
    }


def _one_of(*fields: str) -> list[Obj]:
    """Exactly one of the fields is set, as the real CRDs require of `source`."""
    return [{"required": [name]} for name in fields]


_VOLUME_SNAPSHOT_SCHEMA = _root(
    {
        "spec": {
            "type": "object",
            "required": ["source"],
            "properties": {
                "source": {
                    "type": "object",
                    "oneOf": _one_of("persistentVolumeClaimName", "volumeSnapshotContentName"),
                    "properties": {
                        "persistentVolumeClaimName": _STRING,
                        "volumeSnapshotContentName": _STRING,
                    },
                },
                "volumeSnapshotClassName": _STRING,
            },
        },
        "status": {
            "type": "object",
            "properties": {
                "boundVolumeSnapshotContentName": _STRING,
                "creationTime": _TIME,
                "error": _ERROR,
                "readyToUse": {"type": "boolean"},
                "restoreSize": _QUANTITY,
            },
        },
    },
    ["spec"],
)

_VOLUME_SNAPSHOT_CONTENT_SCHEMA = _root(
    {
        "spec": {
            "type": "object",
            "required": ["deletionPolicy", "driver", "source", "volumeSnapshotRef"],
            "properties": {
                "deletionPolicy": _DELETION_POLICY,
                "driver": _STRING,
                "source": {
                    "type": "object",
                    "oneOf": _one_of("snapshotHandle", "volumeHandle"),
                    "properties": {"snapshotHandle": _STRING, "volumeHandle": _STRING},
                },
                "volumeSnapshotClassName": _STRING,
                # An ObjectReference: apiVersion, kind, name, namespace, uid, resourceVersion.
                "volumeSnapshotRef": {
                    "type": "object",
                    "x-kubernetes-preserve-unknown-fields": True,
                },
            },
        },
        "status": {
            "type": "object",
            "properties": {
                # Nanoseconds since the epoch, as in the real API (the snapshot has a timestamp).
                "creationTime": {"type": "integer", "format": "int64"},
                "error": _ERROR,
                "readyToUse": {"type": "boolean"},
                "restoreSize": {"type": "integer", "format": "int64", "minimum": 0},
                "snapshotHandle": _STRING,
            },
        },
    },
    ["spec"],
)

_VOLUME_SNAPSHOT_CLASS_SCHEMA = _root(
    {
        "driver": _STRING,
        "deletionPolicy": _DELETION_POLICY,
        "parameters": {"type": "object", "additionalProperties": _STRING},
    },
    ["deletionPolicy", "driver"],
)


def _column(name: str, path: str, kind: str = "string") -> Obj:
    return {"name": name, "type": kind, "jsonPath": path}


_AGE = _column("Age", ".metadata.creationTimestamp", "date")


def _crd(
    kind: str,
    plural: str,
    scope: str,
    short_names: list[str],
    schema: Obj,
    columns: list[Obj],
    *,
    status: bool,
) -> Obj:
    version: Obj = {
        "name": VERSION,
        "served": True,
        "storage": True,
        "schema": {"openAPIV3Schema": schema},
        "additionalPrinterColumns": [*columns, _AGE],
    }
    if status:
        version["subresources"] = {"status": {}}
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{GROUP}", "annotations": dict(APPROVAL)},
        "spec": {
            "group": GROUP,
            "scope": scope,
            "names": {
                "kind": kind,
                "listKind": f"{kind}List",
                "plural": plural,
                "singular": kind.lower(),
                "shortNames": short_names,
            },
            "versions": [version],
        },
    }


SNAPSHOT_CRDS: tuple[Obj, ...] = (
    _crd(
        "VolumeSnapshot",
        SNAPSHOTS,
        "Namespaced",
        ["vs"],
        _VOLUME_SNAPSHOT_SCHEMA,
        [
            _column("ReadyToUse", ".status.readyToUse", "boolean"),
            _column("SourcePVC", ".spec.source.persistentVolumeClaimName"),
            _column("RestoreSize", ".status.restoreSize"),
            _column("SnapshotClass", ".spec.volumeSnapshotClassName"),
            _column("SnapshotContent", ".status.boundVolumeSnapshotContentName"),
        ],
        status=True,
    ),
    _crd(
        "VolumeSnapshotContent",
        CONTENTS,
        "Cluster",
        ["vsc", "vscs"],
        _VOLUME_SNAPSHOT_CONTENT_SCHEMA,
        [
            _column("ReadyToUse", ".status.readyToUse", "boolean"),
            _column("RestoreSize", ".status.restoreSize", "integer"),
            _column("DeletionPolicy", ".spec.deletionPolicy"),
            _column("Driver", ".spec.driver"),
            _column("VolumeSnapshot", ".spec.volumeSnapshotRef.name"),
        ],
        status=True,
    ),
    _crd(
        "VolumeSnapshotClass",
        CLASSES,
        "Cluster",
        ["vsclass", "vsclasses"],
        _VOLUME_SNAPSHOT_CLASS_SCHEMA,
        [_column("Driver", ".driver"), _column("DeletionPolicy", ".deletionPolicy")],
        status=False,
    ),
)

HOSTPATH_STORAGE_CLASS: Obj = {
    "apiVersion": "storage.k8s.io/v1",
    "kind": "StorageClass",
    "metadata": {"name": STORAGE_CLASS},
    "provisioner": DRIVER,
    "reclaimPolicy": "Delete",
    "volumeBindingMode": "Immediate",
}

HOSTPATH_SNAPSHOT_CLASS: Obj = {
    "apiVersion": API_VERSION,
    "kind": "VolumeSnapshotClass",
    "metadata": {
        "name": SNAPSHOT_CLASS,
        "annotations": {DEFAULT_SNAPSHOT_CLASS_ANNOTATION: "true"},
    },
    "driver": DRIVER,
    "deletionPolicy": "Delete",
}


class SnapshotApiError(RuntimeError):
    """The snapshot API could not be installed; the message says what is in the way."""


def install_snapshot_api(api: client.ApiClient, *, timeout: float = ESTABLISH_TIMEOUT) -> None:
    """Install the three snapshot CRDs, wait until they serve, then the two classes.

    Safe to repeat: existing CRDs are replaced by ours (so schema changes arrive), the classes
    are created when missing and left alone otherwise, unless they name another driver.
    """
    extensions = client.ApiextensionsV1Api(api)
    for crd in SNAPSHOT_CRDS:
        create_or_replace_crd(extensions, crd)
    deadline = time.monotonic() + timeout
    for crd in SNAPSHOT_CRDS:
        wait_established(extensions, crd["metadata"]["name"], deadline)
    _ensure_storage_class(client.StorageV1Api(api))
    _ensure_snapshot_class(client.CustomObjectsApi(api))


def create_or_replace_crd(extensions: client.ApiextensionsV1Api, crd: Obj) -> None:
    name = crd["metadata"]["name"]
    try:
        extensions.create_custom_resource_definition(
            client.V1CustomResourceDefinition.model_validate(crd)
        )
        return
    except ApiException as error:
        if error.status != 409:
            raise
    current = _raw(extensions.read_custom_resource_definition(name, _preload_content=False))
    replacement = {
        **crd,
        "metadata": {**crd["metadata"], "resourceVersion": current["metadata"]["resourceVersion"]},
    }
    extensions.replace_custom_resource_definition(
        name, client.V1CustomResourceDefinition.model_validate(replacement)
    )


def wait_established(extensions: client.ApiextensionsV1Api, name: str, deadline: float) -> None:
    while True:
        crd = _raw(extensions.read_custom_resource_definition(name, _preload_content=False))
        conditions = crd.get("status", {}).get("conditions") or []
        if any(c["type"] == "Established" and c["status"] == "True" for c in conditions):
            return
        if time.monotonic() > deadline:
            raise SnapshotApiError(f"CRD {name} not Established in time; conditions: {conditions}")
        time.sleep(0.1)


def _ensure_storage_class(storage: client.StorageV1Api) -> None:
    try:
        storage.create_storage_class(client.V1StorageClass.model_validate(HOSTPATH_STORAGE_CLASS))
        return
    except ApiException as error:
        if error.status != 409:
            raise
    # A StorageClass's provisioner cannot change; one of another driver must go by hand.
    current = _raw(storage.read_storage_class(STORAGE_CLASS, _preload_content=False))
    if current.get("provisioner") != DRIVER:
        raise SnapshotApiError(
            f"StorageClass {STORAGE_CLASS} exists with provisioner {current.get('provisioner')!r}"
            f", not {DRIVER!r}: delete it (kubectl delete storageclass {STORAGE_CLASS})"
        )


def _ensure_snapshot_class(custom: client.CustomObjectsApi) -> None:
    try:
        custom.create_cluster_custom_object(GROUP, VERSION, CLASSES, HOSTPATH_SNAPSHOT_CLASS)
        return
    except ApiException as error:
        if error.status != 409:
            raise
    current = custom.get_cluster_custom_object(GROUP, VERSION, CLASSES, SNAPSHOT_CLASS)
    assert isinstance(current, dict)
    if current.get("driver") != DRIVER:
        raise SnapshotApiError(
            f"VolumeSnapshotClass {SNAPSHOT_CLASS} exists with driver {current.get('driver')!r}"
            f", not {DRIVER!r}: delete it (kubectl delete volumesnapshotclass {SNAPSHOT_CLASS})"
        )


def _raw(response: Any) -> Obj:
    """The JSON body of a call made with `_preload_content=False`, as plain dicts."""
    body: Obj = json.loads(response.data)
    return body
