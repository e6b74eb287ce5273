"""Backups: All Backups lists the caller's own backups and those shared with them.

A backup is shared directly, or through a share of its cluster by the backup's owner ("share
cluster backups" shares only the sharer's own backups of that cluster).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, status
from pydantic import BaseModel, Field, field_validator
from sqlalchemy import ColumnElement, select
from temporalio.client import Client
from temporalio.common import (
    WorkflowIDConflictPolicy,
)

from api.authz import Access, Authorize, AuthzContext
from api.crud import (
    PageDep,
    active_cluster,
    last_run_closed,
    list_page,
    restore_target,
    save_named,
)
from api.deps import StateDep, TemporalDep
from api.errors import Conflict, Forbidden, Unprocessable
from api.routes.licenses import check_backups_allowed
from api.schemas import Accepted, Labels, ListOf, Name, ObjectRead, Text, Uid
from lifeboat.catalog.models import (
    Backup,
    BackupLocation,
    CatalogObject,
    Cluster,
    Restore,
    Rule,
    utcnow,
)
from lifeboat.immutability import lock_refusal
from lifeboat.rbac.access import AccessLevel, Use, may_serve_cluster
from lifeboat.rbac.matrix import Action, Kind
from lifeboat.specs import BackupSpec
from lifeboat.status import (
    RESTORE_RUNNING,
    RUNNING,
    USABLE,
    BackupStatus,
    Stage,
    VerificationStatus,
    VolumeStatus,
)
from lifeboat.virtual_machines import VirtualMachineRef
from workflows.backup import BackupWorkflow
from workflows.contracts import BackupInput, VerifyInput
from workflows.deletion import DeletionWorkflow
from workflows.ids import (
    backup_workflow_id,
    deletion_workflow_id,
    search_attributes,
    verification_workflow_id,
)
from workflows.verification import VerifyBackupWorkflow

router = APIRouter(prefix="/backups", tags=["backups"])

CreateBackup = Annotated[AuthzContext, Depends(Authorize(Kind.BACKUPS, Action.CREATE))]
ViewBackup = Annotated[AuthzContext, Depends(Authorize(Kind.BACKUPS, Action.VIEW))]
DeleteBackup = Annotated[AuthzContext, Depends(Authorize(Kind.BACKUPS, Action.DELETE))]
EditBackup = Annotated[AuthzContext, Depends(Authorize(Kind.BACKUPS, Action.EDIT))]
# Who may restore may verify: a verification is a restore into scratch namespaces.
VerifyBackup = Annotated[AuthzContext, Depends(Authorize(Kind.RESTORES, Action.CREATE))]


class BackupCreate(BaseModel):
    cluster_uid: Uid
    location_uid: Uid
    name: Name | None = Field(default=None, description="Default: <cluster>-<yyyymmddhhmmss>")
    namespaces: list[Text] = Field(default_factory=list, max_length=500)
    namespace_selector: Text = Field(default="", max_length=1000)
    label_selector: Text = Field(default="", max_length=1000)
    include_types: list[Text] = Field(default_factory=list, max_length=200)
    exclude_types: list[Text] = Field(default_factory=list, max_length=200)
    include_cluster_resources: bool = Field(default=True, strict=True)
    pre_rule_uid: Uid | None = None
    post_rule_uid: Uid | None = None
    volumes: bool = Field(default=True, strict=True)
    virtual_machines: list[VirtualMachineRef] = Field(
        default_factory=list,
        max_length=100,
        description="A VM backup (classic mode), instead of namespaces: each VM, its "
        "DataVolumes, claims, and the Secrets and ConfigMaps it uses, frozen around the snapshots",
    )
    labels: Labels = Field(default_factory=dict)

    def spec(self) -> BackupSpec:
        """The request, validated, as the backup stores it (without where and its name)."""
        return BackupSpec.from_json(self.model_dump())


class LastVerification(BaseModel):
    """A backup's last verification, in short."""

    status: VerificationStatus = Field(
        description="InProgress, Passed (everything compared equal), Failed (differences, "
        "or it could not run to its end: see reason), Cancelled"
    )
    reason: str = ""
    started_at: datetime | None = None
    finished_at: datetime | None = None
    differences_total: int = 0


