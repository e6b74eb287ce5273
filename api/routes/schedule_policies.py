"""Schedule policies: when backups run and how many are kept, for schedules to use."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, status
from pydantic import Field
from sqlalchemy import func, select

from api.authz import Authorize, AuthzContext
from api.crud import PageDep, delete_object, list_page, save_unique
from api.deps import TemporalDep
from api.errors import Conflict
from api.routes.backup_schedules import follow_policy, mark_policy_changing
from api.schemas import Labels, ListOf, Name, ObjectRead, Uid
from lifeboat.catalog.models import BackupSchedule, SchedulePolicy
from lifeboat.policies import Retention, Schedule, SchedulePolicySpec
from lifeboat.rbac.matrix import Action, Kind

router = APIRouter(prefix="/schedule-policies", tags=["schedule policies"])

CreatePolicy = Annotated[AuthzContext, Depends(Authorize(Kind.SCHEDULE_POLICIES, Action.CREATE))]
ViewPolicy = Annotated[AuthzContext, Depends(Authorize(Kind.SCHEDULE_POLICIES, Action.VIEW))]
EditPolicy = Annotated[AuthzContext, Depends(Authorize(Kind.SCHEDULE_POLICIES, Action.EDIT))]
DeletePolicy = Annotated[AuthzContext, Depends(Authorize(Kind.SCHEDULE_POLICIES, Action.DELETE))]


class SchedulePolicyCreate(SchedulePolicySpec):
    name: Name
    labels: Labels = Field(default_factory=dict)


class SchedulePolicyUpdate(SchedulePolicyCreate):
    """A whole policy: name, labels, schedule and retention are all replaced."""


class SchedulePolicyRead(ObjectRead):
    schedule: Schedule
    retention: Retention


def _apply(policy: SchedulePolicy, body: SchedulePolicyCreate) -> SchedulePolicy:
    policy.name = body.name
    policy.labels = body.labels
    policy.schedule = body.schedule.model_dump(mode="json")
    policy.retention = body.retention.model_dump(mode="json")
    return policy


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_schedule_policy(
    body: SchedulePolicyCreate, ctx: CreatePolicy
) -> SchedulePolicyRead:
    """Create a policy owned by the caller; its name must be new among the caller's policies."""
    policy = _apply(SchedulePolicy(owner_id=ctx.caller.subject), body)
    return SchedulePolicyRead.model_validate(await save_unique(ctx, policy))


@router.get("")
async def list_schedule_policies(ctx: ViewPolicy, page: PageDep) -> ListOf[SchedulePolicyRead]:
    """The policies the caller owns or that are shared with them, by name."""
    rows, next_page = await list_page(ctx, SchedulePolicy, page)
    items = [SchedulePolicyRead.model_validate(p) for p in rows]
    return ListOf(items=items, count=len(items), next=next_page)


@router.get("/{uid}")
async def get_schedule_policy(uid: Uid, ctx: ViewPolicy) -> SchedulePolicyRead:
    return SchedulePolicyRead.model_validate(await ctx.load(SchedulePolicy, uid))


@router.put("/{uid}")
async def replace_schedule_policy(
    uid: Uid, body: SchedulePolicyUpdate, ctx: EditPolicy, temporal: TemporalDep
) -> SchedulePolicyRead:
    """Replace the policy as a whole: name, labels, schedule and retention.

    Every backup schedule on the policy, whoever owns it, is given the new calendar; one
    whose Temporal Schedule could not be updated says why in its `policy_update_error` and
    runs on the previous calendar until the policy is saved again.
    """
    policy = _apply(await ctx.load(SchedulePolicy, uid), body)
    await mark_policy_changing(ctx.session, policy)
    policy = await save_unique(ctx, policy)
    await follow_policy(ctx.session, temporal, policy, task_queue=ctx.settings.task_queue)
    return SchedulePolicyRead.model_validate(policy)


@router.delete("/{uid}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_schedule_policy(uid: Uid, ctx: DeletePolicy) -> None:
    """Delete a policy; refused while backup schedules use it, for super admins too."""
    policy = await ctx.load(SchedulePolicy, uid)
    used_by = await ctx.session.scalar(select(func.count()).where(BackupSchedule.policy_uid == uid))
    if used_by:
        raise Conflict(
            f"schedule policy {policy.name} is used by {used_by} backup schedule(s): "
            "give them another policy or delete them first"
        )
    await delete_object(ctx, policy)
