"""The archive at scale and its tamper evidence, on the real stack: a namespace of thousands of
objects goes into packs and comes back; packs and manifests changed behind Lifeboat's back are
refused, saying which and how; a backup in the old layout (one object per file) still restores.
"""

from __future__ import annotations

import asyncio
import io
import json
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, replace
from typing import Any

import httpx
import pytest
from minio import Minio
from sqlalchemy.orm import Session, sessionmaker

from activities.locations import OpenLocation, open_location
from activities.restore import read_manifest, read_objects
from deploy.local.stack import Stack
from lifeboat.archive import (
    PACK_MAX_BYTES,
    Sealer,
    backup_prefix,
    index_key,
    manifest_key,
    resource_key,
)
from lifeboat.catalog.models import Backup
from lifeboat.catalog.session import create_engine, create_sessionmaker
from lifeboat.secrets import SecretBox
from tests.api.helpers import dev_s3, unique
from tests.conftest import Users
from tests.e2e.conftest import Kube
from tests.e2e.test_backup_restore import _backup, _delete_namespace, _wait

MANY = 3000
# Each ConfigMap's data: together more than one pack holds, so the type spans several.
FILLER = "x" * (2 * PACK_MAX_BYTES // MANY)


def _config_maps(kube: Kube, namespace: str, count: int, filler: str = "") -> None:
    kube.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})

    def create(i: int) -> None:
        kube.create(
            {"apiVersion": "v1", "kind": "ConfigMap",
             "metadata": {"name": f"settings-{i:05d}", "namespace": namespace},
             "data": {"n": str(i), "fill": filler}}
        )  # fmt: skip

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(create, range(count)))
    kube.create(
        {"apiVersion": "v1", "kind": "Secret",
         "metadata": {"name": "db", "namespace": namespace}, "stringData": {"password": "hunter2"}}
    )  # fmt: skip


def _listed(kube: Kube, kind: str, namespace: str | None = None) -> list[dict[str, Any]]:
    resource = kube.dyn.resources.get(api_version="v1", kind=kind)
    items: list[dict[str, Any]] = json.loads(
        resource.get(namespace=namespace, serialize=False).data
    )["items"]
    return items


def _config_map_numbers(kube: Kube, namespace: str) -> dict[str, str]:
    return {
        i["metadata"]["name"]: i["data"]["n"]
        for i in _listed(kube, "ConfigMap", namespace)
        if i["metadata"]["name"].startswith("settings-")
    }


@pytest.fixture
def s3(stack: Stack) -> Minio:
    return dev_s3(stack)


def _back_up(api: httpx.Client, target: dict[str, str], namespace: str) -> dict[str, Any]:
    backup = _backup(api, target, namespace)
    assert backup["status"] == "Success", backup["reason"]
    return backup


def _restore(api: httpx.Client, backup_uid: str) -> dict[str, Any]:
    started = api.post("/api/v1/restores", json={"backup_uid": backup_uid})
    assert started.status_code == 201, started.text
    return _wait(api, f"/api/v1/restores/{started.json()['uid']}", timeout=300)


def _archived(s3: Minio, bucket: str, backup_uid: str) -> list[str]:
    return sorted(
        str(o.object_name)
        for o in s3.list_objects(bucket, recursive=True)
        if f"/{backup_uid}/" in f"/{o.object_name}"
    )


def _read(s3: Minio, bucket: str, key: str) -> bytes:
    response = s3.get_object(bucket, key)
    try:
        return response.read()
    finally:
        response.close()
        response.release_conn()


def _write(s3: Minio, bucket: str, key: str, data: bytes) -> None:
    s3.put_object(bucket, key, io.BytesIO(data), len(data))