class VerificationRead(LastVerification):
    """A backup's last verification in full: where it restored, what it compared, and each
    difference found."""

    cluster_uid: str = ""
    namespaces: dict[str, str] = Field(
        default_factory=dict, description="Each backed-up namespace and its scratch namespace"
    )
    objects: dict[str, int] = Field(
        default_factory=dict, description="Objects `checked`, `skipped`, `differing`"
    )
    volumes: list[dict[str, Any]] = Field(
        default_factory=list,
        description="Per volume: `namespace`, `pvc`, `status` (Passed or Failed), `files`, "
        "`bytes_checked`, `differences` (how many), `reason`",
    )
    skipped: list[dict[str, str]] = Field(
        default_factory=list,
        description="Objects a verification does not restore (cluster-scoped ones, bare "
        "pods), with why",
    )
    differences: list[dict[str, str]] = Field(
        default_factory=list,
        description="Up to 500 of: `kind` (object, file or volume), `namespace` (as backed "
        "up), `name` (`<Kind>/<name>` of an object, or the claim), `path` (the object's field "
        "or the file), `problem`",
    )


class BackupRead(ObjectRead):
    cluster_uid: str
    location_uid: str
    schedule_uid: str | None
    status: BackupStatus
    stage: Stage
    reason: str
    resource_count: int
    volume_count: int
    size_bytes: int
    attempt: int = Field(description="1, then one more per retry of its failed parts")
    started_at: datetime | None
    finished_at: datetime | None
    locked_until: datetime | None = Field(
        default=None,
        description="On an immutable location: nobody can delete the backup before then "
        "(its objects are under S3 Object Lock until then)",
    )
    verified_at: datetime | None = Field(default=None, description="When it was last verified")
    verification: LastVerification | None = Field(
        default=None, description="Its last verification; none if it was never verified"
    )

    @field_validator("verification", mode="before")
    @classmethod
    def _never_verified(cls, value: Any) -> Any:
        return value or None


class Progress(BaseModel):
    bytes_done: int = 0
    bytes_total: int = 0
    volumes_moving: int = 0


class BackupDetail(BackupRead):
    verification: VerificationRead | None = Field(
        default=None, description="Its last verification in full; none if never verified"
    )
    progress: Progress | None = None
    resources: list[dict[str, Any]]
    volumes: list[dict[str, Any]]
    access: AccessLevel = Field(
        description="How far the caller may go with it: view, restore, full, or owner "
        "(its owner, or a super admin)"
    )


def check_what_to_back_up(body: BackupCreate, access: Access) -> None:
    """Namespaces, or virtual machines where the mode offers them (the guard: 404 if not).

    Whether each VM exists is checked by the backup's validate step, on the cluster itself.
    """
    if body.virtual_machines:
        access.for_kind(Kind.VIRTUAL_MACHINES, Action.VIEW)
        if body.namespaces or body.namespace_selector:
            raise Unprocessable(
                "back up either virtual machines or namespaces, not both: a namespace's "
                "backup holds its VMs",
                field="virtual_machines",
            )
    elif not body.namespaces and not body.namespace_selector:
        raise Unprocessable(
            "name namespaces, give a namespace_selector, or name virtual_machines",
            field="namespaces",
        )


