"""Backup schedules: a policy plus a backup spec, run by a Temporal Schedule.

Each schedule is a Temporal Schedule `backup-schedule-<uid>` (visible in the Temporal UI):
suspend and resume pause it, run-now triggers it, a run that would overlap a running one is
skipped, and runs missed while the platform was down are caught up within a window.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, status
from pydantic import BaseModel, Field
from sqlalchemy import select
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleState,
)
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.service import RPCError, RPCStatusCode

from api.authz import Authorize, AuthzContext
from api.crud import delete_object, list_visible, save_unique
from api.deps import TemporalDep
from api.routes.backups import BackupCreate, check_backup_parts
from api.schemas import Accepted, Labels, ListOf, Name, ObjectRead, Uid
from lifeboat.catalog.models import Backup, BackupSchedule, utcnow
from lifeboat.catalog.models import (
    SchedulePolicy as Policy,
)
from lifeboat.policies import SchedulePolicySpec
from lifeboat.rbac.matrix import Action, Kind
from lifeboat.schedules import schedule_spec
from workflows.contracts import BackupInput, ScheduledBackupInput
from workflows.deletion import DeletionWorkflow
from workflows.ids import backup_schedule_id, deletion_workflow_id
from workflows.scheduled_backup import ScheduledBackupWorkflow

router = APIRouter(prefix="/backup-schedules", tags=["backup schedules"])

CreateSchedule = Annotated[AuthzContext, Depends(Authorize(Kind.BACKUP_SCHEDULES, Action.CREATE))]
ViewSchedule = Annotated[AuthzContext, Depends(Authorize(Kind.BACKUP_SCHEDULES, Action.VIEW))]
EditSchedule = Annotated[AuthzContext, Depends(Authorize(Kind.BACKUP_SCHEDULES, Action.EDIT))]
DeleteSchedule = Annotated[AuthzContext, Depends(Authorize(Kind.BACKUP_SCHEDULES, Action.DELETE))]
# Runs missed while the platform was down are still made when it is back within this window.
CATCHUP_WINDOW = timedelta(hours=1)


class ScheduleCreate(BaseModel):
    name: Name
    policy_uid: Uid
    backup: BackupCreate = Field(description="What each run backs up (its name is ignored)")
    labels: Labels = Field(default_factory=dict)


class ScheduleRead(ObjectRead):
    policy_uid: str
    cluster_uid: str
    spec: dict[str, Any]
    suspended: bool
    next_runs: list[datetime] = Field(default_factory=list)


def _temporal_schedule(row: BackupSchedule, policy: Policy, task_queue: str) -> Schedule:
    spec = SchedulePolicySpec.model_validate(
        {"schedule": policy.schedule, "retention": policy.retention}
    )
    return Schedule(
        action=ScheduleActionStartWorkflow(
            ScheduledBackupWorkflow.run,
            ScheduledBackupInput(row.uid),
            id=f"scheduled-backup-{row.uid}",
            task_queue=task_queue,
        ),
        spec=schedule_spec(spec.schedule),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP, catchup_window=CATCHUP_WINDOW),
        state=ScheduleState(paused=row.suspended, note=f"Lifeboat backup schedule {row.name}"),
    )


async def _read(row: BackupSchedule, temporal: Client) -> ScheduleRead:
    read = ScheduleRead.model_validate(row)
    try:
        described = await temporal.get_schedule_handle(backup_schedule_id(row.uid)).describe()
        read.next_runs = list(described.info.next_action_times)[:5]
    except RPCError as exc:
        if exc.status != RPCStatusCode.NOT_FOUND:
            raise
    return read


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_schedule(
    body: ScheduleCreate, ctx: CreateSchedule, temporal: TemporalDep
) -> ScheduleRead:
    """Create a schedule: each run backs up as `backup` says and applies the retention."""
    policy = await ctx.for_kind(Kind.SCHEDULE_POLICIES, Action.VIEW).load(Policy, body.policy_uid)
    cluster, _location_uid = await check_backup_parts(body.backup, ctx)
    row = BackupSchedule(
        name=body.name,
        labels=body.labels,
        owner_id=ctx.caller.subject,
        policy_uid=policy.uid,
        cluster_uid=cluster.uid,
        spec=body.backup.model_dump(exclude={"name", "labels", "cluster_uid"}),
    )
    row = await save_unique(ctx, row)
    try:
        await temporal.create_schedule(
            backup_schedule_id(row.uid), _temporal_schedule(row, policy, ctx.settings.task_queue)
        )
    except Exception:
        await delete_object(ctx, row)  # no schedule row without its Temporal Schedule
        raise
    return await _read(row, temporal)


@router.get("")
async def list_schedules(ctx: ViewSchedule) -> ListOf[ScheduleRead]:
    items = [ScheduleRead.model_validate(r) for r in await list_visible(ctx, BackupSchedule)]
    return ListOf(items=items, count=len(items))


@router.get("/{uid}")
async def get_schedule(uid: Uid, ctx: ViewSchedule, temporal: TemporalDep) -> ScheduleRead:
    return await _read(await ctx.load(BackupSchedule, uid), temporal)


async def _pause(uid: Uid, ctx: AuthzContext, temporal: Client, *, paused: bool) -> ScheduleRead:
    row = await ctx.load(BackupSchedule, uid)
    handle = temporal.get_schedule_handle(backup_schedule_id(uid))
    await (handle.pause() if paused else handle.unpause())
    row.suspended = paused
    await ctx.session.commit()
    return await _read(row, temporal)


@router.post("/{uid}/suspend")
async def suspend_schedule(uid: Uid, ctx: EditSchedule, temporal: TemporalDep) -> ScheduleRead:
    return await _pause(uid, ctx, temporal, paused=True)


@router.post("/{uid}/resume")
async def resume_schedule(uid: Uid, ctx: EditSchedule, temporal: TemporalDep) -> ScheduleRead:
    return await _pause(uid, ctx, temporal, paused=False)


@router.post("/{uid}/run-now", status_code=status.HTTP_202_ACCEPTED)
async def run_now(uid: Uid, ctx: EditSchedule, temporal: TemporalDep) -> Accepted:
    """Run the schedule now, outside its calendar (also while it is suspended)."""
    row = await ctx.load(BackupSchedule, uid)
    await temporal.start_workflow(
        ScheduledBackupWorkflow.run,
        ScheduledBackupInput(row.uid, manual=True),
        id=f"scheduled-backup-{row.uid}-now-{utcnow():%Y%m%d%H%M%S}",
        task_queue=ctx.settings.task_queue,
    )
    return Accepted(message=f"schedule {row.name} runs now")


@router.delete("/{uid}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_schedule(
    uid: Uid,
    ctx: DeleteSchedule,
    temporal: TemporalDep,
    backups: Annotated[
        Literal["keep", "delete"],
        Query(description="What becomes of the schedule's backups: keep them, or delete them"),
    ],
) -> None:
    """Delete a schedule; its backups are kept or deleted, as the caller says."""
    row = await ctx.load(BackupSchedule, uid)
    try:
        await temporal.get_schedule_handle(backup_schedule_id(uid)).delete()
    except RPCError as exc:
        if exc.status != RPCStatusCode.NOT_FOUND:
            raise
    made = (await ctx.session.scalars(select(Backup).where(Backup.schedule_uid == uid))).all()
    doomed = [b.uid for b in made] if backups == "delete" else []
    for backup in made:
        backup.schedule_uid = None  # kept backups outlive their schedule
        if doomed:
            backup.status = "Deleting"
    await delete_object(ctx, row)
    for backup_uid in doomed:
        await temporal.start_workflow(
            DeletionWorkflow.run,
            BackupInput(backup_uid),
            id=deletion_workflow_id(backup_uid),
            task_queue=ctx.settings.task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        )
