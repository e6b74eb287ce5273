"""Activities of the backup and deletion workflows: validate, lock, export, manifest, record,
and delete the archive and the record."""

from __future__ import annotations

import asyncio
from dataclasses import asdict, replace
from datetime import datetime
from typing import Any

import kubernetes.client
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.heartbeat import ThreadHeartbeat
from activities.kube import api_client, cluster_kubeconfig, paginate
from activities.locations import LocationUnavailable, OpenLocation, open_location
from activities.namespace_locks import taken_by
from activities.resources import ExportSelection, export_resources
from activities.rules import has_background_actions
from activities.virtual_machines import resolve_virtual_machines
from activities.volumes import prune_locked
from lifeboat import metrics
from lifeboat.archive import (
    LAYOUT_VERSION,
    LAYOUT_VERSIONS,
    Sealer,
    backup_prefix,
    digest,
    index_key,
    manifest_key,
)
from lifeboat.catalog.models import (
    Backup,
    BackupLocation,
    BackupSchedule,
    Cluster,
    SchedulePolicy,
    Share,
    utcnow,
)
from lifeboat.immutability import lock_until
from lifeboat.policies import SchedulePolicySpec
from lifeboat.secrets import SecretBox
from lifeboat.specs import BackupSpec
from lifeboat.status import USABLE, BackupStatus, Stage, VolumeStatus
from workflows.contracts import (
    BackupInput,
    BackupPlan,
    BackupResult,
    ExportResult,
    RecordBackupInput,
)
from workflows.errors import BACKUP_NOT_FOUND, INVALID_BACKUP, NAMESPACE_BUSY

HEARTBEAT_EVERY_SECONDS = 2.0


def invalid(message: str) -> ApplicationError:
    """A backup (or restore) that cannot run as asked: the workflow fails, saying why."""
    return ApplicationError(message, type=INVALID_BACKUP, non_retryable=True)


def read_sealed(location: OpenLocation, key: str) -> Any:
    """An archive object of the location, decrypted and parsed."""
    return Sealer(location.key).open_json(location.backend.get(key), name=key)


def _put(location: OpenLocation, key: str, value: Any) -> str:
    """Seal and store a document; the SHA-256 of what was stored."""
    blob = Sealer(location.key).seal_json(value, name=key)
    location.backend.put(key, blob)
    return digest(blob)


def _exists(location: OpenLocation, key: str) -> bool:
    return location.backend.exists(key)


def _read_index(location: OpenLocation, backup_uid: str) -> tuple[int, Any]:
    """The layout version of a backup's export and its index (version 1: a list of objects)."""
    key = index_key(location.prefix, backup_uid)
    if _exists(location, key):
        return LAYOUT_VERSION, read_sealed(location, key)
    return 1, read_sealed(location, index_key(location.prefix, backup_uid, 1))


def _resolve_namespaces(kubeconfig: dict[str, Any], spec: BackupSpec) -> list[str]:
    """The namespaces a backup names or selects by label; each must exist."""
    wanted = list(dict.fromkeys(spec.namespaces))
    selector = spec.namespace_selector
    with api_client(kubeconfig) as client:
        core = kubernetes.client.CoreV1Api(client)
        existing = {ns.metadata.name for ns in paginate(core.list_namespace)}
        selected = (
            [ns.metadata.name for ns in paginate(core.list_namespace, label_selector=selector)]
            if selector
            else []
        )
    if missing := [n for n in wanted if n not in existing]:
        raise invalid(f"namespaces not in the cluster: {', '.join(missing)}")
    namespaces = sorted({*wanted, *selected})
    if not namespaces:
        raise invalid("no namespace is named or matches the namespace selector")
    return namespaces


async def backup_lock(session: AsyncSession, backup: Backup) -> datetime | None:
    """Until when an immutable location locks the backup's objects (None: not immutable):
    as long as its schedule's policy may keep it, or the location's default on demand."""
    location = await session.get(BackupLocation, backup.location_uid)
    if location is None or not location.immutability_mode:
        return None
    policy: SchedulePolicySpec | None = None
    if backup.schedule_uid:
        schedule = await session.get(BackupSchedule, backup.schedule_uid)
        row = await session.get(SchedulePolicy, schedule.policy_uid) if schedule else None
        policy = row.spec if row is not None else None
    return lock_until(backup.created_at, policy, location.immutability_days)


