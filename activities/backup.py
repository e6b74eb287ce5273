"""Activities of the backup and restore workflows: validate, lock, export, manifest, restore."""

from __future__ import annotations

import asyncio
from dataclasses import asdict
from enum import StrEnum
from typing import Any

import kubernetes.client
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.heartbeat import ThreadHeartbeat
from activities.kube import api_client, cluster_kubeconfig, paginate
from activities.locations import LocationUnavailable, OpenLocation, open_location
from activities.resources import (
    ExportedObject,
    ExportSelection,
    RestoreSelection,
    apply_objects,
    export_resources,
    plan,
    transform,
)
from activities.rules import has_background_actions
from activities.virtual_machines import resolve_virtual_machines
from activities.volumes import prune_locked
from lifeboat import metrics
from lifeboat.archive import LAYOUT_VERSION, Sealer, backup_prefix, manifest_key
from lifeboat.catalog.models import (
    RETRY_CLAIMS,
    Backup,
    BackupLocation,
    Cluster,
    Restore,
    Share,
    utcnow,
)
from lifeboat.secrets import SecretBox
from workflows.contracts import (
    BackupInput,
    BackupPlan,
    BackupResult,
    ExportResult,
    RecordBackupInput,
    RecordRestoredVolumesInput,
    RecordRestoreInput,
    RestoreInput,
    RestoreResult,
    RestoreVolumeInput,
    StageInput,
)
from workflows.errors import BACKUP_NOT_FOUND, INVALID_BACKUP, NAMESPACE_BUSY

ACTIVE = ("Pending", "InProgress")
HEARTBEAT_EVERY_SECONDS = 2.0
# A preview says what it would do; a restore what it did: both are counted alike.
_COUNTED_AS = {
    "create": "created", "created": "created", "replace": "replaced", "replaced": "replaced",
    "skip": "skipped", "skipped": "skipped", "failed": "failed",
}  # fmt: skip


def _invalid(message: str) -> ApplicationError:
    return ApplicationError(message, type=INVALID_BACKUP, non_retryable=True)


def _index_key(location_prefix: str, backup_uid: str) -> str:
    return f"{backup_prefix(location_prefix, backup_uid)}/resources-index.json.sealed"


def _get(location: OpenLocation, key: str) -> Any:
    return Sealer(location.key).open_json(location.backend.get(key), name=key)


def _put(location: OpenLocation, key: str, value: Any) -> None:
    location.backend.put(key, Sealer(location.key).seal_json(value, name=key))


def _exists(location: OpenLocation, key: str) -> bool:
    return location.backend.exists(key)


def _resolve_namespaces(kubeconfig: dict[str, Any], spec: dict[str, Any]) -> list[str]:
    """The namespaces a backup names or selects by label; each must exist."""
    wanted = list(dict.fromkeys(spec.get("namespaces") or []))
    selector = spec.get("namespace_selector") or ""
    with api_client(kubeconfig) as client:
        core = kubernetes.client.CoreV1Api(client)
        existing = {ns.metadata.name for ns in paginate(core.list_namespace)}
        selected = (
            [ns.metadata.name for ns in paginate(core.list_namespace, label_selector=selector)]
            if selector
            else []
        )
    if missing := [n for n in wanted if n not in existing]:
        raise _invalid(f"namespaces not in the cluster: {', '.join(missing)}")
    namespaces = sorted({*wanted, *selected})
    if not namespaces:
        raise _invalid("no namespace is named or matches the namespace selector")
    return namespaces


async def _update_protected_bytes(session: AsyncSession, cluster_uid: str) -> None:
    """The cluster's protected data: the volume bytes its usable backups hold."""
    total = await session.scalar(
        select(func.coalesce(func.sum(Backup.size_bytes), 0)).where(
            Backup.cluster_uid == cluster_uid, Backup.status.in_(("Success", "PartialSuccess"))
        )
    )
    cluster = await session.get(Cluster, cluster_uid)
    if cluster is not None:
        cluster.protected_bytes = int(total or 0)


