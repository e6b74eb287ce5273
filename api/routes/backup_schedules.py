"""Backup schedules: a policy plus a backup spec, run by a Temporal Schedule.

Each schedule is a Temporal Schedule `backup-schedule-<uid>` (visible in the Temporal UI):
suspend and resume pause it, run-now triggers it, a run that would overlap a running one is
skipped, and runs missed while the platform was down are caught up within a window. A policy
edit gives every schedule on it the new calendar (`follow_policy`); a schedule whose due run
made no backup reads `Overdue`, saying why.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, status
from pydantic import BaseModel, Field
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleDescription,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleState,
    ScheduleUpdate,
    ScheduleUpdateInput,
)
from temporalio.service import RPCError, RPCStatusCode

from api.authz import Authorize, AuthzContext
from api.crud import PageDep, delete_object, list_page, save_unique
from api.deps import StateDep, TemporalDep
from api.errors import Conflict
from api.routes.backups import BackupCreate, check_backup_parts, ensure_idle, start_deletion
from api.routes.licenses import check_backups_allowed
from api.schemas import Accepted, Labels, ListOf, Name, ObjectRead, Uid
from lifeboat.catalog.models import Backup, BackupSchedule, SuspendedBy, utcnow
from lifeboat.catalog.models import (
    SchedulePolicy as Policy,
)
from lifeboat.immutability import lock_refusal
from lifeboat.policies import IntervalSchedule
from lifeboat.rbac.matrix import Action, Kind
from lifeboat.schedules import (
    ScheduleModel,
    fires_on,
    last_fire_time,
    run_anchor,
    schedule_spec,
)
from lifeboat.specs import ScheduledBackupSpec
from lifeboat.status import BackupStatus, ScheduleStatus
from workflows.contracts import ScheduledBackupInput
from workflows.ids import (
    backup_schedule_id,
    scheduled_backup_workflow_id,
    search_attributes,
)
from workflows.scheduled_backup import ScheduledBackupWorkflow

router = APIRouter(prefix="/backup-schedules", tags=["backup schedules"])

CreateSchedule = Annotated[AuthzContext, Depends(Authorize(Kind.BACKUP_SCHEDULES, Action.CREATE))]
ViewSchedule = Annotated[AuthzContext, Depends(Authorize(Kind.BACKUP_SCHEDULES, Action.VIEW))]
EditSchedule = Annotated[AuthzContext, Depends(Authorize(Kind.BACKUP_SCHEDULES, Action.EDIT))]
DeleteSchedule = Annotated[AuthzContext, Depends(Authorize(Kind.BACKUP_SCHEDULES, Action.DELETE))]
# Runs missed while the platform was down are still made when it is back within this window.
CATCHUP_WINDOW = timedelta(hours=1)
# How long after its due time a run's backup may take to appear before the run counts as
# missed (half the interval for shorter intervals: the next run is due by then).
MISSED_AFTER = timedelta(minutes=5)


VerifyEvery = Annotated[
    int,
    Field(
        ge=0,
        le=10_000,
        strict=True,
        description="Verify every Nth successful backup of the schedule (1: each one; 0: "
        "none): restored into scratch namespaces and compared, as POST /backups/{uid}/verify",
    ),
]


class ScheduleCreate(BaseModel):
    name: Name
    policy_uid: Uid
    backup: BackupCreate = Field(description="What each run backs up (its name is ignored)")
    verify_every: VerifyEvery = 0
    labels: Labels = Field(default_factory=dict)


class BackupScheduleUpdate(BaseModel):
    """What to change; a field left out stays as it is."""

    name: Name | None = None
    policy_uid: Uid | None = Field(
        default=None, description="Another policy: its calendar and retention from now on"
    )
    backup: BackupCreate | None = Field(
        default=None,
        description="What each run backs up, as a whole and checked as at create (cluster, "
        "location, namespaces, selectors, rules...; its name is ignored)",
    )
    verify_every: VerifyEvery | None = None
    labels: Labels | None = None


class ScheduleRead(ObjectRead):
    policy_uid: str
    cluster_uid: str
    spec: ScheduledBackupSpec
    suspended: bool
    suspended_by: str = Field(
        default="",
        description="Who suspended it: `user`, or `license` (it resumes by itself once the "
        "license allows backups again); '' while it runs",
    )
    status: ScheduleStatus = Field(
        default=ScheduleStatus.ACTIVE,
        description="Active, Suspended, or Overdue: a run came due and made no backup",
    )
    status_reason: str = Field(default="", description="Why it is Overdue, or what is amiss")
    last_backup_at: datetime | None = Field(
        default=None, description="When the schedule's newest backup was made"
    )
    last_due_at: datetime | None = Field(
        default=None, description="When its last run was due (a few minutes ago at least)"
    )
    missed: bool = Field(default=False, description="The run due at last_due_at made no backup")
    policy_update_error: str = Field(
        default="",
        description="Why its Temporal Schedule does not follow the policy's last change",
    )
    next_runs: list[datetime] = Field(default_factory=list)


def _plan(policy: Policy) -> ScheduleModel:
    return policy.spec.schedule


def _action(
    row: BackupSchedule, plan: ScheduleModel, task_queue: str
) -> ScheduleActionStartWorkflow:
    return ScheduleActionStartWorkflow(
        ScheduledBackupWorkflow.run,
        ScheduledBackupInput(row.uid, schedule=plan.model_dump_json()),
        id=scheduled_backup_workflow_id(row.uid),
        task_queue=task_queue,
        typed_search_attributes=search_attributes(
            owner=row.owner_id, cluster=row.cluster_uid, kind="scheduled-backup"
        ),
    )


def _temporal_schedule(row: BackupSchedule, policy: Policy, task_queue: str) -> Schedule:
    plan = _plan(policy)
    return Schedule(
        action=_action(row, plan, task_queue),
        spec=schedule_spec(plan),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP, catchup_window=CATCHUP_WINDOW),
        state=ScheduleState(paused=row.suspended, note=f"Lifeboat backup schedule {row.name}"),
    )


async def mark_policy_changing(session: AsyncSession, policy: Policy) -> None:
    """Record on each schedule of the policy, with the policy's change, that its Temporal
    Schedule is yet to follow; `follow_policy` clears it. Commit it with the policy."""
    with session.no_autoflush:  # a name clash of the policy is the caller's 409 to report
        rows = await session.scalars(
            select(BackupSchedule).where(BackupSchedule.policy_uid == policy.uid)
        )
    for row in rows:
        row.policy_update_error = (
            f"policy {policy.name} changed at {utcnow():%Y-%m-%d %H:%M:%S} UTC and its Temporal "
            "Schedule has not been given the new calendar yet: save the policy again"
        )


async def follow_policy(
    session: AsyncSession, temporal: Client, policy: Policy, *, task_queue: str
) -> None:
    """Give each schedule on the policy the policy's calendar, or record on it why not.

    One Temporal update per schedule sets its calendar and the plan its runs are checked
    against together; a schedule whose update fails keeps its previous calendar and says so
    in `policy_update_error` (saving the policy again retries). A Temporal Schedule removed
    by hand is made again.
    """
    rows = await session.scalars(
        select(BackupSchedule).where(BackupSchedule.policy_uid == policy.uid)
    )
    for row in rows:
        what = f"policy {policy.name}"
        await _follow(temporal, row, policy, task_queue=task_queue, what=what, again="policy")
    await session.commit()


async def _follow(
    temporal: Client,
    row: BackupSchedule,
    policy: Policy,
    *,
    task_queue: str,
    what: str,
    again: str,
) -> None:
    """Give the schedule's Temporal Schedule its policy's calendar and the run arguments that
    go with it, or record on the row why not (`what` changed; saving `again` retries). A
    Temporal Schedule removed by hand is made again. The caller commits."""
    schedule = _temporal_schedule(row, policy, task_queue)
    handle = temporal.get_schedule_handle(backup_schedule_id(row.uid))

    def updated(input: ScheduleUpdateInput) -> ScheduleUpdate:
        # Calendar and action only: a pause (and its note) set in Temporal stays visible.
        current = input.description.schedule
        return ScheduleUpdate(
            dataclasses.replace(current, spec=schedule.spec, action=schedule.action)
        )

    try:
        try:
            await handle.update(updated)
        except RPCError as exc:
            if exc.status != RPCStatusCode.NOT_FOUND:
                raise
            await temporal.create_schedule(handle.id, schedule)
    except RPCError as exc:
        row.policy_update_error = (
            f"{what} changed at {utcnow():%Y-%m-%d %H:%M:%S} UTC, but "
            f"Temporal Schedule {handle.id} could not be updated ({exc.message}): it "
            f"still runs on the previous calendar; save the {again} again to retry"
        )
    else:
        row.policy_update_error = ""
        row.due_since = utcnow()


def _missed_after(plan: ScheduleModel) -> timedelta:
    if isinstance(plan, IntervalSchedule):
        return min(MISSED_AFTER, timedelta(minutes=plan.every_minutes) / 2)
    return MISSED_AFTER


def _reason(
    row: BackupSchedule,
    read: ScheduleRead,
    description: ScheduleDescription | None,
    temporal_missing: bool,
) -> str:
    """Why the schedule is Overdue, or what keeps it from running; '' when all is well."""
    parts: list[str] = []
    if read.missed and read.last_due_at is not None:
        due = f"{read.last_due_at:%Y-%m-%d %H:%M:%S} UTC"
        started = [
            a.action
            for a in (description.info.recent_actions if description else [])
            if a.scheduled_at == read.last_due_at
        ]
        if started:
            workflow_id = getattr(started[0], "workflow_id", "")
            parts.append(f"the run due at {due} started ({workflow_id}) but made no backup")
        elif description is not None and description.info.num_actions_skipped_overlap:
            parts.append(
                f"no backup was made for the run due at {due}; Temporal skipped "
                f"{description.info.num_actions_skipped_overlap} run(s) of this schedule "
                "while the one before was still running"
            )
        else:
            parts.append(f"no backup was made for the run due at {due}")
    if temporal_missing:
        parts.append(
            f"its Temporal Schedule {backup_schedule_id(row.uid)} is missing, so no run starts: "
            "save its policy again to make it anew"
        )
    elif description is not None and description.schedule.state.paused and not row.suspended:
        note = description.schedule.state.note or "no note"
        parts.append(
            f"its Temporal Schedule is paused in Temporal ({note}): suspend and resume the "
            "schedule to run again"
        )
    if row.suspended_by == SuspendedBy.LICENSE:
        parts.append(
            "suspended by the license, which stops new backups (GET /api/v1/license says why); "
            "it resumes by itself once a license allows backups again"
        )
    if row.policy_update_error:
        parts.append(row.policy_update_error)
    return "; ".join(parts)


async def _reads(
    session: AsyncSession, rows: Sequence[BackupSchedule], temporal: Client | None
) -> list[ScheduleRead]:
    """The schedules as returned: their runs from the catalog, and with `temporal` what their
    Temporal Schedules say (next runs, pauses)."""
    uids = [row.uid for row in rows]
    policies = {
        p.uid: p
        for p in await session.scalars(
            select(Policy).where(Policy.uid.in_({row.policy_uid for row in rows}))
        )
    }
    newest = func.max(Backup.created_at)
    last_backups: dict[str | None, datetime] = {
        schedule_uid: made
        for schedule_uid, made in await session.execute(
            select(Backup.schedule_uid, newest)
            .where(Backup.schedule_uid.in_(uids))
            .group_by(Backup.schedule_uid)
        )
    }
    now = utcnow()
    reads = []
    for row in rows:
        plan = _plan(policies[row.policy_uid])
        anchor = run_anchor(plan, row.created_at)
        read = ScheduleRead.model_validate(row)
        if row.suspended:
            read.status = ScheduleStatus.SUSPENDED
        read.last_backup_at = last_backups.get(row.uid)
        due = last_fire_time(plan, now - _missed_after(plan), anchor=anchor)
        if not row.suspended and due >= (row.due_since or row.created_at):
            read.last_due_at = due
            read.missed = read.last_backup_at is None or read.last_backup_at < due
        if read.missed:
            read.status = ScheduleStatus.OVERDUE
        description, temporal_missing = None, False
        if temporal is not None:
            try:
                description = await temporal.get_schedule_handle(
                    backup_schedule_id(row.uid)
                ).describe()
            except RPCError as exc:
                if exc.status != RPCStatusCode.NOT_FOUND:
                    raise
                temporal_missing = True
        if description is not None:
            times = description.info.next_action_times
            if not row.policy_update_error:  # else Temporal still has the previous calendar
                # Superset calendars list extra times that the runs skip (the last Sunday...).
                times = [t for t in times if _real_run(plan, t, anchor)]
            read.next_runs = list(times)[:5]
        read.status_reason = _reason(row, read, description, temporal_missing)
        reads.append(read)
    return reads


def _real_run(plan: ScheduleModel, when: datetime, anchor: date) -> bool:
    return isinstance(plan, IntervalSchedule) or fires_on(plan, when, anchor=anchor)


async def _read(row: BackupSchedule, session: AsyncSession, temporal: Client) -> ScheduleRead:
    return (await _reads(session, [row], temporal))[0]


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
        spec=ScheduledBackupSpec.from_json(
            {**body.backup.model_dump(), "verify_every": body.verify_every}
        ),
        due_since=utcnow(),
    )
    row = await save_unique(ctx, row)
    try:
        await temporal.create_schedule(
            backup_schedule_id(row.uid), _temporal_schedule(row, policy, ctx.settings.task_queue)
        )
    except Exception:
        await delete_object(ctx, row)  # no schedule row without its Temporal Schedule
        raise
    return await _read(row, ctx.session, temporal)


@router.patch("/{uid}")
async def update_schedule(
    uid: Uid, body: BackupScheduleUpdate, ctx: EditSchedule, temporal: TemporalDep
) -> ScheduleRead:
    """Edit a schedule: its name, labels, policy, or what each run backs up. It keeps its uid,
    its backups and its Temporal Schedule, which is given the policy's calendar and run
    arguments (a failed update says so in `policy_update_error`; save again to retry)."""
    row = await ctx.load(BackupSchedule, uid)
    policy = await ctx.for_kind(Kind.SCHEDULE_POLICIES, Action.VIEW).load(
        Policy, body.policy_uid or row.policy_uid
    )
    if body.backup is not None:
        cluster, _location_uid = await check_backup_parts(body.backup, ctx)
        row.cluster_uid = cluster.uid
        row.spec = ScheduledBackupSpec.from_json(
            {**body.backup.model_dump(), "verify_every": row.spec.verify_every}
        )
    if body.verify_every is not None:
        row.spec = dataclasses.replace(row.spec, verify_every=body.verify_every)
    row.policy_uid = policy.uid
    if body.name is not None:
        row.name = body.name
    if body.labels is not None:
        row.labels = body.labels
    row = await save_unique(ctx, row)
    await _follow(
        temporal,
        row,
        policy,
        task_queue=ctx.settings.task_queue,
        what=f"schedule {row.name}",
        again="schedule",
    )
    await ctx.session.commit()
    return await _read(row, ctx.session, temporal)


@router.get("")
async def list_schedules(ctx: ViewSchedule, page: PageDep) -> ListOf[ScheduleRead]:
    """The schedules the caller sees; their status from the catalog (GET one for Temporal's
    view too: next runs, a pause made in Temporal)."""
    rows, next_page = await list_page(ctx, BackupSchedule, page)
    items = await _reads(ctx.session, rows, None)
    return ListOf(items=items, count=len(items), next=next_page)


@router.get("/{uid}")
async def get_schedule(uid: Uid, ctx: ViewSchedule, temporal: TemporalDep) -> ScheduleRead:
    """The schedule with its runs: next ones, the last due one, and whether it made a backup."""
    return await _read(await ctx.load(BackupSchedule, uid), ctx.session, temporal)


async def _pause(
    uid: Uid, ctx: AuthzContext, state: StateDep, temporal: Client, *, paused: bool
) -> ScheduleRead:
    row = await ctx.load(BackupSchedule, uid)
    if not paused and row.suspended_by == SuspendedBy.LICENSE:
        await check_backups_allowed(ctx, state)
    handle = temporal.get_schedule_handle(backup_schedule_id(uid))
    await (handle.pause() if paused else handle.unpause())
    # Suspended by a user, only a user resumes it (a license check leaves it alone).
    if paused:
        row.suspend(SuspendedBy.USER)
    else:
        row.resume()
    await ctx.session.commit()
    return await _read(row, ctx.session, temporal)


@router.post("/{uid}/suspend")
async def suspend_schedule(
    uid: Uid, ctx: EditSchedule, state: StateDep, temporal: TemporalDep
) -> ScheduleRead:
    return await _pause(uid, ctx, state, temporal, paused=True)


@router.post("/{uid}/resume")
async def resume_schedule(
    uid: Uid, ctx: EditSchedule, state: StateDep, temporal: TemporalDep
) -> ScheduleRead:
    """Resume a suspended schedule (402 while the license that suspended it stops backups)."""
    return await _pause(uid, ctx, state, temporal, paused=False)


@router.post("/{uid}/run-now", status_code=status.HTTP_202_ACCEPTED)
async def run_now(uid: Uid, ctx: EditSchedule, state: StateDep, temporal: TemporalDep) -> Accepted:
    """Run the schedule now, outside its calendar (also while it is suspended; not while the
    license stops new backups)."""
    row = await ctx.load(BackupSchedule, uid)
    await check_backups_allowed(ctx, state)
    await temporal.start_workflow(
        ScheduledBackupWorkflow.run,
        ScheduledBackupInput(row.uid, manual=True),
        id=f"{scheduled_backup_workflow_id(row.uid)}-now-{utcnow():%Y%m%d%H%M%S}",
        task_queue=ctx.settings.task_queue,
        search_attributes=search_attributes(
            owner=row.owner_id, cluster=row.cluster_uid, kind="scheduled-backup"
        ),
    )
    return Accepted(message=f"schedule {row.name} runs now")


@router.delete("/{uid}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_schedule(
    uid: Uid,
    ctx: DeleteSchedule,
    temporal: TemporalDep,
    backups: Annotated[
        Literal["keep", "delete"],
        Query(
            description="What becomes of the schedule's backups: `keep` them (they outlive "
            "the schedule), or `delete` them as DELETE /backups/{uid} does, their data in the "
            "bucket too (refused, changing nothing, while one of them runs or is restored)"
        ),
    ] = "keep",
) -> None:
    """Delete a schedule; its backups are kept (the default) or deleted, as the caller says."""
    row = await ctx.load(BackupSchedule, uid)
    made = (await ctx.session.scalars(select(Backup).where(Backup.schedule_uid == uid))).all()
    now = datetime.now(UTC)
    if backups == "delete" and (
        locked := [r for b in made if (r := lock_refusal(b.name, b.locked_until, now))]
    ):
        raise Conflict(
            f"{'; '.join(locked)}. Delete the schedule keeping its backups (backups=keep), or "
            "wait until their locks end"
        )
    doomed = list(made) if backups == "delete" else []
    for backup in doomed:
        await ensure_idle(ctx, backup)
    try:
        await temporal.get_schedule_handle(backup_schedule_id(uid)).delete()
    except RPCError as exc:
        if exc.status != RPCStatusCode.NOT_FOUND:
            raise
    for backup in made:
        backup.schedule_uid = None  # kept backups outlive their schedule
    for backup in doomed:
        backup.status = BackupStatus.DELETING
    await delete_object(ctx, row)
    for backup in doomed:
        await start_deletion(temporal, backup, ctx)
