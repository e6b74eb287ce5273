"""Activities of backup verification and of the repository check.

A verification restores a backup into scratch namespaces (`lifeboat-verify-<short uid>`, one
per backed-up namespace, labelled `VERIFICATION_LABEL`), with every workload at rest
(`at_rest`), then compares each object the cluster now holds with the archived object after
the restore's mapping, and each restored volume's files with its data snapshot (the mover's
`verify`, where the mover runs). The results are recorded on the backup as they come
(`Backup.verification`); the scratch namespaces are always removed.

The verification document on a backup:
    status          InProgress | Passed | Failed | Cancelled
    reason          why it failed ('' when it passed)
    started_at, finished_at   ISO 8601
    cluster_uid     where it restored; namespaces: {backed-up namespace: scratch namespace}
    objects         {"checked", "skipped", "differing"}: counts
    volumes         per volume: namespace, pvc, status (Passed | Failed), files,
                    bytes_checked, differences (count), reason
    skipped         objects a verification does not restore, with why
    differences     up to MAX_DIFFERENCES of {"kind": object | file | volume, "namespace",
                    "name" (the object, or the claim), "path" (a field or a file), "problem"}
    differences_total   how many there were
"""

from __future__ import annotations

import asyncio
import copy
import time
from dataclasses import asdict
from functools import partial
from typing import Any

import kubernetes.client
from kubernetes.client.exceptions import ApiException
from kubernetes.dynamic.exceptions import DynamicApiError
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from activities.backup import HEARTBEAT_EVERY_SECONDS, invalid
from activities.heartbeat import ThreadHeartbeat
from activities.kube import REQUEST_TIMEOUT, api_client, cluster_kubeconfig
from activities.locations import LocationUnavailable, OpenLocation, open_location
from activities.mover.check import RepositoryReport, check_repository
from activities.mover.runners import Mover, MoverFailed, MoverHeartbeat, MoverTask
from activities.mover.store import ChunkStore
from activities.mover.verify import VerifySummary
from activities.resources import ExportedObject, apply_objects, dynamic_client, plan, transform
from activities.restore import read_manifest, read_objects
from activities.volumes import summary_of
from lifeboat import metrics
from lifeboat.archive import ArchiveError
from lifeboat.catalog.models import Backup, BackupLocation, BackupSchedule, utcnow
from lifeboat.secrets import SecretBox
from lifeboat.specs import RestoreSpec
from lifeboat.status import USABLE, VerificationStatus, VolumeStatus
from workflows.contracts import (
    FinishVerificationInput,
    RepositoryCheckInput,
    RepositoryCheckResult,
    VerificationPlan,
    VerificationResult,
    VerifyInput,
    VerifyVolumeInput,
)

VERIFICATION_LABEL = "verification.lifeboat.dev/backup-uid"
MAX_DIFFERENCES = 500
# A value shown in a difference is cut to this many characters (a Secret's never shown).
SHOWN = 120
# Kubernetes names of namespaces are at most 63 characters.
NAMESPACE_LIMIT = 63
SCRATCH_GONE_SECONDS = 600
POLL_SECONDS = 1.0
# Labels the API server sets by itself (from 1.21 on): a scratch namespace has its own name.
SERVER_SET_LABELS = frozenset({"kubernetes.io/metadata.name"})
SCALED = frozenset({"Deployment", "StatefulSet", "ReplicaSet", "ReplicationController"})


def scratch_namespaces(backup_uid: str, namespaces: list[str]) -> dict[str, str]:
    """A generated scratch namespace per backed-up namespace: `lifeboat-verify-<short uid>`,
    then `-2`, `-3`... for a backup of several namespaces."""
    short = backup_uid.split("-")[0]
    return {
        namespace: f"lifeboat-verify-{short}" + (f"-{index}" if index > 1 else "")
        for index, namespace in enumerate(sorted(namespaces), start=1)
    }