class BackupActivities:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], secrets: SecretBox) -> None:
        self._sessions = sessions
        self._secrets = secrets

    async def _backup(self, session: AsyncSession, uid: str) -> Backup:
        backup = await session.get(Backup, uid)
        if backup is None:
            raise ApplicationError(f"backup {uid} is gone", type=BACKUP_NOT_FOUND)
        return backup

    async def _location(self, location_uid: str) -> OpenLocation:
        try:
            return await open_location(self._sessions, self._secrets, location_uid)
        except LocationUnavailable as exc:
            raise _invalid(str(exc)) from exc

    @activity.defn
    async def validate_backup(self, input: BackupInput) -> BackupPlan:
        """The cluster answers, the namespaces (or VMs) exist, the location's bucket is there.

        A VM backup is resolved here into the objects it holds (only those are exported, and
        only their claims snapshotted).
        """
        async with self._sessions() as session:
            backup = await self._backup(session, input.backup_uid)
            spec = dict(backup.spec)
            cluster_uid, location_uid = backup.cluster_uid, backup.location_uid
        kubeconfig = await cluster_kubeconfig(self._sessions, self._secrets, cluster_uid)
        virtual_machines: list[str] = list(spec.get("virtual_machines") or [])
        resolved: dict[str, Any] = {}
        if virtual_machines:
            contents = await asyncio.to_thread(
                resolve_virtual_machines, kubeconfig, virtual_machines
            )
            if contents.missing:
                raise _invalid(
                    f"virtual machines not in the cluster: {', '.join(contents.missing)}"
                )
            namespaces, resolved["resolved_objects"] = contents.namespaces, contents.objects
        else:
            namespaces = await asyncio.to_thread(_resolve_namespaces, kubeconfig, spec)
        location = await self._location(location_uid)
        if not await asyncio.to_thread(location.backend.bucket_exists):
            raise _invalid(f"the bucket {location.bucket} of the backup location is gone")
        async with self._sessions.begin() as session:
            backup = await self._backup(session, input.backup_uid)
            backup.spec = {**backup.spec, "resolved_namespaces": namespaces, **resolved}
        pre_rule_uid = spec.get("pre_rule_uid") or ""
        return BackupPlan(
            pre_background=await has_background_actions(self._sessions, pre_rule_uid),
            cluster_uid=cluster_uid,
            location_uid=location_uid,
            namespaces=namespaces,
            pre_rule_uid=pre_rule_uid,
            post_rule_uid=spec.get("post_rule_uid") or "",
            volumes=bool(spec.get("volumes", True)),
            virtual_machines=virtual_machines,
            export=RETRY_CLAIMS not in spec,
        )

    @activity.defn
    async def lock_namespaces(self, input: BackupInput) -> None:
        """Take the backup's namespaces: wait (retried) while another backup holds one of them.

        The cluster row is locked while checking, so two backups cannot both take a namespace;
        and the location's row, so a backup never starts while the repository is pruned.
        """
        async with self._sessions.begin() as session:
            backup = await self._backup(session, input.backup_uid)
            await session.get(Cluster, backup.cluster_uid, with_for_update=True)
            location = await session.get(BackupLocation, backup.location_uid, with_for_update=True)
            if location is not None and prune_locked(location):
                raise ApplicationError(
                    f"the backup location is being pruned by {location.prune_holder}; waiting",
                    type=NAMESPACE_BUSY,
                )
            mine = set(backup.spec.get("resolved_namespaces") or [])
            others = await session.scalars(
                select(Backup).where(
                    Backup.cluster_uid == backup.cluster_uid,
                    Backup.status == "InProgress",
                    Backup.uid != backup.uid,
                )
            )
            for other in others:
                if busy := mine & set(other.spec.get("resolved_namespaces") or []):
                    raise ApplicationError(
                        f"namespaces {', '.join(sorted(busy))} are being backed up by "
                        f"{other.name}; waiting",
                        type=NAMESPACE_BUSY,
                    )
            backup.status, backup.started_at = "InProgress", utcnow()

    @activity.defn
    async def set_stage(self, input: StageInput) -> None:
        async with self._sessions.begin() as session:
            backup = await session.get(Backup, input.uid)
            restore = None if backup else await session.get(Restore, input.uid)
            for record in (backup, restore):
                if record is not None:
                    record.stage = input.stage

    @activity.defn
    async def export_resources(self, input: BackupInput) -> ExportResult:
        """Write the namespaces' objects to the location; only the index key goes back."""
        async with self._sessions() as session:
            backup = await self._backup(session, input.backup_uid)
            spec, cluster_uid, location_uid = (
                dict(backup.spec),
                backup.cluster_uid,
                backup.location_uid,
            )
        kubeconfig = await cluster_kubeconfig(self._sessions, self._secrets, cluster_uid)
        location = await self._location(location_uid)
        selection = ExportSelection(
            namespaces=spec["resolved_namespaces"],
            label_selector=spec.get("label_selector") or "",
            include_types=spec.get("include_types") or [],
            exclude_types=spec.get("exclude_types") or [],
            include_cluster_resources=bool(spec.get("include_cluster_resources", True)),
            objects=spec.get("resolved_objects"),
        )
        exported = await asyncio.to_thread(
            export_resources,
            kubeconfig,
            location,
            input.backup_uid,
            selection,
            ThreadHeartbeat(HEARTBEAT_EVERY_SECONDS),
        )
        key = _index_key(location.prefix, input.backup_uid)
        await asyncio.to_thread(_put, location, key, [asdict(e) for e in exported])
        return ExportResult(resource_count=len(exported), index_key=key)

    @activity.defn
    async def write_manifest(self, input: BackupInput) -> str:
        """Write the manifest once, last; a manifest already there is never rewritten."""
        async with self._sessions() as session:
            backup = await self._backup(session, input.backup_uid)
            location_uid, attempt = backup.location_uid, backup.attempt
            manifest: dict[str, Any] = {
                "layout_version": LAYOUT_VERSION,
                "backup_uid": backup.uid,
                "name": backup.name,
                "cluster_uid": backup.cluster_uid,
                "namespaces": backup.spec.get("resolved_namespaces") or [],
                "virtual_machines": backup.spec.get("virtual_machines") or [],
                "created_at": utcnow().isoformat(),
                "volumes": backup.volumes,
            }
        location = await self._location(location_uid)
        key = manifest_key(location.prefix, input.backup_uid, attempt)
        if await asyncio.to_thread(_exists, location, key):
            return key  # a retry after the write succeeded
        index = await asyncio.to_thread(
            _get, location, _index_key(location.prefix, input.backup_uid)
        )
        manifest["resources"] = index
        await asyncio.to_thread(_put, location, key, manifest)
        async with self._sessions.begin() as session:
            backup = await self._backup(session, input.backup_uid)
            backup.resources = [
                {k: e[k] for k in ("type", "namespace", "name", "status", "reason")} for e in index
            ]
            backup.resource_count = len(index)
            backup.manifest_key = key
        return key

    @activity.defn
    async def record_backup(self, input: RecordBackupInput) -> BackupResult:
        """The backup's final status, with the reason when it is not a success."""
        async with self._sessions.begin() as session:
            backup = await self._backup(session, input.backup_uid)
            # Volumes that failed, at their snapshot or their data move, in this run or an
            # earlier one that a retry did not redo: a backup missing one is not a success.
            failed = [
                f"volume {v['namespace']}/{v['pvc']}: {v['reason']}"
                for v in backup.volumes
                if v["status"] == "Failed"
            ]
            status = "PartialSuccess" if failed and input.status == "Success" else input.status
            reason = "; ".join([*failed, *([input.reason] if input.reason else [])])
            backup.status, backup.reason = status, reason
            backup.spec = {k: v for k, v in backup.spec.items() if k != RETRY_CLAIMS}
            backup.finished_at = utcnow()
            backup.stage = "Done" if status == "Success" else backup.stage
            await _update_protected_bytes(session, backup.cluster_uid)
        metrics.backup_finished(backup)
        return BackupResult(backup_uid=input.backup_uid, status=status, reason=reason)

    @activity.defn
    async def restore_resources(self, input: RestoreInput) -> RestoreResult:
        """Apply a backup's objects to the target cluster in order; record each result."""
        async with self._sessions() as session:
            restore = await session.get(Restore, input.restore_uid)
            if restore is None:
                raise ApplicationError(
                    f"restore {input.restore_uid} is gone", type=BACKUP_NOT_FOUND
                )
            backup = await self._backup(session, restore.backup_uid)
            spec, cluster_uid = dict(restore.spec), restore.cluster_uid
            location_uid, key = backup.location_uid, backup.manifest_key
        if not key:
            raise _invalid(f"backup {backup.name} has no manifest: it did not complete")
        kubeconfig = await cluster_kubeconfig(self._sessions, self._secrets, cluster_uid)
        location = await self._location(location_uid)
        manifest = await asyncio.to_thread(_get, location, key)
        selection = RestoreSelection(
            namespace_mapping=spec.get("namespace_mapping") or {},
            storage_class_mapping=spec.get("storage_class_mapping") or {},
            replace=spec.get("replace_policy") == "replace",
            include_types=spec.get("include_types") or [],
            exclude_types=spec.get("exclude_types") or [],
            include_namespaces=spec.get("include_namespaces") or [],
        )
        entries = plan([ExportedObject(**e) for e in manifest["resources"]], selection, input.phase)

        beat = ThreadHeartbeat(HEARTBEAT_EVERY_SECONDS)

        def load_and_apply() -> list[dict[str, Any]]:
            objects = [transform(_get(location, e.key), selection) for e in entries]
            results = apply_objects(
                kubeconfig,
                objects,
                replace=selection.replace,
                dry_run=input.dry_run,
                restore_uid=input.restore_uid,
                heartbeat=beat,
            )
            return [asdict(r) for r in results]

        results = await asyncio.to_thread(load_and_apply)
        counts = dict.fromkeys(("created", "replaced", "skipped", "failed"), 0)
        for result in results:
            counts[_COUNTED_AS[result["action"]]] += 1
        status, reason = "InProgress", ""
        async with self._sessions.begin() as session:
            restore = await session.get(Restore, input.restore_uid)
            if restore is not None:
                # The claims phase recorded its results first: keep them.
                earlier = restore.resources if input.phase == "rest" else []
                restore.resources = [*earlier, *results]
                if input.phase == "claims":
                    # What becomes of each volume's data, known once its claim's fate is.
                    restore.volumes = plan_volumes(
                        manifest.get("volumes") or [], spec, results, preview=input.dry_run
                    )
                else:
                    status, reason = _restore_outcome(restore.resources, restore.volumes)
                    restore.stage, restore.finished_at = "Done", utcnow()
                restore.status, restore.reason = status, reason
        if restore is not None and input.phase != "claims" and not input.dry_run:
            metrics.restore_finished(restore)
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
                    {**v, "status": "Failed", "reason": f"not restored: {input.reason}"}
                    if v["status"] == "Pending"
                    else v
                    for v in restore.volumes
                ]
        if restore is not None:
            metrics.restore_finished(restore)

    @activity.defn
    async def delete_archive(self, input: BackupInput) -> int:
        """Remove every archive object of the backup (none left is fine: a repeat)."""
        async with self._sessions() as session:
            backup = await session.get(Backup, input.backup_uid)
            if backup is None:
                return 0
            location_uid = backup.location_uid
        location = await self._location(location_uid)

        def remove() -> int:
            prefix = backup_prefix(location.prefix, input.backup_uid) + "/"
            keys = [key for key, _ in location.backend.list_objects(prefix)]
            location.backend.delete(keys)
            return len(keys)

        removed = await asyncio.to_thread(remove)
        activity.heartbeat(removed)
        return removed

    @activity.defn
    async def delete_backup_record(self, input: BackupInput) -> None:
        """Remove the backup's catalog row and its shares."""
        async with self._sessions.begin() as session:
            await session.execute(
                delete(Share).where(
                    Share.object_kind == "backups", Share.object_uid == input.backup_uid
                )
            )
            backup = await session.get(Backup, input.backup_uid)
            if backup is None:
                return
            cluster_uid = backup.cluster_uid
            await session.delete(backup)
            await session.flush()
            await _update_protected_bytes(session, cluster_uid)

    @activity.defn
    async def volumes_to_restore(self, input: RestoreInput) -> list[RestoreVolumeInput]:
        """The backed-up volumes whose data this restore writes: those whose claim it created
        or replaced (see `plan_volumes`)."""
        async with self._sessions() as session:
            restore = await session.get(Restore, input.restore_uid)
            backup = await session.get(Backup, restore.backup_uid) if restore else None
        if restore is None or backup is None or not backup.manifest_key:
            return []
        location = await self._location(backup.location_uid)
        manifest = await asyncio.to_thread(_get, location, backup.manifest_key)
        # From the claims' recorded results, also for a restore whose claims phase ran before
        # the plan was recorded with them.
        planned = plan_volumes(manifest.get("volumes") or [], restore.spec, restore.resources)
        return [
            RestoreVolumeInput(restore.uid, v["source_namespace"], v["pvc"], v["data_snapshot_id"])
            for v in planned
            if v["action"] in (VolumeAction.CREATE, VolumeAction.REPLACE)
        ]

    @activity.defn
    async def record_restored_volumes(self, input: RecordRestoredVolumesInput) -> RestoreResult:
        """The volumes' results, before the rest is applied (which then says how it went).

        Restores started before that order flip a Success into a PartialSuccess here.
        """
        async with self._sessions.begin() as session:
            restore = await session.get(Restore, input.restore_uid)
            if restore is None:
                raise ApplicationError("the restore is gone", type=BACKUP_NOT_FOUND)
            # Each moved volume's result joins its planned entry; kept volumes stay as planned.
            results = {(v["namespace"], v["pvc"]): v for v in restore.volumes}
            for moved in input.volumes:
                key = (moved.namespace, moved.pvc)
                results[key] = {**results.get(key, {}), **vars(moved)}
            restore.volumes = list(results.values())
            failed = [v for v in input.volumes if v.status != "Success"]
            if failed and restore.status == "Success":
                restore.status = "PartialSuccess"
                restore.reason = f"{len(failed)} of {len(input.volumes)} volumes failed"
            return RestoreResult(
                restore_uid=restore.uid, status=restore.status, reason=restore.reason
            )


