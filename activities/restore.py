"""Activities of the restore workflow: apply a backup's objects to a cluster in order, say
what becomes of each volume's data, and record every result.

A restore reads its backup's manifest once: it is checked against the digest the catalog kept,
decrypted and parsed on first use and kept (a manifest is never rewritten) for the restore's
later steps on this worker. Before it changes anything, a restore checks every pack it will
read (present, its size and SHA-256 as the manifest recorded): a backup tampered with behind
Lifeboat's back is refused, saying which pack and how.

`read_manifest` and `read_objects` read any backup's archive (both layouts) for other uses.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.backup import HEARTBEAT_EVERY_SECONDS, invalid
from activities.heartbeat import ThreadHeartbeat
from activities.kube import cluster_kubeconfig
from activities.locations import LocationUnavailable, OpenLocation, open_location
from activities.namespace_locks import restore_targets, taken_by
from activities.resources import UPLOADS, ExportedObject, apply_objects, plan, transform
from lifeboat import metrics
from lifeboat.archive import ArchiveError, Pack, Sealer, check_manifest, open_pack, packs_of
from lifeboat.catalog.models import Backup, Cluster, Restore, utcnow
from lifeboat.locations import LocationError
from lifeboat.secrets import SecretBox
from lifeboat.specs import RestoreSpec
from lifeboat.status import RestorePhase, RestoreStatus, Stage, VolumeStatus
from workflows.contracts import (
    RecordRestoredVolumesInput,
    RecordRestoreInput,
    RestoreInput,
    RestoreResult,
    RestoreVolumeInput,
)
from workflows.errors import BACKUP_NOT_FOUND, NAMESPACE_BUSY

# Manifests kept per worker: the restores running on it at once, and then some.
MANIFESTS_KEPT = 16
# A preview says what it would do; a restore what it did: both are counted alike.
_COUNTED_AS = {
    "create": "created", "created": "created", "replace": "replaced", "replaced": "replaced",
    "skip": "skipped", "skipped": "skipped", "failed": "failed",
}  # fmt: skip


@dataclass(frozen=True)
class Manifest:
    """What a restore needs of a backup's manifest: its objects, the packs that hold them
    (layout 2; none in layout 1, where each object is stored alone), its volumes' results."""

    resources: list[ExportedObject]
    volumes: list[dict[str, Any]]
    layout_version: int = 1
    packs: dict[str, Pack] | None = None


def read_manifest(location: OpenLocation, key: str, *, sha256: str = "") -> Manifest:
    """A backup's manifest, refused (`ArchiveError`) unless its SHA-256 is `sha256` (the
    catalog's `Backup.manifest_digest`; empty for backups made before it was kept)."""
    blob = _stored(location, key)
    if blob is None:
        raise ArchiveError(
            f"manifest {key} is missing from the bucket: it was deleted behind Lifeboat's back"
        )
    check_manifest(blob, key=key, expected_sha256=sha256)
    document = Sealer(location.key).open_json(blob, name=key)
    return Manifest(
        resources=[ExportedObject(**e) for e in document["resources"]],
        volumes=document.get("volumes") or [],
        layout_version=int(document.get("layout_version", 1)),
        packs=packs_of(document),
    )


def _stored(location: OpenLocation, key: str) -> bytes | None:
    """An archive object as stored; None when there is none."""
    try:
        return location.backend.get(key)
    except LocationError:
        if location.backend.exists(key):
            raise
        return None


def _open_pack(location: OpenLocation, packs: dict[str, Pack], key: str) -> list[dict[str, Any]]:
    """The objects of one of the manifest's packs, checked (see `open_pack`)."""
    if key not in packs:
        raise ArchiveError(f"pack {key} is not among the manifest's packs")
    return open_pack(Sealer(location.key), packs[key], _stored(location, key))