@pytest.mark.slow
def test_thousands_of_objects_go_into_packs_per_type_and_all_come_back(
    as_user: Users, target: dict[str, str], kube: Kube, s3: Minio
) -> None:
    api = as_user("infraadmin")
    namespace = unique("many")
    _config_maps(kube, namespace, MANY, FILLER)
    backup = _back_up(api, target, namespace)
    assert backup["resource_count"] >= MANY + 2  # the ConfigMaps, the Secret, the Namespace

    # A few packs per type, not an object per Kubernetes object.
    keys = _archived(s3, target["bucket"], backup["uid"])
    packs = [k for k in keys if "/packs/configmaps/" in k]
    assert 2 <= len(packs) <= 4, packs
    assert not any("/resources/" in k for k in keys)
    assert len(keys) < 20, keys

    _delete_namespace(kube, namespace)
    restore = _restore(api, backup["uid"])
    assert restore["status"] == "Success", restore["reason"]
    assert _config_map_numbers(kube, namespace) == {
        f"settings-{i:05d}": str(i) for i in range(MANY)
    }
    actions = {(r["kind"], r["name"]): r["action"] for r in restore["resources"]}
    assert len(actions) == backup["resource_count"]
    assert actions[("Secret", "db")] == actions[("Namespace", namespace)] == "created"
    # What the cluster makes in every new namespace is there before the restore reaches it.
    assert actions[("ConfigMap", "kube-root-ca.crt")] == "skipped"


@pytest.fixture
def small_backups(
    as_user: Users, target: dict[str, str], kube: Kube
) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """Two backups of one small namespace, which is then deleted: (namespace, first, second)."""
    api = as_user("infraadmin")
    namespace = unique("tamper")
    _config_maps(kube, namespace, 20)
    first, second = _back_up(api, target, namespace), _back_up(api, target, namespace)
    _delete_namespace(kube, namespace)
    return namespace, first, second


def _refused(api: httpx.Client, kube: Kube, backup_uid: str, namespace: str) -> str:
    """Restore, which must fail before creating anything; its reason."""
    restore = _restore(api, backup_uid)
    assert restore["status"] == "Failed", restore
    assert not any(r["action"] == "created" for r in restore["resources"])
    assert namespace not in {n["metadata"]["name"] for n in _listed(kube, "Namespace")}
    reason: str = restore["reason"]
    return reason