def _restore_outcome(
    resources: list[dict[str, Any]], volumes: list[dict[str, Any]]
) -> tuple[str, str]:
    """A finished restore's status and reason, from every object's and volume's result."""
    failed = sum(1 for r in resources if _COUNTED_AS[r["action"]] == "failed")
    failed_volumes = sum(1 for v in volumes if v["status"] == "Failed")
    reasons = [f"{failed} of {len(resources)} objects failed"] if failed else []
    reasons += [f"{failed_volumes} of {len(volumes)} volumes failed"] if failed_volumes else []
    if failed and failed == len(resources):
        return "Failed", "; ".join(reasons)
    return ("PartialSuccess" if reasons else "Success"), "; ".join(reasons)


class VolumeAction(StrEnum):
    """What a restore does with a backed-up volume's data."""

    CREATE = "create"  # a new claim, filled with the backup's data
    REPLACE = "replace"  # an existing claim, replaced, its data overwritten with the backup's
    KEEP = "keep"  # an existing claim, kept (replace_policy keep), its data untouched
    NONE = "none"  # the claim could not be restored, so neither is its data


# Per claim result (as counted): the volume's action, its status, and why.
_VOLUME_OUTCOMES = {
    "created": (VolumeAction.CREATE, "Pending", "a new claim: filled with the backup's data"),
    "replaced": (
        VolumeAction.REPLACE, "Pending",
        "the claim exists: replaced, its data overwritten with the backup's",
    ),
    "skipped": (
        VolumeAction.KEEP, "Skipped",
        "the claim exists: kept (replace_policy keep), its data untouched",
    ),
    "failed": (VolumeAction.NONE, "Failed", "its claim could not be restored"),
}  # fmt: skip