def _ahead(
    pool: ThreadPoolExecutor, read: Callable[[str], Any], keys: Iterable[str]
) -> Iterator[Any]:
    """`read` of each key, in order, a few running ahead: memory holds only those few."""
    running: deque[Future[Any]] = deque()
    for key in keys:
        running.append(pool.submit(read, key))
        if len(running) > UPLOADS:
            yield running.popleft().result()
    while running:
        yield running.popleft().result()


def read_objects(
    location: OpenLocation, manifest: Manifest, entries: Iterable[ExportedObject]
) -> Iterator[tuple[ExportedObject, dict[str, Any]]]:
    """Each entry (of `manifest.resources`) with its archived object, in the order given.

    Layout 2 reads a pack once for each run of entries in it (in `plan` order, a pack's
    entries are one run). `ArchiveError` names a pack that is missing, truncated, substituted
    or modified, or an object sealed wrongly.
    """
    sealer = Sealer(location.key)
    with ThreadPoolExecutor(UPLOADS, thread_name_prefix="lifeboat-archive-read") as pool:
        if manifest.layout_version == 1:
            listed = list(entries)
            blobs = _ahead(pool, location.backend.get, (e.key for e in listed))
            for entry, blob in zip(listed, blobs, strict=True):
                yield entry, sealer.open_json(blob, name=entry.key)
            return
        packs = manifest.packs or {}
        runs = [(key, list(run)) for key, run in itertools.groupby(entries, lambda e: e.key)]

        def read(key: str) -> list[dict[str, Any]]:
            return _open_pack(location, packs, key)

        for (_, run), objects in zip(runs, _ahead(pool, read, (k for k, _ in runs)), strict=True):
            for entry in run:
                yield entry, objects[entry.position]


def check_packs(
    location: OpenLocation, manifest: Manifest, entries: Iterable[ExportedObject]
) -> None:
    """Read every pack that holds one of `entries`; `ArchiveError` for the first that is not
    as the manifest recorded (layout 1 has no packs: nothing to check)."""
    if manifest.layout_version == 1:
        return
    packs = manifest.packs or {}

    def check(key: str) -> None:
        _open_pack(location, packs, key)

    keys = sorted({e.key for e in entries})
    with ThreadPoolExecutor(UPLOADS, thread_name_prefix="lifeboat-archive-check") as pool:
        for _ in _ahead(pool, check, keys):
            pass