async def check_backup_parts(body: BackupCreate, ctx: AuthzContext) -> tuple[Cluster, str]:
    """What a backup (on demand or scheduled) needs: its cluster and location uid.

    The caller backs up a cluster it owns or holds full access to, into a location and with
    rules it may use; in a cluster it does not own, the location and rules must be the
    cluster owner's (its data stays in its owner's buckets, and only its owner's commands
    run in its pods).
    """
    check_what_to_back_up(body, ctx)
    cluster = await active_cluster(ctx, body.cluster_uid, to=Use.BACK_UP)
    location = await ctx.for_kind(Kind.BACKUP_LOCATIONS, Action.VIEW).load(
        BackupLocation, body.location_uid
    )
    parts: list[tuple[str, str, CatalogObject]] = [("location_uid", "backup location", location)]
    for field in ("pre_rule_uid", "post_rule_uid"):
        if rule_uid := getattr(body, field):
            rule = await ctx.for_kind(Kind.RULES, Action.VIEW).load(Rule, rule_uid)
            parts.append((field, "rule", rule))
    for field, noun, part in parts:
        if not may_serve_cluster(ctx.caller, cluster.owner_id, part.owner_id):
            raise Forbidden(
                f"cluster {cluster.name} is not yours: a backup of it may use only its "
                f"owner's {noun}s, and {noun} {part.name} is not one; ask its owner to "
                f"share one of theirs",
                field=field,
            )
    return cluster, location.uid


@router.post("", status_code=status.HTTP_201_CREATED)
async def start_backup(
    body: BackupCreate, ctx: CreateBackup, state: StateDep, temporal: TemporalDep
) -> BackupRead:
    """Back up namespaces or VMs of a cluster the caller may back up, to a location it may use
    (402 while the license stops new backups)."""
    cluster, location_uid = await check_backup_parts(body, ctx)
    await check_backups_allowed(ctx, state)
    # Read before any rollback of a name clash expires the loaded objects.
    cluster_uid, cluster_name = cluster.uid, cluster.name
    backup = await save_named(
        ctx,
        lambda name: Backup(
            name=name,
            labels=body.labels,
            owner_id=ctx.caller.subject,
            cluster_uid=cluster_uid,
            location_uid=location_uid,
            spec=body.spec(),
        ),
        body.name,
        default=f"{cluster_name}-{utcnow():%Y%m%d%H%M%S}",
    )
    try:
        await _start(temporal, backup, ctx)
    except Exception:
        # A backup whose workflow never started would stay Pending forever: remove it.
        await ctx.session.delete(backup)
        await ctx.session.commit()
        raise
    return BackupRead.model_validate(backup)


async def _start(temporal: Client, backup: Backup, ctx: AuthzContext) -> None:
    await temporal.start_workflow(
        BackupWorkflow.run,
        BackupInput(backup_uid=backup.uid),
        id=backup_workflow_id(backup.uid),
        task_queue=ctx.settings.task_queue,
        search_attributes=search_attributes(
            owner=backup.owner_id, cluster=backup.cluster_uid, kind="backup"
        ),
    )


@router.post("/{uid}/cancel", status_code=status.HTTP_202_ACCEPTED)
async def cancel_backup(uid: Uid, ctx: EditBackup, temporal: TemporalDep) -> Accepted:
    """Cancel a running backup: post rules still run and its snapshots are removed."""
    backup = await ctx.load(Backup, uid)
    if backup.status not in RUNNING:
        raise Conflict(f"backup {backup.name} is {backup.status}: nothing to cancel")
    await temporal.get_workflow_handle(backup_workflow_id(uid)).cancel()
    return Accepted(message=f"cancelling backup {backup.name}")