def at_rest(obj: dict[str, Any]) -> tuple[dict[str, Any] | None, str]:
    """The object as a verification restores it: no workload starts. None (with why) for an
    object it does not restore; otherwise the object and what was changed ('' if nothing)."""
    kind, spec = obj["kind"], obj.get("spec") or {}
    if kind == "Pod":
        return None, "a bare pod would start: not restored by a verification"
    obj = copy.deepcopy(obj)
    spec = obj.get("spec")
    if spec is None:
        return obj, ""
    if kind in SCALED:
        spec["replicas"] = 0
        return obj, "scaled to zero replicas"
    if kind == "Job":
        spec["parallelism"] = 0
        return obj, "parallelism 0: no pod runs"
    if kind == "CronJob":
        spec["suspend"] = True
        return obj, "suspended"
    if kind == "DaemonSet":
        pod = spec.setdefault("template", {}).setdefault("spec", {})
        pod.setdefault("nodeSelector", {})[VERIFICATION_LABEL] = "no-node-has-this"
        return obj, "selects no node"
    if kind == "VirtualMachine" and obj["apiVersion"].startswith("kubevirt.io/"):
        spec.pop("runStrategy", None)
        spec["running"] = False
        return obj, "not running"
    return obj, ""


def field_differences(expected: Any, actual: Any, path: str = "") -> list[tuple[str, Any, Any]]:
    """(field path, expected, actual) wherever `actual` lacks or changes what `expected` has.

    What the server adds (defaults, its own metadata) is not a difference: only what the
    archived object holds is compared.
    """
    if isinstance(expected, dict) and isinstance(actual, dict):
        found = []
        for key, value in expected.items():
            where = f"{path}.{key}" if path else str(key)
            if key not in actual:
                if value not in (None, {}, [], ""):
                    found.append((where, value, None))
                continue
            found += field_differences(value, actual[key], where)
        return found
    if isinstance(expected, list) and isinstance(actual, list):
        if len(expected) != len(actual):
            return [(path, f"{len(expected)} items", f"{len(actual)} items")]
        found = []
        for index, (left, right) in enumerate(zip(expected, actual, strict=True)):
            found += field_differences(left, right, f"{path}[{index}]")
        return found
    return [] if expected == actual else [(path, expected, actual)]


def compared_part(obj: dict[str, Any]) -> dict[str, Any]:
    """What of an object a verification compares: all but status, and of its metadata its
    name, namespace, labels and annotations."""
    meta = obj.get("metadata") or {}
    labels = {k: v for k, v in (meta.get("labels") or {}).items() if k not in SERVER_SET_LABELS}
    part = {k: v for k, v in obj.items() if k not in ("status", "metadata")}
    part["metadata"] = {
        "name": meta.get("name"),
        "namespace": meta.get("namespace"),
        "labels": labels,
        "annotations": meta.get("annotations") or {},
    }
    return part


def object_differences(expected: dict[str, Any], actual: dict[str, Any]) -> list[tuple[str, str]]:
    """(field, what differs) for each differing field (a Secret's values are never shown)."""
    if not actual:
        return [("", "not in the cluster after the restore")]
    secret = expected["kind"] == "Secret"
    found = []
    for where, want, got in field_differences(compared_part(expected), compared_part(actual)):
        if got is None:
            found.append((where, "missing"))
        elif secret:
            found.append((where, "differs"))
        else:
            found.append((where, f"{_shown(got)} instead of {_shown(want)}"))
    return found


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= SHOWN else f"{text[: SHOWN - 3]}..."


def archived_objects(
    location: OpenLocation, backup: Backup, spec: RestoreSpec
) -> tuple[list[ExportedObject], list[dict[str, Any]], list[dict[str, Any]]]:
    """The backup's archived objects as a restore reads them (its manifest's entries, in
    restore order, and each object after the restore's mapping), and the manifest's volumes.

    The one place a verification reads the archive: through the restore's own functions, so
    a pack or manifest changed behind Lifeboat's back is refused here as a restore refuses it.
    """
    try:
        manifest = read_manifest(location, backup.manifest_key, sha256=backup.manifest_digest)
        entries = plan(manifest.resources, spec)
        objects = [transform(obj, spec) for _, obj in read_objects(location, manifest, entries)]
    except ArchiveError as exc:
        raise invalid(f"backup {backup.name} cannot be verified: {exc}") from exc
    return entries, objects, manifest.volumes


def _problem(
    kind: str, namespace: str | None, name: str, path: str, problem: str
) -> dict[str, str]:
    return {
        "kind": kind, "namespace": namespace or "", "name": name, "path": path,
        "problem": problem,
    }  # fmt: skip