class RestoreActivities:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], secrets: SecretBox) -> None:
        self._sessions = sessions
        self._secrets = secrets
        self._manifests: OrderedDict[str, Manifest] = OrderedDict()

    async def _location(self, location_uid: str) -> OpenLocation:
        try:
            return await open_location(self._sessions, self._secrets, location_uid)
        except LocationUnavailable as exc:
            raise invalid(str(exc)) from exc

    async def _manifest(self, backup: Backup, location: OpenLocation | None = None) -> Manifest:
        """The backup's manifest, read (and decrypted) from its location once per worker."""
        key = backup.manifest_key
        if key in self._manifests:
            self._manifests.move_to_end(key)
            return self._manifests[key]
        location = location or await self._location(backup.location_uid)
        try:
            manifest = await asyncio.to_thread(
                read_manifest, location, key, sha256=backup.manifest_digest
            )
        except ArchiveError as exc:
            raise invalid(f"backup {backup.name} cannot be restored: {exc}") from exc
        self._manifests[key] = manifest
        while len(self._manifests) > MANIFESTS_KEPT:
            self._manifests.popitem(last=False)
        return manifest

    @activity.defn
    async def restore_resources(self, input: RestoreInput) -> RestoreResult:
        """Apply a backup's objects to the target cluster in order; record each result."""
        async with self._sessions() as session:
            restore = _found(
                await session.get(Restore, input.restore_uid), f"restore {input.restore_uid}"
            )
            backup = _found(
                await session.get(Backup, restore.backup_uid), f"backup {restore.backup_uid}"
            )
            spec, cluster_uid = restore.spec, restore.cluster_uid
            # A retry leaves alone what an earlier attempt restored.
            done = _restored_keys(restore.resources) if input.retry else set()
        if not backup.manifest_key:
            raise invalid(f"backup {backup.name} has no manifest: it did not complete")
        kubeconfig = await cluster_kubeconfig(self._sessions, self._secrets, cluster_uid)
        location = await self._location(backup.location_uid)
        manifest = await self._manifest(backup, location)
        entries = plan(manifest.resources, spec, input.phase)

        beat = ThreadHeartbeat(HEARTBEAT_EVERY_SECONDS)

        def load_and_apply() -> list[dict[str, Any]]:
            if input.phase != RestorePhase.REST:
                # Before anything changes: every pack this restore will read, both phases'.
                check_packs(location, manifest, plan(manifest.resources, spec))
            objects = [transform(obj, spec) for _, obj in read_objects(location, manifest, entries)]
            objects = [o for o in objects if _object_key(o) not in done]
            results = apply_objects(
                kubeconfig,
                objects,
                replace=spec.replace,
                dry_run=input.dry_run,
                restore_uid=input.restore_uid,
                heartbeat=beat,
            )
            return [asdict(r) for r in results]

        try:
            results = await asyncio.to_thread(load_and_apply)
        except ArchiveError as exc:
            raise invalid(f"backup {backup.name} cannot be restored: {exc}") from exc
        counts = dict.fromkeys(("created", "replaced", "skipped", "failed"), 0)
        for result in results:
            counts[_COUNTED_AS[result["action"]]] += 1
        status, reason = RestoreStatus.IN_PROGRESS, ""
        async with self._sessions.begin() as session:
            row = await session.get(Restore, input.restore_uid)
            if row is not None:
                # The claims phase (and, for a retry, the earlier attempts) recorded their
                # results first: keep them, each object's newest result in its place.
                earlier = row.resources if input.phase == RestorePhase.REST or input.retry else []
                row.resources = _merged(earlier, results)
                if input.phase == RestorePhase.CLAIMS:
                    # What becomes of each volume's data, known once its claim's fate is.
                    planned = plan_volumes(
                        manifest.volumes, spec, row.resources, preview=input.dry_run
                    )
                    row.volumes = _kept_volumes(row.volumes, planned) if input.retry else planned
                else:
                    status, reason = _restore_outcome(row.resources, row.volumes)
                    row.stage, row.finished_at = Stage.DONE, utcnow()
                row.status, row.reason = status, reason
        if row is not None and input.phase != RestorePhase.CLAIMS and not input.dry_run:
            metrics.restore_finished(row)
        return RestoreResult(
            restore_uid=input.restore_uid,
            status=status,
            created=counts["created"],
            replaced=counts["replaced"],
            skipped=counts["skipped"],
            failed=counts["failed"],
        )

    @activity.defn
    async def record_restore(self, input: RecordRestoreInput) -> None:
        """A restore that could not run at all: its status and why."""
        async with self._sessions.begin() as session:
            restore = await session.get(Restore, input.restore_uid)
            if restore is not None:
                restore.status, restore.reason = input.status, input.reason
                restore.finished_at = utcnow()
                restore.volumes = [
                    {**v, "status": VolumeStatus.FAILED, "reason": f"not restored: {input.reason}"}
                    if v["status"] == VolumeStatus.PENDING
                    else v
                    for v in restore.volumes
                ]
        if restore is not None:
            metrics.restore_finished(restore)

    @activity.defn
    async def lock_restore_namespaces(self, input: RestoreInput) -> None:
        """Take the namespaces the restore writes into: wait (retried) while a backup or
        another restore holds one of them (the target cluster's row is locked meanwhile).

        While it waits, its reason says for what."""
        async with self._sessions.begin() as session:
            restore = _found(
                await session.get(Restore, input.restore_uid), f"restore {input.restore_uid}"
            )
            await session.get(Cluster, restore.cluster_uid, with_for_update=True)
            mine = await restore_targets(session, restore)
            busy = await taken_by(session, restore.cluster_uid, mine, besides=restore.uid)
            if not busy:
                restore.status, restore.reason = RestoreStatus.IN_PROGRESS, ""
                return
        async with self._sessions.begin() as session:
            waiting = await session.get(Restore, input.restore_uid)
            if waiting is not None:
                waiting.reason = f"waiting: {busy}"
        raise ApplicationError(f"{busy}; waiting", type=NAMESPACE_BUSY)

    @activity.defn
    async def volumes_to_restore(self, input: RestoreInput) -> list[RestoreVolumeInput]:
        """The backed-up volumes whose data this restore writes: those whose claim it created
        or replaced (see `plan_volumes`)."""
        async with self._sessions() as session:
            restore = await session.get(Restore, input.restore_uid)
            backup = await session.get(Backup, restore.backup_uid) if restore else None
        if restore is None or backup is None or not backup.manifest_key:
            return []
        manifest = await self._manifest(backup)
        # From the claims' recorded results, also for a restore whose claims phase ran before
        # the plan was recorded with them.
        planned = plan_volumes(manifest.volumes, restore.spec, restore.resources)
        # A retry writes only the data an earlier attempt did not restore.
        restored = {_volume_key(v) for v in restore.volumes if v["status"] in _VOLUME_DONE}
        return [
            RestoreVolumeInput(restore.uid, v["source_namespace"], v["pvc"], v["data_snapshot_id"])
            for v in planned
            if v["action"] in (VolumeAction.CREATE, VolumeAction.REPLACE)
            and not (input.retry and _volume_key(v) in restored)
        ]

    @activity.defn
    async def record_restored_volumes(self, input: RecordRestoredVolumesInput) -> RestoreResult:
        """The volumes' results, before the rest is applied (which then says how it went).

        Restores started before that order flip a Success into a PartialSuccess here.
        """
        async with self._sessions.begin() as session:
            restore = _found(
                await session.get(Restore, input.restore_uid), f"restore {input.restore_uid}"
            )
            # Each moved volume's result joins its planned entry; kept volumes stay as planned.
            results = {(v["namespace"], v["pvc"]): v for v in restore.volumes}
            for moved in input.volumes:
                key = (moved.namespace, moved.pvc)
                results[key] = {**results.get(key, {}), **vars(moved)}
            restore.volumes = list(results.values())
            failed = [v for v in input.volumes if v.status != VolumeStatus.SUCCESS]
            if failed and restore.status == RestoreStatus.SUCCESS:
                restore.status = RestoreStatus.PARTIAL_SUCCESS
                restore.reason = f"{len(failed)} of {len(input.volumes)} volumes failed"
            return RestoreResult(
                restore_uid=restore.uid, status=restore.status, reason=restore.reason
            )