@router.post("/{uid}/retry", status_code=status.HTTP_202_ACCEPTED)
async def retry_backup(
    uid: Uid, ctx: EditBackup, state: StateDep, temporal: TemporalDep
) -> Accepted:
    """Run again only what failed, under the same name and uid (402 while the license stops
    new backups).

    A PartialSuccess redoes its failed volumes (new snapshots, then their data; the resources
    and the volumes that succeeded are kept) and writes a new manifest. A Failed or Aborted
    backup, which has no manifest, runs again from the start.
    """
    backup = await ctx.load(Backup, uid)
    await ensure_idle(ctx, backup)
    await last_run_closed(temporal, backup_workflow_id(uid), what=f"backup {backup.name}")
    # A retry runs the backup's rules in its cluster again.
    cluster = await active_cluster(ctx, backup.cluster_uid, to=Use.BACK_UP)
    if backup.status in (BackupStatus.SUCCESS, BackupStatus.DELETING):
        raise Conflict(f"backup {backup.name} is {backup.status}: nothing to retry")
    await check_backups_allowed(ctx, state)
    failed = [
        (v["namespace"], v["pvc"]) for v in backup.volumes if v["status"] == VolumeStatus.FAILED
    ]
    retry_claims: list[tuple[str, str]] | None = None
    if backup.status == BackupStatus.PARTIAL_SUCCESS and backup.manifest_key:
        if not failed:
            raise Conflict(
                f"backup {backup.name} has no failed volume to redo ({backup.reason}): "
                "take a new backup"
            )
        retry_claims = failed
        what = f"{len(failed)} failed volume(s)"
    else:
        backup.volumes, backup.resources = [], []
        backup.manifest_key = backup.manifest_digest = ""
        backup.resource_count = backup.volume_count = backup.size_bytes = 0
        what = "the whole backup"
    backup.resolution = replace(backup.resolution, retry_claims=retry_claims)
    backup.attempt += 1
    backup.status, backup.stage, backup.reason = BackupStatus.PENDING, Stage.NOT_STARTED, ""
    backup.started_at = backup.finished_at = None
    name = backup.name
    await ctx.session.commit()
    await _start(temporal, backup, ctx)
    return Accepted(message=f"retrying {what} of backup {name} on cluster {cluster.name}")


async def ensure_idle(ctx: AuthzContext, backup: Backup) -> None:
    """Not running, and no restore reads it (a deletion may be asked again: it is safe)."""
    if backup.status in RUNNING:
        raise Conflict(f"backup {backup.name} is {backup.status}: cancel it first")
    restoring = await ctx.session.scalar(
        select(Restore.name).where(
            Restore.backup_uid == backup.uid,
            Restore.status.in_(RESTORE_RUNNING),
        )
    )
    if restoring:
        raise Conflict(f"restore {restoring} is reading backup {backup.name}: wait for it")
    if (backup.verification or {}).get("status") == VerificationStatus.IN_PROGRESS:
        raise Conflict(f"a verification is reading backup {backup.name}: wait for it")


class VerifyRequest(BaseModel):
    cluster_uid: Uid | None = Field(
        default=None,
        description="Where the scratch namespaces go; the backup's own cluster if unset",
    )


@router.post("/{uid}/verify", status_code=status.HTTP_202_ACCEPTED)
async def verify_backup(
    uid: Uid, ctx: VerifyBackup, temporal: TemporalDep, body: VerifyRequest | None = None
) -> Accepted:
    """Verify a backup: restore it into scratch namespaces (`lifeboat-verify-<short uid>`)
    with every workload at rest, compare every object and every file with what the backup
    recorded, then remove the scratch namespaces. The result is the backup's `verification`.

    Needs what a restore of the backup into that cluster needs (409 while one runs).
    """
    body = body or VerifyRequest()
    backup = await ctx.for_kind(Kind.BACKUPS, Action.VIEW).load(Backup, uid, to=Use.RESTORE)
    if backup.status not in USABLE or not backup.manifest_key:
        raise Conflict(f"backup {backup.name} is {backup.status}: only a finished backup verifies")
    target = await restore_target(ctx, backup, body.cluster_uid, verb="verify it in")
    await temporal.start_workflow(
        VerifyBackupWorkflow.run,
        VerifyInput(backup.uid, target.uid),
        id=verification_workflow_id(backup.uid),
        task_queue=ctx.settings.task_queue,
        search_attributes=search_attributes(
            owner=backup.owner_id, cluster=target.uid, kind="verification"
        ),
    )
    return Accepted(message=f"verifying backup {backup.name} in cluster {target.name}")