class VerificationActivities:
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], secrets: SecretBox, mover: Mover
    ) -> None:
        self._sessions = sessions
        self._secrets = secrets
        self._mover = mover

    async def _location(self, location_uid: str) -> OpenLocation:
        try:
            return await open_location(self._sessions, self._secrets, location_uid)
        except LocationUnavailable as exc:
            raise invalid(str(exc)) from exc

    async def _update(self, backup_uid: str, **changes: Any) -> dict[str, Any]:
        """Merge `changes` into the backup's verification document (locked: volumes verified
        side by side record at the same time); the document."""
        async with self._sessions.begin() as session:
            backup = await session.get(Backup, backup_uid, with_for_update=True)
            if backup is None:
                return {}
            document = dict(backup.verification or {})
            for key, value in changes.items():
                if key == "differences":
                    document["differences_total"] = document.get("differences_total", 0) + len(
                        value
                    )
                    value = [*document.get("differences", []), *value][:MAX_DIFFERENCES]
                elif key == "volumes":
                    value = [*document.get("volumes", []), *value]
                document[key] = value
            backup.verification = document
            return document

    @activity.defn
    async def begin_verification(self, input: VerifyInput) -> VerificationPlan:
        """Record a verification as started; where it restores."""
        async with self._sessions.begin() as session:
            backup = await session.get(Backup, input.backup_uid, with_for_update=True)
            if backup is None:
                raise invalid(f"backup {input.backup_uid} is gone")
            cluster_uid = input.cluster_uid or backup.cluster_uid
            namespaces = scratch_namespaces(backup.uid, backup.resolution.namespaces)
            backup.verification = {
                "status": VerificationStatus.IN_PROGRESS, "reason": "",
                "started_at": utcnow().isoformat(), "finished_at": None,
                "cluster_uid": cluster_uid, "namespaces": namespaces,
                "objects": {"checked": 0, "skipped": 0, "differing": 0}, "volumes": [],
                "skipped": [], "differences": [], "differences_total": 0,
            }  # fmt: skip
            if backup.status not in USABLE or not backup.manifest_key:
                raise invalid(
                    f"backup {backup.name} is {backup.status} without a manifest: nothing to verify"
                )
        return VerificationPlan(input.backup_uid, cluster_uid, namespaces)

    @activity.defn
    async def restore_for_verification(self, input: VerificationPlan) -> list[VerifyVolumeInput]:
        """Restore the backup's objects into the scratch namespaces, at rest, and compare each
        with its archived original; the volumes whose data to verify next."""
        async with self._sessions() as session:
            backup = await session.get(Backup, input.backup_uid)
        if backup is None:
            raise invalid(f"backup {input.backup_uid} is gone")
        kubeconfig = await cluster_kubeconfig(self._sessions, self._secrets, input.cluster_uid)
        location = await self._location(backup.location_uid)
        spec = RestoreSpec(
            namespace_mapping=input.namespaces, include_namespaces=list(input.namespaces)
        )
        beat = ThreadHeartbeat(HEARTBEAT_EVERY_SECONDS)
        scratch = set(input.namespaces.values())
        # Differences name the namespace as backed up, as the backup's own results do.
        backed_up = {scratch_name: name for name, scratch_name in input.namespaces.items()}

        def run() -> tuple[dict[str, Any], list[VerifyVolumeInput]]:
            entries, objects, volumes = archived_objects(location, backup, spec)
            chosen, skipped = [], []
            for entry, obj in zip(entries, objects, strict=True):
                namespace = obj["metadata"].get("namespace")
                if obj["kind"] != "Namespace" and namespace not in scratch:
                    skipped.append(_problem(
                        "object", entry.namespace, f"{entry.kind}/{entry.name}", "",
                        "cluster-scoped: not restored by a verification",
                    ))  # fmt: skip
                    continue
                if obj["kind"] == "Namespace":
                    obj["metadata"].setdefault("labels", {})[VERIFICATION_LABEL] = backup.uid
                rested, note = at_rest(obj)
                if rested is None:
                    skipped.append(
                        _problem("object", entry.namespace, f"{entry.kind}/{entry.name}", "", note)
                    )
                    continue
                chosen.append(rested)
            with api_client(kubeconfig) as client:
                _ensure_namespaces(client, scratch, chosen, backup.uid)
            results = apply_objects(
                kubeconfig, chosen, replace=False, dry_run=False,
                restore_uid=f"verification-{backup.uid}", heartbeat=beat,
            )  # fmt: skip
            differences, differing = [], 0
            with api_client(kubeconfig) as client, dynamic_client(client) as dyn:
                for obj, result in zip(chosen, results, strict=True):
                    meta = obj["metadata"]
                    actual = _read(dyn, obj)
                    if result.action == "failed" and not actual:
                        found = [("", f"could not be restored: {result.reason}")]
                    else:
                        # Failed only because a controller made it meanwhile (a namespace's
                        # default service account), it is compared like any other.
                        found = object_differences(obj, actual)
                    differing += bool(found)
                    differences += [
                        _problem("object", backed_up.get(meta.get("namespace") or ""),
                                 f"{obj['kind']}/{meta['name']}", where, problem)
                        for where, problem in found
                    ]  # fmt: skip
                    beat(len(differences))
            restored_claims = {
                (r.namespace, r.name)
                for r in results
                if r.kind == "PersistentVolumeClaim" and r.action != "failed"
            }
            to_verify = []
            for volume in volumes:
                if volume.get("status") != VolumeStatus.SUCCESS:
                    continue  # the backup holds no data for it
                namespace = spec.target_namespace(volume["namespace"])
                if (namespace, volume["pvc"]) not in restored_claims:
                    differences.append(_problem(
                        "volume", volume["namespace"], volume["pvc"], "",
                        "its claim was not restored, so its data could not be verified",
                    ))  # fmt: skip
                    continue
                to_verify.append(VerifyVolumeInput(
                    backup.uid, input.cluster_uid, namespace, volume["pvc"],
                    volume["data_snapshot_id"], source_namespace=volume["namespace"],
                ))  # fmt: skip
            counts = {"checked": len(chosen), "skipped": len(skipped), "differing": differing}
            return {"objects": counts, "skipped": skipped, "differences": differences}, to_verify

        changes, to_verify = await asyncio.to_thread(run)
        await self._update(input.backup_uid, **changes)
        return to_verify

    @activity.defn
    async def verify_volume(self, input: VerifyVolumeInput) -> str:
        """Restore a volume's data into its scratch claim and compare every file with the
        data snapshot, where the mover runs; the volume's status (Passed or Failed)."""
        async with self._sessions() as session:
            backup = await session.get(Backup, input.backup_uid)
        if backup is None:
            raise invalid(f"backup {input.backup_uid} is gone")
        connect = partial(cluster_kubeconfig, self._sessions, self._secrets, input.cluster_uid)
        location = await self._location(backup.location_uid)
        task = MoverTask(
            "verify", input.namespace, input.pvc, input.pvc, VERIFICATION_LABEL,
            input.backup_uid, snapshot_id=input.data_snapshot_id,
        )  # fmt: skip
        where = {"namespace": input.source_namespace, "pvc": input.pvc}
        try:
            moved = await self._mover.run(connect, task, location, MoverHeartbeat(None), None)
        except MoverFailed as exc:
            reason = str(exc)
            await self._update(
                input.backup_uid,
                volumes=[{**where, "status": VerificationStatus.FAILED, "reason": reason}],
                differences=[_problem("volume", input.source_namespace, input.pvc, "", reason)],
            )
            return VerificationStatus.FAILED
        summary = summary_of(VerifySummary, moved)
        status = (
            VerificationStatus.FAILED if summary.differences_total else (VerificationStatus.PASSED)
        )
        await self._update(
            input.backup_uid,
            volumes=[{
                **where, "status": status, "files": summary.files,
                "bytes_checked": summary.bytes_checked,
                "differences": summary.differences_total,
                "reason": f"{summary.differences_total} differences" if summary.differences_total
                else "",
            }],
            differences=[
                _problem("file", input.source_namespace, input.pvc, d["path"], d["problem"])
                for d in summary.differences
            ],
        )  # fmt: skip
        return status

    @activity.defn
    async def remove_scratch_namespaces(self, input: VerificationPlan) -> int:
        """Delete the verification's scratch namespaces (only those it labelled) and wait
        until they are gone; how many there were. Safe to repeat."""
        kubeconfig = await cluster_kubeconfig(self._sessions, self._secrets, input.cluster_uid)
        selector = f"{VERIFICATION_LABEL}={input.backup_uid}"
        beat = ThreadHeartbeat(HEARTBEAT_EVERY_SECONDS)
        return await asyncio.to_thread(
            _remove_namespaces, kubeconfig, set(input.namespaces.values()), selector, beat
        )

    @activity.defn
    async def finish_verification(self, input: FinishVerificationInput) -> VerificationResult:
        """Record the verification's end: Passed when nothing differs, else Failed (or
        Cancelled), and when (`verified_at`)."""
        async with self._sessions.begin() as session:
            backup = await session.get(Backup, input.backup_uid, with_for_update=True)
            if backup is None:
                return VerificationResult(input.backup_uid, VerificationStatus.FAILED, "gone")
            document = dict(backup.verification or {})
            total = int(document.get("differences_total", 0))
            if input.cancelled:
                status, reason = VerificationStatus.CANCELLED, input.reason or "cancelled"
            elif input.reason:
                status, reason = VerificationStatus.FAILED, input.reason
            elif total:
                status = VerificationStatus.FAILED
                reason = f"{total} differences from what the backup recorded"
            else:
                status, reason = VerificationStatus.PASSED, ""
            now = utcnow()
            document |= {"status": status, "reason": reason, "finished_at": now.isoformat()}
            backup.verification, backup.verified_at = document, now
        metrics.verification_finished(status)
        return VerificationResult(input.backup_uid, status, reason, total)

    @activity.defn
    async def verification_due(self, backup_uid: str) -> bool:
        """Whether a scheduled backup that succeeded is verified: its schedule's
        `verify_every` says every how many successful backups (0: never)."""
        async with self._sessions() as session:
            backup = await session.get(Backup, backup_uid)
            if backup is None or backup.status not in USABLE or not backup.schedule_uid:
                return False
            schedule = await session.get(BackupSchedule, backup.schedule_uid)
            every = schedule.spec.verify_every if schedule else 0
            if every <= 0:
                return False
            done = await session.scalar(
                select(func.count()).where(
                    Backup.schedule_uid == backup.schedule_uid, Backup.status.in_(USABLE)
                )
            )
        return bool(done) and int(done or 0) % every == 0

    @activity.defn
    async def check_repository(self, input: RepositoryCheckInput) -> RepositoryCheckResult:
        """Check a location's repository and record the result on the location, with the
        backups each missing or corrupt chunk affects."""
        started = utcnow()
        await self._record_check(
            input.location_uid,
            {"status": VerificationStatus.IN_PROGRESS, "started_at": started.isoformat(),
             "sample_fraction": input.sample_fraction},
        )  # fmt: skip
        location = await self._location(input.location_uid)
        store = ChunkStore(location.backend, location.prefix, location.key)
        task = asyncio.create_task(
            asyncio.to_thread(check_repository, store, input.sample_fraction)
        )
        while not task.done():
            activity.heartbeat()
            await asyncio.wait([task], timeout=10)
        report: RepositoryReport = task.result()
        async with self._sessions() as session:
            rows = await session.execute(
                select(Backup.uid, Backup.name, Backup.volumes).where(
                    Backup.location_uid == input.location_uid
                )
            )
            by_snapshot = {
                v["data_snapshot_id"]: {"uid": uid, "name": name}
                for uid, name, volumes in rows
                for v in volumes or []
                if v.get("data_snapshot_id")
            }
        problems = []
        affected: dict[str, dict[str, str]] = {}
        for problem in report.problems:
            backups = [by_snapshot[s] for s in problem.snapshots if s in by_snapshot]
            affected |= {b["uid"]: b for b in backups}
            problems.append({**asdict(problem), "backups": backups})
        for unreadable in report.unreadable_snapshots:
            if backup := by_snapshot.get(unreadable["snapshot"]):
                affected[backup["uid"]] = backup
        count = len(problems) + len(report.unreadable_snapshots)
        status = VerificationStatus.FAILED if count else VerificationStatus.PASSED
        reason = (
            f"{len(problems)} chunks missing or corrupt, {len(report.unreadable_snapshots)} "
            f"snapshots unreadable; {len(affected)} backups affected"
            if count
            else ""
        )
        await self._record_check(
            input.location_uid,
            {
                "status": status, "reason": reason, "started_at": started.isoformat(),
                "finished_at": utcnow().isoformat(), "sample_fraction": input.sample_fraction,
                "snapshots": report.snapshots, "chunks": report.chunks,
                "chunks_sampled": report.chunks_sampled, "bytes_sampled": report.bytes_sampled,
                "problems": problems[:MAX_DIFFERENCES],
                "problems_total": len(problems),
                "unreadable_snapshots": report.unreadable_snapshots,
                "backups_affected": sorted(affected.values(), key=lambda b: b["name"]),
            },
        )  # fmt: skip
        return RepositoryCheckResult(input.location_uid, status, reason, count)

    @activity.defn
    async def record_repository_check(self, input: RepositoryCheckResult) -> None:
        """A repository check that could not run to its end: Failed, and why."""
        async with self._sessions() as session:
            row = await session.get(BackupLocation, input.location_uid)
            document = dict(row.repository_check or {}) if row else {}
        await self._record_check(
            input.location_uid,
            {**document, "status": input.status, "reason": input.reason,
             "finished_at": utcnow().isoformat()},
        )  # fmt: skip

    async def _record_check(self, location_uid: str, document: dict[str, Any]) -> None:
        async with self._sessions.begin() as session:
            row = await session.get(BackupLocation, location_uid)
            if row is not None:
                row.repository_check = document


