"""Volumes: CSI snapshots of a backup's claims, their data moved to the location, and back.

Backup: a VolumeSnapshot per bound claim (class chosen by the volume's driver), waited until
ready; then the data mover reads each snapshot through a temporary claim restored from it
and writes deduplicated, compressed, encrypted chunks to the location; snapshots and
temporary claims are deleted whatever the outcome (the data lives in the location).

Where the mover runs (`activities.mover.runners`, chosen by LIFEBOAT_MOVER_RUNNER): in the
worker on the claim's hostPath directory (`local`, the dev stack), or as a Kubernetes Job in
the claim's namespace mounting it (`job`, production). Restores fill the restored claims the
same way.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import fields
from datetime import datetime, timedelta
from functools import partial
from typing import Any, TypeVar

import kubernetes.client
from kubernetes.client.exceptions import ApiException
from kubernetes.utils import parse_quantity
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.heartbeat import ThreadHeartbeat
from activities.kube import REQUEST_TIMEOUT, api_client, cluster_kubeconfig, paginate
from activities.locations import LocationUnavailable, OpenLocation, open_location
from activities.mover.progress import RestoreSummary, SnapshotSummary
from activities.mover.prune import forget, prune
from activities.mover.runners import (
    LocalMover,
    Mover,
    MoverFailed,
    MoverHeartbeat,
    MoverTask,
    last_resume,
    remove_jobs,
)
from activities.mover.store import ChunkStore
from activities.mover.verify import VerifySummary
from lifeboat.catalog.models import Backup, BackupLocation, Restore, utcnow
from lifeboat.locations.locked import LockedBackend
from lifeboat.secrets import SecretBox
from lifeboat.status import BackupStatus, VolumeStatus
from workflows.contracts import (
    BackupInput,
    MoveVolumeInput,
    MoveVolumeResult,
    PruneInput,
    PruneResult,
    RestoreVolumeInput,
    VolumeRef,
)
from workflows.errors import BACKUP_NOT_FOUND, INVALID_BACKUP

SNAPSHOT_API = ("snapshot.storage.k8s.io", "v1")
BACKUP_LABEL = "backup.lifeboat.dev/uid"
RESTORE_LABEL = "restore.lifeboat.dev/uid"
DEFAULT_CLASS = "snapshot.storage.kubernetes.io/is-default-class"
POLL_SECONDS = 0.5
# A prune lock older than this is taken to be left by a prune that died for good.
PRUNE_LOCK_STALE = timedelta(hours=6)


def _short(uid: str) -> str:
    return uid.split("-")[0]


def snapshot_name(backup_uid: str, pvc: str) -> str:
    return f"lifeboat-{_short(backup_uid)}-{pvc}"[:253]


def _snapshot_class(custom: Any, driver: str) -> str | None:
    """The snapshot class for a driver: its default one, else the first."""
    classes = custom.list_cluster_custom_object(*SNAPSHOT_API, "volumesnapshotclasses")["items"]
    matching = [c for c in classes if c.get("driver") == driver]
    matching.sort(
        key=lambda c: (c["metadata"].get("annotations") or {}).get(DEFAULT_CLASS) != "true"
    )
    return matching[0]["metadata"]["name"] if matching else None


def _driver(core: Any, storage: Any, pvc: Any) -> str:
    pv = core.read_persistent_volume(pvc.spec.volume_name, _request_timeout=REQUEST_TIMEOUT)
    if pv.spec.csi is not None:
        return str(pv.spec.csi.driver)
    class_name = pvc.spec.storage_class_name or pv.spec.storage_class_name
    if class_name:
        return str(storage.read_storage_class(class_name).provisioner)
    return ""


def create_snapshots(
    kubeconfig: dict[str, Any],
    backup_uid: str,
    namespaces: list[str],
    claims: set[tuple[str, str]] | None = None,
) -> tuple[list[VolumeRef], list[MoveVolumeResult]]:
    """A VolumeSnapshot for every bound claim (of `claims` only, `(namespace, name)`, when
    given); claims that cannot be snapshotted, with why."""
    refs, skipped = [], []
    with api_client(kubeconfig) as client:
        core = kubernetes.client.CoreV1Api(client)
        storage = kubernetes.client.StorageV1Api(client)
        custom = kubernetes.client.CustomObjectsApi(client)
        for namespace in namespaces:
            for pvc in paginate(core.list_namespaced_persistent_volume_claim, namespace=namespace):
                name = pvc.metadata.name
                if pvc.metadata.labels and BACKUP_LABEL in pvc.metadata.labels:
                    continue  # a mover's temporary claim
                if claims is not None and (namespace, name) not in claims:
                    continue  # not a disk of the backup's virtual machines
                if pvc.status.phase != "Bound":
                    skipped.append(
                        MoveVolumeResult(namespace, name, VolumeStatus.SKIPPED, "not bound")
                    )
                    continue
                driver = _driver(core, storage, pvc)
                snapshot_class = _snapshot_class(custom, driver)
                if snapshot_class is None:
                    skipped.append(MoveVolumeResult(
                        namespace, name, VolumeStatus.FAILED,
                        f"no VolumeSnapshotClass for driver {driver!r}",
                    ))  # fmt: skip
                    continue
                snapshot = snapshot_name(backup_uid, name)
                body = {
                    "apiVersion": "/".join(SNAPSHOT_API), "kind": "VolumeSnapshot",
                    "metadata": {"name": snapshot, "labels": {BACKUP_LABEL: backup_uid}},
                    "spec": {"volumeSnapshotClassName": snapshot_class,
                             "source": {"persistentVolumeClaimName": name}},
                }  # fmt: skip
                try:
                    custom.create_namespaced_custom_object(
                        *SNAPSHOT_API, namespace, "volumesnapshots", body
                    )
                except ApiException as exc:
                    if exc.status != 409:  # a retry: the snapshot is already there
                        raise
                size = int(parse_quantity((pvc.status.capacity or {}).get("storage", "0")))
                refs.append(VolumeRef(namespace, name, snapshot, size))
    return refs, skipped


def wait_ready(kubeconfig: dict[str, Any], refs: list[VolumeRef], beat: Any) -> dict[str, str]:
    """Wait until every snapshot is ready; the ones that report an error, with it."""
    errors: dict[str, str] = {}
    pending = {f"{r.namespace}/{r.snapshot}": r for r in refs}
    with api_client(kubeconfig) as client:
        custom = kubernetes.client.CustomObjectsApi(client)
        while pending:
            for key, ref in list(pending.items()):
                found: Any = custom.get_namespaced_custom_object(
                    *SNAPSHOT_API, ref.namespace, "volumesnapshots", ref.snapshot
                )
                status = found.get("status") or {}
                if status.get("readyToUse"):
                    del pending[key]
                elif (status.get("error") or {}).get("message"):
                    errors[key] = status["error"]["message"]
                    del pending[key]
            beat(len(refs) - len(pending))
            if pending:
                time.sleep(POLL_SECONDS)
    return errors


def _claim_from_snapshot(core: Any, ref: VolumeRef, backup_uid: str, storage_class: str) -> str:
    name = f"lifeboat-mover-{_short(backup_uid)}-{ref.pvc}"[:253]
    body = {
        "metadata": {"name": name, "labels": {BACKUP_LABEL: backup_uid}},
        "spec": {
            "accessModes": ["ReadWriteOnce"],
            "storageClassName": storage_class,
            "resources": {"requests": {"storage": str(max(ref.size_bytes, 1))}},
            "dataSource": {"apiGroup": SNAPSHOT_API[0], "kind": "VolumeSnapshot",
                           "name": ref.snapshot},
        },
    }  # fmt: skip
    try:
        core.create_namespaced_persistent_volume_claim(ref.namespace, body)
    except ApiException as exc:
        if exc.status != 409:
            raise
    return name


class VolumeActivities:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        secrets: SecretBox,
        mover: Mover | None = None,
    ) -> None:
        self._sessions = sessions
        self._secrets = secrets
        self._mover = mover or LocalMover()

    async def _backup(self, uid: str) -> Backup:
        async with self._sessions() as session:
            backup = await session.get(Backup, uid)
        if backup is None:
            raise ApplicationError(f"backup {uid} is gone", type=BACKUP_NOT_FOUND)
        return backup

    async def _location(
        self, location_uid: str, *, retain_until: datetime | None = None
    ) -> OpenLocation:
        try:
            return await open_location(
                self._sessions, self._secrets, location_uid, retain_until=retain_until
            )
        except LocationUnavailable as exc:
            raise ApplicationError(str(exc), type=INVALID_BACKUP, non_retryable=True) from exc

    async def _store(self, location_uid: str) -> ChunkStore:
        location = await self._location(location_uid)
        return ChunkStore(location.backend, location.prefix, location.key)

    @activity.defn
    async def snapshot_volumes(self, input: BackupInput) -> list[VolumeRef]:
        """Snapshot the bound claims of the backup's namespaces (or VMs) and wait until ready."""
        backup = await self._backup(input.backup_uid)
        kubeconfig = await cluster_kubeconfig(self._sessions, self._secrets, backup.cluster_uid)
        # A VM backup's claims only; a retry's, only those that failed.
        resolution = backup.resolution
        refs, skipped = await asyncio.to_thread(
            create_snapshots, kubeconfig, input.backup_uid, resolution.namespaces, resolution.claims
        )
        errors = await asyncio.to_thread(wait_ready, kubeconfig, refs, ThreadHeartbeat())
        failed = [
            MoveVolumeResult(r.namespace, r.pvc, VolumeStatus.FAILED, f"snapshot: {errors[key]}")
            for r in refs
            if (key := f"{r.namespace}/{r.snapshot}") in errors
        ]
        await self._record(input.backup_uid, [*skipped, *failed])
        return [r for r in refs if f"{r.namespace}/{r.snapshot}" not in errors]

    async def _record(self, backup_uid: str, results: list[MoveVolumeResult]) -> None:
        async with self._sessions.begin() as session:
            # Locked: volumes moved side by side record their results at the same time.
            backup = await session.get(Backup, backup_uid, with_for_update=True)
            if backup is None:
                return
            known = {(v["namespace"], v["pvc"]): v for v in backup.volumes}
            for result in results:
                known[(result.namespace, result.pvc)] = dict(vars(result))
            backup.volumes = sorted(known.values(), key=lambda v: (v["namespace"], v["pvc"]))
            done = [v for v in backup.volumes if v["status"] == VolumeStatus.SUCCESS]
            backup.volume_count = len(done)
            backup.size_bytes = sum(v["bytes_total"] for v in done)

    @activity.defn
    async def move_volume(self, input: MoveVolumeInput) -> MoveVolumeResult:
        """Read a snapshot through a temporary claim and store its data in the location.

        After a worker dies, the retry resumes from the last heartbeat's resume point (a mover
        Job still running is taken over).
        """
        backup = await self._backup(input.backup_uid)
        connect = partial(cluster_kubeconfig, self._sessions, self._secrets, backup.cluster_uid)
        kubeconfig = await connect()
        location = await self._location(backup.location_uid, retain_until=backup.locked_until)
        ref, resume = input.volume, last_resume()

        def temporary_claim() -> str:
            with api_client(kubeconfig) as client:
                core = kubernetes.client.CoreV1Api(client)
                source = core.read_namespaced_persistent_volume_claim(ref.pvc, ref.namespace)
                storage_class = (source.spec.storage_class_name if source.spec else None) or ""
                return _claim_from_snapshot(core, ref, input.backup_uid, storage_class)

        claim = await asyncio.to_thread(temporary_claim)
        task = MoverTask("backup", ref.namespace, ref.pvc, claim, BACKUP_LABEL, input.backup_uid)
        try:
            moved = await self._mover.run(connect, task, location, MoverHeartbeat(resume), resume)
            summary = summary_of(SnapshotSummary, moved)
            if isinstance(backend := location.backend, LockedBackend):
                store = ChunkStore(backend, location.prefix, location.key)
                await asyncio.to_thread(hold_volume_data, backend, store, summary.snapshot_id)
            result = MoveVolumeResult(
                ref.namespace, ref.pvc, VolumeStatus.SUCCESS,
                data_snapshot_id=summary.snapshot_id, bytes_total=summary.bytes_total,
                bytes_uploaded=summary.bytes_uploaded,
            )  # fmt: skip
        except MoverFailed as exc:
            result = MoveVolumeResult(ref.namespace, ref.pvc, VolumeStatus.FAILED, str(exc))
        await self._record(input.backup_uid, [result])
        return result

    @activity.defn
    async def delete_snapshots(self, input: BackupInput) -> int:
        """Delete the backup's snapshots and temporary claims, and any data mover Job an
        attempt left behind (idempotent)."""
        backup = await self._backup(input.backup_uid)
        kubeconfig = await cluster_kubeconfig(self._sessions, self._secrets, backup.cluster_uid)
        namespaces = backup.resolution.namespaces
        selector = f"{BACKUP_LABEL}={input.backup_uid}"

        def remove() -> int:
            removed = 0
            with api_client(kubeconfig) as client:
                core = kubernetes.client.CoreV1Api(client)
                custom = kubernetes.client.CustomObjectsApi(client)
                for namespace in namespaces:
                    # First: a mover Job's pod may still use a temporary claim.
                    removed += remove_jobs(client, namespace, selector)
                    for pvc in paginate(
                        core.list_namespaced_persistent_volume_claim,
                        namespace=namespace, label_selector=selector,
                    ):  # fmt: skip
                        core.delete_namespaced_persistent_volume_claim(pvc.metadata.name, namespace)
                        removed += 1
                    snapshots: Any = custom.list_namespaced_custom_object(
                        *SNAPSHOT_API, namespace, "volumesnapshots", label_selector=selector
                    )
                    for snapshot in snapshots["items"]:
                        custom.delete_namespaced_custom_object(
                            *SNAPSHOT_API,
                            namespace,
                            "volumesnapshots",
                            snapshot["metadata"]["name"],
                        )
                        removed += 1
            return removed

        return await asyncio.to_thread(remove)

    @activity.defn
    async def restore_volume(self, input: RestoreVolumeInput) -> MoveVolumeResult:
        """Fill a restored claim with its backed-up data (before workloads mount it)."""
        async with self._sessions() as session:
            restore_row = await session.get(Restore, input.restore_uid)
            backup = await session.get(Backup, restore_row.backup_uid) if restore_row else None
        if restore_row is None or backup is None:
            raise ApplicationError("the restore or its backup is gone", type=BACKUP_NOT_FOUND)
        namespace = restore_row.spec.target_namespace(input.namespace)
        connect = partial(
            cluster_kubeconfig, self._sessions, self._secrets, restore_row.cluster_uid
        )
        location = await self._location(backup.location_uid)
        task = MoverTask(
            "restore", namespace, input.pvc, input.pvc, RESTORE_LABEL, input.restore_uid,
            snapshot_id=input.data_snapshot_id,
        )  # fmt: skip
        try:
            moved = await self._mover.run(connect, task, location, MoverHeartbeat(None), None)
        except MoverFailed as exc:
            return MoveVolumeResult(namespace, input.pvc, VolumeStatus.FAILED, str(exc))
        return MoveVolumeResult(
            namespace, input.pvc, VolumeStatus.SUCCESS, data_snapshot_id=input.data_snapshot_id,
            bytes_total=summary_of(RestoreSummary, moved).bytes_written,
        )  # fmt: skip

    @activity.defn
    async def forget_volume_data(self, input: BackupInput) -> str:
        """Delete the backup's volume data snapshots from the repository; the location's uid
        ('' when the backup is already gone). Their chunks go at the next prune."""
        async with self._sessions() as session:
            backup = await session.get(Backup, input.backup_uid)
            if backup is None:
                return ""
            location_uid = backup.location_uid
            ids = [v["data_snapshot_id"] for v in backup.volumes if v.get("data_snapshot_id")]
        if ids:
            store = await self._store(location_uid)
            await asyncio.to_thread(forget, store, ids)
        return location_uid

    @activity.defn
    async def prune_location(self, input: PruneInput) -> PruneResult:
        """Delete the repository's data that no snapshot refers to, while no backup writes.

        The location row's prune lock keeps backups from starting (they wait in their
        namespace lock step); a prune never starts while one of them is in progress.
        """
        async with self._sessions.begin() as session:
            location = await session.get(BackupLocation, input.location_uid, with_for_update=True)
            if location is None:
                return PruneResult("Deferred", "the backup location is gone")
            if prune_locked(location) and location.prune_holder != input.holder:
                return PruneResult("Deferred", f"{location.prune_holder} is pruning it")
            writing = await session.scalars(
                select(Backup.name).where(
                    Backup.location_uid == input.location_uid,
                    Backup.status == BackupStatus.IN_PROGRESS,
                )
            )
            if busy := sorted(writing):
                return PruneResult("Deferred", f"backups {', '.join(busy)} are writing to it")
            location.prune_holder, location.prune_started_at = input.holder, utcnow()
        try:
            store = await self._store(input.location_uid)
            task = asyncio.create_task(asyncio.to_thread(prune, store))
            while not task.done():
                activity.heartbeat()
                await asyncio.wait([task], timeout=10)
            summary = task.result()
        finally:
            async with self._sessions.begin() as session:
                location = await session.get(BackupLocation, input.location_uid)
                if location is not None and location.prune_holder == input.holder:
                    location.prune_holder, location.prune_started_at = "", None
        return PruneResult(
            "Pruned", objects_deleted=summary.objects_deleted, bytes_deleted=summary.bytes_deleted
        )


Summary = TypeVar("Summary", SnapshotSummary, RestoreSummary, VerifySummary)


def hold_volume_data(backend: LockedBackend, store: ChunkStore, snapshot_id: str) -> int:
    """On an immutable location: lock what a volume's snapshot reuses (data deduplicated
    against other backups, locked for theirs) as long as the snapshot's own backup."""
    return backend.hold(store.objects_of(snapshot_id))


def summary_of(kind: type[Summary], summary: dict[str, Any]) -> Summary:
    """The mover's summary, typed: its own fields (a mover of another version may say more)."""
    names = {f.name for f in fields(kind)}
    return kind(**{k: v for k, v in summary.items() if k in names})


def prune_locked(location: BackupLocation) -> bool:
    """Whether a prune holds the location (a lock older than `PRUNE_LOCK_STALE` is dead)."""
    started = location.prune_started_at
    return bool(location.prune_holder) and (
        started is not None and utcnow() - started < PRUNE_LOCK_STALE
    )