def plan_volumes(
    manifest_volumes: list[dict[str, Any]],
    spec: dict[str, Any],
    claim_results: list[dict[str, Any]],
    *,
    preview: bool = False,
) -> list[dict[str, Any]]:
    """What the restore does with each backed-up volume's data, from what it did (or, in a
    preview, would do) with the volume's claim.

    Data is written only into a claim the restore created or replaced: a claim it kept, or
    does not bring back (its type or namespace is not restored), keeps its data.
    """
    mapping = spec.get("namespace_mapping") or {}
    claims = {
        (r["namespace"], r["name"]): r
        for r in claim_results
        if r["kind"] == "PersistentVolumeClaim"
    }
    planned = []
    for volume in manifest_volumes:
        if volume.get("status") != "Success":
            continue  # the backup holds no data for it
        namespace = mapping.get(volume["namespace"], volume["namespace"])
        claim = claims.get((namespace, volume["pvc"]))
        if claim is None:
            continue
        action, status, reason = _VOLUME_OUTCOMES[_COUNTED_AS[claim["action"]]]
        if action is VolumeAction.NONE:
            reason = f"{reason}: {claim['reason']}"
        elif preview and status == "Pending":
            status = "Planned"
        planned.append(
            {
                "namespace": namespace,
                "pvc": volume["pvc"],
                "source_namespace": volume["namespace"],
                "action": str(action),
                "status": status,
                "reason": reason,
                "data_snapshot_id": volume["data_snapshot_id"],
                # What it writes: the backed-up bytes; nothing when it keeps the claim's data.
                "bytes_total": 0 if action is VolumeAction.KEEP else volume["bytes_total"],
            }
        )
    return planned