def test_packs_deleted_truncated_modified_or_substituted_are_refused_naming_the_pack(
    as_user: Users,
    target: dict[str, str],
    kube: Kube,
    s3: Minio,
    small_backups: tuple[str, dict[str, Any], dict[str, Any]],
) -> None:
    api = as_user("infraadmin")
    namespace, first, second = small_backups
    bucket = target["bucket"]
    pack = next(k for k in _archived(s3, bucket, first["uid"]) if "/packs/configmaps/" in k)
    other = pack.replace(first["uid"], second["uid"])
    original = _read(s3, bucket, pack)

    s3.remove_object(bucket, pack)
    reason = _refused(api, kube, first["uid"], namespace)
    assert pack in reason and "missing" in reason and "deleted" in reason, reason

    _write(s3, bucket, pack, original[: len(original) // 2])
    reason = _refused(api, kube, first["uid"], namespace)
    assert pack in reason and "truncated" in reason, reason

    flipped = bytearray(original)
    flipped[-1] ^= 0x01
    _write(s3, bucket, pack, bytes(flipped))
    reason = _refused(api, kube, first["uid"], namespace)
    assert pack in reason and "modified" in reason, reason

    # The same objects, from the other backup of the namespace: still not this backup's pack.
    substitute = _read(s3, bucket, other)
    assert len(substitute) == len(original)
    _write(s3, bucket, pack, substitute)
    reason = _refused(api, kube, first["uid"], namespace)
    assert pack in reason and "substituted" in reason, reason

    # Put back as written, the backup restores.
    _write(s3, bucket, pack, original)
    restore = _restore(api, first["uid"])
    assert restore["status"] == "Success", restore["reason"]
    assert len(_config_map_numbers(kube, namespace)) == 20


def test_a_swapped_or_deleted_manifest_is_refused(
    as_user: Users,
    target: dict[str, str],
    kube: Kube,
    s3: Minio,
    small_backups: tuple[str, dict[str, Any], dict[str, Any]],
) -> None:
    api = as_user("infraadmin")
    namespace, first, second = small_backups
    bucket = target["bucket"]
    key = next(k for k in _archived(s3, bucket, first["uid"]) if k.endswith("manifest.json.sealed"))
    original = _read(s3, bucket, key)
    # The other backup's manifest: sealed under the same key, valid, but not this backup's.
    _write(s3, bucket, key, _read(s3, bucket, key.replace(first["uid"], second["uid"])))

    reason = _refused(api, kube, first["uid"], namespace)
    assert key in reason and "manifest" in reason and "substituted" in reason, reason

    s3.remove_object(bucket, key)
    reason = _refused(api, kube, first["uid"], namespace)
    assert key in reason and "missing" in reason, reason

    _write(s3, bucket, key, original)
    assert _restore(api, first["uid"])["status"] == "Success"


def _open(stack: Stack, postgres_url: str, location_uid: str) -> OpenLocation:
    async def opened() -> OpenLocation:
        engine = create_engine(postgres_url)
        try:
            return await open_location(
                create_sessionmaker(engine), SecretBox(stack.secret_key), location_uid
            )
        finally:
            await engine.dispose()

    return asyncio.run(opened())


def _rewrite_as_layout_1(
    location: OpenLocation, catalog: sessionmaker[Session], backup_uid: str
) -> None:
    """Turn a backup into what Lifeboat wrote before packs (archive layout 1): one sealed
    object per Kubernetes object at `resource_key`, the export's index a list of them, the
    manifest listing each object's key, no digest in the catalog; the new layout's objects go."""
    with catalog() as db:
        backup = db.get(Backup, backup_uid)
        assert backup is not None
        key, sha256 = backup.manifest_key, backup.manifest_digest
    manifest = read_manifest(location, key, sha256=sha256)
    sealer = Sealer(location.key)
    entries = []
    for entry, obj in read_objects(location, manifest, manifest.resources):
        object_key = resource_key(
            location.prefix,
            backup_uid,
            api_version=entry.api_version,
            plural=entry.type.split(".", 1)[0],
            namespace=entry.namespace,
            name=entry.name,
        )
        location.backend.put(object_key, sealer.seal_json(obj, name=object_key))
        v1 = asdict(replace(entry, key=object_key))
        del v1["position"]  # layout 1 had no packs
        entries.append(v1)
    document = sealer.open_json(location.backend.get(key), name=key)
    old_key = manifest_key(location.prefix, backup_uid, version=1)
    old_manifest = {
        **{k: v for k, v in document.items() if k not in ("packs", "resources")},
        "layout_version": 1,
        "resources": entries,
    }
    location.backend.put(old_key, sealer.seal_json(old_manifest, name=old_key))
    old_index = index_key(location.prefix, backup_uid, 1)
    location.backend.put(old_index, sealer.seal_json(entries, name=old_index))
    location.backend.delete(
        k
        for k, _ in location.backend.list_objects(backup_prefix(location.prefix, backup_uid) + "/")
    )
    with catalog.begin() as db:
        backup = db.get(Backup, backup_uid)
        assert backup is not None
        backup.manifest_key, backup.manifest_digest = old_key, ""


def test_a_backup_in_the_old_layout_still_restores_and_deletes(
    as_user: Users,
    target: dict[str, str],
    kube: Kube,
    stack: Stack,
    s3: Minio,
    postgres_url: str,
    catalog: sessionmaker[Session],
) -> None:
    api = as_user("infraadmin")
    namespace = unique("old")
    _config_maps(kube, namespace, 30)
    backup = _back_up(api, target, namespace)
    location = _open(stack, postgres_url, target["location"])
    _rewrite_as_layout_1(location, catalog, backup["uid"])
    bucket = target["bucket"]
    keys = _archived(s3, bucket, backup["uid"])
    assert keys and all("lifeboat/v1/backups/" in k for k in keys), keys
    assert len([k for k in keys if "/resources/_/v1/configmaps/" in k]) == 30 + 1  # kube-root-ca

    _delete_namespace(kube, namespace)
    restore = _restore(api, backup["uid"])
    assert restore["status"] == "Success", restore["reason"]
    assert _config_map_numbers(kube, namespace) == {f"settings-{i:05d}": str(i) for i in range(30)}
    assert kube.read("v1", "Secret", "db", namespace)["data"]["password"] == "aHVudGVyMg=="

    # Deleting it removes the old layout's objects too.
    assert api.delete(f"/api/v1/backups/{backup['uid']}").status_code == 202
    _wait_gone(api, backup["uid"])
    assert _archived(s3, bucket, backup["uid"]) == []


def _wait_gone(api: httpx.Client, backup_uid: str) -> None:
    deadline = time.monotonic() + 60
    while api.get(f"/api/v1/backups/{backup_uid}").status_code != 404:
        assert time.monotonic() < deadline, "the backup was not deleted"
        time.sleep(0.3)