async def _update_protected_bytes(session: AsyncSession, cluster_uid: str) -> None:
    """The cluster's protected data: the volume bytes its usable backups hold."""
    total = await session.scalar(
        select(func.coalesce(func.sum(Backup.size_bytes), 0)).where(
            Backup.cluster_uid == cluster_uid, Backup.status.in_(USABLE)
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

    async def _location(
        self, location_uid: str, *, retain_until: datetime | None = None
    ) -> OpenLocation:
        try:
            return await open_location(
                self._sessions, self._secrets, location_uid, retain_until=retain_until
            )
        except LocationUnavailable as exc:
            raise invalid(str(exc)) from exc

    @activity.defn
    async def validate_backup(self, input: BackupInput) -> BackupPlan:
        """The cluster answers, the namespaces (or VMs) exist, the location's bucket is there.

        A VM backup is resolved here into the objects it holds (only those are exported, and
        only their claims snapshotted).
        """
        async with self._sessions() as session:
            backup = await self._backup(session, input.backup_uid)
            spec, resolution = backup.spec, backup.resolution
            cluster_uid, location_uid = backup.cluster_uid, backup.location_uid
        kubeconfig = await cluster_kubeconfig(self._sessions, self._secrets, cluster_uid)
        if spec.virtual_machines:
            contents = await asyncio.to_thread(
                resolve_virtual_machines, kubeconfig, spec.virtual_machines
            )
            if contents.missing:
                raise invalid(f"virtual machines not in the cluster: {', '.join(contents.missing)}")
            resolution = replace(
                resolution,
                namespaces=contents.namespaces,
                objects=[(kind, ns, name) for kind, ns, name in contents.objects],
            )
        else:
            namespaces = await asyncio.to_thread(_resolve_namespaces, kubeconfig, spec)
            resolution = replace(resolution, namespaces=namespaces)
        location = await self._location(location_uid)
        if not await asyncio.to_thread(location.backend.bucket_exists):
            raise invalid(f"the bucket {location.bucket} of the backup location is gone")
        async with self._sessions.begin() as session:
            backup = await self._backup(session, input.backup_uid)
            backup.resolution = resolution
            if backup.locked_until is None:
                backup.locked_until = await backup_lock(session, backup)
        return BackupPlan(
            pre_background=await has_background_actions(self._sessions, spec.pre_rule_uid),
            cluster_uid=cluster_uid,
            location_uid=location_uid,
            namespaces=resolution.namespaces,
            pre_rule_uid=spec.pre_rule_uid,
            post_rule_uid=spec.post_rule_uid,
            volumes=spec.volumes,
            virtual_machines=spec.virtual_machines,
            export=resolution.retry_claims is None,
        )

    @activity.defn
    async def lock_namespaces(self, input: BackupInput) -> None:
        """Take the backup's namespaces: wait (retried) while another backup, or a restore,
        holds one of them.

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
            mine = set(backup.resolution.namespaces)
            if busy := await taken_by(session, backup.cluster_uid, mine, besides=backup.uid):
                raise ApplicationError(f"{busy}; waiting", type=NAMESPACE_BUSY)
            backup.status, backup.started_at = BackupStatus.IN_PROGRESS, utcnow()

    @activity.defn
    async def export_resources(self, input: BackupInput) -> ExportResult:
        """Write the namespaces' objects to the location; only the index key goes back."""
        async with self._sessions() as session:
            backup = await self._backup(session, input.backup_uid)
            selection = ExportSelection(backup.spec, backup.resolution)
            cluster_uid, location_uid = backup.cluster_uid, backup.location_uid
            locked_until = backup.locked_until
        kubeconfig = await cluster_kubeconfig(self._sessions, self._secrets, cluster_uid)
        location = await self._location(location_uid, retain_until=locked_until)
        exported = await asyncio.to_thread(
            export_resources,
            kubeconfig,
            location,
            input.backup_uid,
            selection,
            ThreadHeartbeat(HEARTBEAT_EVERY_SECONDS),
        )
        key = index_key(location.prefix, input.backup_uid)
        index = {
            "packs": [asdict(p) for p in exported.packs],
            "resources": [asdict(e) for e in exported.objects],
        }
        await asyncio.to_thread(_put, location, key, index)
        return ExportResult(resource_count=len(exported.objects), index_key=key)

    @activity.defn
    async def write_manifest(self, input: BackupInput) -> str:
        """Write the manifest once, last; a manifest already there is never rewritten."""
        async with self._sessions() as session:
            backup = await self._backup(session, input.backup_uid)
            location_uid, attempt = backup.location_uid, backup.attempt
            locked_until = backup.locked_until
            manifest: dict[str, Any] = {
                "backup_uid": backup.uid,
                "name": backup.name,
                "cluster_uid": backup.cluster_uid,
                "namespaces": backup.resolution.namespaces,
                "virtual_machines": backup.spec.virtual_machines,
                "created_at": utcnow().isoformat(),
                "volumes": backup.volumes,
            }
        location = await self._location(location_uid, retain_until=locked_until)
        # A backup exported before packs and retried since keeps its layout (version 1).
        version, index = await asyncio.to_thread(_read_index, location, input.backup_uid)
        key = manifest_key(location.prefix, input.backup_uid, attempt, version)
        if await asyncio.to_thread(_exists, location, key):
            # A retry after the write succeeded: the manifest as stored is the one to keep.
            sealed = digest(await asyncio.to_thread(location.backend.get, key))
        else:
            manifest["layout_version"] = version
            if version == 1:
                manifest["resources"] = index
            else:
                manifest["packs"], manifest["resources"] = index["packs"], index["resources"]
            sealed = await asyncio.to_thread(_put, location, key, manifest)
        resources = index if version == 1 else index["resources"]
        async with self._sessions.begin() as session:
            backup = await self._backup(session, input.backup_uid)
            backup.resources = [
                {k: e[k] for k in ("type", "namespace", "name", "status", "reason")}
                for e in resources
            ]
            backup.resource_count = len(resources)
            backup.manifest_key, backup.manifest_digest = key, sealed
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
                if v["status"] == VolumeStatus.FAILED
            ]
            status = input.status
            if failed and status == BackupStatus.SUCCESS:
                status = BackupStatus.PARTIAL_SUCCESS
            reason = "; ".join([*failed, *([input.reason] if input.reason else [])])
            backup.status, backup.reason = status, reason
            backup.resolution = replace(backup.resolution, retry_claims=None)
            backup.finished_at = utcnow()
            backup.stage = Stage.DONE if status == BackupStatus.SUCCESS else backup.stage
            await _update_protected_bytes(session, backup.cluster_uid)
        metrics.backup_finished(backup)
        return BackupResult(backup_uid=input.backup_uid, status=status, reason=reason)

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
            keys = [
                key
                for version in LAYOUT_VERSIONS
                for key, _ in location.backend.list_objects(
                    backup_prefix(location.prefix, input.backup_uid, version) + "/"
                )
            ]
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