@router.delete("/{uid}", status_code=status.HTTP_202_ACCEPTED)
async def delete_backup(uid: Uid, ctx: DeleteBackup, temporal: TemporalDep) -> Accepted:
    """Delete a backup: archive objects, then the catalog row (a workflow; safe to repeat)."""
    backup = await ctx.load(Backup, uid)
    await ensure_idle(ctx, backup)
    if refusal := lock_refusal(backup.name, backup.locked_until, datetime.now(UTC)):
        raise Conflict(refusal)
    backup.status = BackupStatus.DELETING
    await ctx.session.commit()
    await start_deletion(temporal, backup, ctx)
    return Accepted(message=f"deleting backup {backup.name}")


async def start_deletion(temporal: Client, backup: Backup, ctx: AuthzContext) -> None:
    """Start the deletion workflow of a backup marked Deleting (a repeat joins the running one)."""
    await temporal.start_workflow(
        DeletionWorkflow.run,
        BackupInput(backup_uid=backup.uid),
        id=deletion_workflow_id(backup.uid),
        task_queue=ctx.settings.task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        search_attributes=search_attributes(
            owner=backup.owner_id, cluster=backup.cluster_uid, kind="backup-deletion"
        ),
    )


class BackupFilters:
    """What All Backups can be narrowed to (with the filters of every list)."""

    def __init__(
        self,
        cluster_uid: Annotated[Uid | None, Query()] = None,
        status: Annotated[BackupStatus | None, Query()] = None,
        schedule_uid: Annotated[Uid | None, Query()] = None,
    ) -> None:
        self.cluster_uid, self.status, self.schedule_uid = cluster_uid, status, schedule_uid

    def conditions(self) -> list[ColumnElement[bool]]:
        found = []
        if self.cluster_uid:
            found.append(Backup.cluster_uid == self.cluster_uid)
        if self.status:
            found.append(Backup.status == self.status)
        if self.schedule_uid:
            found.append(Backup.schedule_uid == self.schedule_uid)
        return found


BackupFiltersDep = Annotated[BackupFilters, Depends()]


@router.get("")
async def list_backups(
    ctx: ViewBackup, page: PageDep, filters: BackupFiltersDep
) -> ListOf[BackupRead]:
    """All Backups: the caller's own and those shared with them (super admins: every one)."""
    rows, next_page = await list_page(
        ctx, Backup, page, *filters.conditions(), deferred=(Backup.resources, Backup.volumes)
    )
    items = [BackupRead.model_validate(b) for b in rows]
    return ListOf(items=items, count=len(items), next=next_page)


@router.get("/{uid}")
async def get_backup(uid: Uid, ctx: ViewBackup, temporal: TemporalDep) -> BackupDetail:
    """A backup with its per-object and per-volume results, and live progress while it runs."""
    backup = await ctx.load(Backup, uid)
    data: dict[str, Any] = BackupRead.model_validate(backup).model_dump()
    data["verification"] = backup.verification or None  # in full here
    running = backup.status in RUNNING
    return BackupDetail(
        **data,
        resources=backup.resources,
        volumes=backup.volumes,
        access=await ctx.access(backup) or AccessLevel.VIEW,
        progress=await _progress(temporal, uid) if running else None,
    )


async def _progress(temporal: Client, uid: Uid) -> Progress:
    """Bytes moved so far, from the heartbeats of the running data-mover activities."""
    description = await temporal.get_workflow_handle(backup_workflow_id(uid)).describe()
    progress = Progress()
    for pending in description.raw_description.pending_activities:
        if not pending.heartbeat_details.payloads:
            continue
        details = await temporal.data_converter.decode(pending.heartbeat_details.payloads)
        if details and isinstance(details[0], dict):
            progress.bytes_done += int(details[0].get("bytes_done", 0))
            progress.bytes_total += int(details[0].get("bytes_total", 0))
            progress.volumes_moving += 1
    return progress