def _read(dyn: Any, obj: dict[str, Any]) -> dict[str, Any]:
    resource = dyn.resources.get(api_version=obj["apiVersion"], kind=obj["kind"])
    meta = obj["metadata"]
    namespace = meta.get("namespace") if resource.namespaced else None
    try:
        found: dict[str, Any] = resource.get(name=meta["name"], namespace=namespace).to_dict()
    except DynamicApiError as exc:
        if exc.status != 404:
            raise
        return {}
    return found


def _ensure_namespaces(
    client: kubernetes.client.ApiClient,
    scratch: set[str],
    objects: list[dict[str, Any]],
    backup_uid: str,
) -> None:
    """Create the scratch namespaces the backup holds no Namespace object for; refuse to use
    a namespace of that name that is not this verification's."""
    core: Any = kubernetes.client.CoreV1Api(client)
    archived = {o["metadata"]["name"] for o in objects if o["kind"] == "Namespace"}
    for name in sorted(scratch):
        try:
            found = core.read_namespace(name, _request_timeout=REQUEST_TIMEOUT)
        except ApiException as exc:
            if exc.status != 404:
                raise
            found = None
        if found is not None:
            if (found.metadata.labels or {}).get(VERIFICATION_LABEL) != backup_uid:
                raise invalid(
                    f"namespace {name} exists and is not this verification's scratch "
                    "namespace: delete or rename it, or verify into another cluster"
                )
            continue
        if name not in archived:
            body = {"metadata": {"name": name, "labels": {VERIFICATION_LABEL: backup_uid}}}
            core.create_namespace(body, _request_timeout=REQUEST_TIMEOUT)


def _remove_namespaces(
    kubeconfig: dict[str, Any], names: set[str], selector: str, beat: ThreadHeartbeat
) -> int:
    with api_client(kubeconfig) as client:
        core: Any = kubernetes.client.CoreV1Api(client)
        ours = [
            ns.metadata.name
            for ns in core.list_namespace(
                label_selector=selector, _request_timeout=REQUEST_TIMEOUT
            ).items
            if ns.metadata.name in names
        ]
        for name in ours:
            try:
                core.delete_namespace(name, _request_timeout=REQUEST_TIMEOUT)
            except ApiException as exc:
                if exc.status != 404:
                    raise
        deadline = time.monotonic() + SCRATCH_GONE_SECONDS
        while True:
            left = core.list_namespace(label_selector=selector, _request_timeout=REQUEST_TIMEOUT)
            if not [ns for ns in left.items if ns.metadata.name in names]:
                return len(ours)
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"scratch namespaces {', '.join(sorted(names))} still being deleted after "
                    f"{SCRATCH_GONE_SECONDS}s"
                )
            beat(len(ours))
            time.sleep(POLL_SECONDS)