Row = TypeVar("Row", Restore, Backup)
# A volume whose data needs no retry: restored, or kept.
_VOLUME_DONE = frozenset({VolumeStatus.SUCCESS, VolumeStatus.SKIPPED})


def _object_key(obj: dict[str, Any]) -> tuple[str, str | None, str]:
    meta = obj["metadata"]
    return obj["kind"], meta.get("namespace"), meta["name"]


def _result_key(result: dict[str, Any]) -> tuple[str, str | None, str]:
    return result["kind"], result["namespace"], result["name"]


def _volume_key(volume: dict[str, Any]) -> tuple[str, str]:
    return volume["namespace"], volume["pvc"]


def _restored_keys(results: list[dict[str, Any]]) -> set[tuple[str, str | None, str]]:
    """The objects an earlier attempt restored (or kept): all but the failed ones."""
    return {_result_key(r) for r in results if _COUNTED_AS[r["action"]] != "failed"}


def _merged(earlier: list[dict[str, Any]], results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The earlier results with each object's new result in its place, new objects after."""
    newest = {_result_key(r): r for r in results}
    merged = [newest.pop(_result_key(r), r) for r in earlier]
    return [*merged, *newest.values()]


def _kept_volumes(
    earlier: list[dict[str, Any]], planned: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """A retry's volume plan: the volumes restored (or kept) before stay as they were."""
    done = {_volume_key(v): v for v in earlier if v["status"] in _VOLUME_DONE}
    return [done.get(_volume_key(v), v) for v in planned]


def _found(row: Row | None, what: str) -> Row:
    """The restore or its backup; one deleted meanwhile ends the restore."""
    if row is None:
        raise ApplicationError(f"{what} is gone", type=BACKUP_NOT_FOUND)
    return row


def _restore_outcome(
    resources: list[dict[str, Any]], volumes: list[dict[str, Any]]
) -> tuple[RestoreStatus, str]:
    """A finished restore's status and reason, from every object's and volume's result."""
    failed = sum(1 for r in resources if _COUNTED_AS[r["action"]] == "failed")
    failed_volumes = sum(1 for v in volumes if v["status"] == VolumeStatus.FAILED)
    reasons = [f"{failed} of {len(resources)} objects failed"] if failed else []
    reasons += [f"{failed_volumes} of {len(volumes)} volumes failed"] if failed_volumes else []
    if failed and failed == len(resources):
        return RestoreStatus.FAILED, "; ".join(reasons)
    status = RestoreStatus.PARTIAL_SUCCESS if reasons else RestoreStatus.SUCCESS
    return status, "; ".join(reasons)


class VolumeAction(StrEnum):
    """What a restore does with a backed-up volume's data."""

    CREATE = "create"  # a new claim, filled with the backup's data
    REPLACE = "replace"  # an existing claim, replaced, its data overwritten with the backup's
    KEEP = "keep"  # an existing claim, kept (replace_policy keep), its data untouched
    NONE = "none"  # the claim could not be restored, so neither is its data


# Per claim result (as counted): the volume's action, its status, and why.
_VOLUME_OUTCOMES = {
    "created": (
        VolumeAction.CREATE, VolumeStatus.PENDING, "a new claim: filled with the backup's data"
    ),
    "replaced": (
        VolumeAction.REPLACE, VolumeStatus.PENDING,
        "the claim exists: replaced, its data overwritten with the backup's",
    ),
    "skipped": (
        VolumeAction.KEEP, VolumeStatus.SKIPPED,
        "the claim exists: kept (replace_policy keep), its data untouched",
    ),
    "failed": (VolumeAction.NONE, VolumeStatus.FAILED, "its claim could not be restored"),
}  # fmt: skip


def plan_volumes(
    manifest_volumes: list[dict[str, Any]],
    spec: RestoreSpec,
    claim_results: list[dict[str, Any]],
    *,
    preview: bool = False,
) -> list[dict[str, Any]]:
    """What the restore does with each backed-up volume's data, from what it did (or, in a
    preview, would do) with the volume's claim.

    Data is written only into a claim the restore created or replaced: a claim it kept, or
    does not bring back (its type or namespace is not restored), keeps its data.
    """
    claims = {
        (r["namespace"], r["name"]): r
        for r in claim_results
        if r["kind"] == "PersistentVolumeClaim"
    }
    planned = []
    for volume in manifest_volumes:
        if volume.get("status") != VolumeStatus.SUCCESS:
            continue  # the backup holds no data for it
        namespace = spec.target_namespace(volume["namespace"])
        claim = claims.get((namespace, volume["pvc"]))
        if claim is None:
            continue
        action, status, reason = _VOLUME_OUTCOMES[_COUNTED_AS[claim["action"]]]
        if action is VolumeAction.NONE:
            reason = f"{reason}: {claim['reason']}"
        elif preview and status == VolumeStatus.PENDING:
            status = VolumeStatus.PLANNED
        planned.append(
            {
                "namespace": namespace,
                "pvc": volume["pvc"],
                "source_namespace": volume["namespace"],
                "action": str(action),
                "status": str(status),
                "reason": reason,
                "data_snapshot_id": volume["data_snapshot_id"],
                # What it writes: the backed-up bytes; nothing when it keeps the claim's data.
                "bytes_total": 0 if action is VolumeAction.KEEP else volume["bytes_total"],
            }
        )
    return planned
