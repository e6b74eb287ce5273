"""Notification subscriptions: which events of which backups and restores go to a receiver.

A subscription without `schedule_uid` sends the events of every backup and restore its owner
owns (started by them, or by their backup schedules); with one, the events of that schedule's
backups only (a schedule of the subscription's owner). It sends only to a receiver of its own
owner: nobody is told of what is not theirs.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, status
from pydantic import BaseModel, ConfigDict, Field

from api.authz import Authorize, AuthzContext
from api.crud import PageDep, delete_object, list_page, save_unique
from api.errors import NotFound, Unprocessable
from api.schemas import Labels, ListOf, Name, ObjectRead, Uid
from lifeboat.catalog.models import BackupSchedule, NotificationReceiver, NotificationSubscription
from lifeboat.notifications import BACKUP_EVENTS, NotificationEvent
from lifeboat.rbac.matrix import Action, Kind

router = APIRouter(prefix="/notification-subscriptions", tags=["notifications"])

CreateSubscription = Annotated[
    AuthzContext, Depends(Authorize(Kind.NOTIFICATION_SUBSCRIPTIONS, Action.CREATE))
]
ViewSubscription = Annotated[
    AuthzContext, Depends(Authorize(Kind.NOTIFICATION_SUBSCRIPTIONS, Action.VIEW))
]
EditSubscription = Annotated[
    AuthzContext, Depends(Authorize(Kind.NOTIFICATION_SUBSCRIPTIONS, Action.EDIT))
]
DeleteSubscription = Annotated[
    AuthzContext, Depends(Authorize(Kind.NOTIFICATION_SUBSCRIPTIONS, Action.DELETE))
]

Events = Annotated[
    list[NotificationEvent],
    Field(
        min_length=1,
        max_length=len(NotificationEvent),
        description="What to be told of: backup.failed, backup.partially_failed (some volumes "
        "or rules failed), backup.succeeded, restore.failed (also a restore that brought back "
        "only part of the backup), restore.succeeded. A cancelled backup or restore sends none",
    ),
]
RECEIVER_DESCRIPTION = "A notification receiver of the subscription's owner"
SCHEDULE_DESCRIPTION = (
    "Only the backups of this backup schedule of the subscription's owner (backup events "
    "only); omit (null) for every backup and restore the subscription's owner owns"
)


class SubscriptionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    labels: Labels = Field(default_factory=dict)
    receiver_uid: Uid = Field(description=RECEIVER_DESCRIPTION)
    events: Events
    schedule_uid: Uid | None = Field(default=None, description=SCHEDULE_DESCRIPTION)


class SubscriptionUpdate(BaseModel):
    """What is given changes; `schedule_uid: null` makes it cover every backup and restore."""

    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    labels: Labels | None = None
    receiver_uid: Uid | None = Field(default=None, description=RECEIVER_DESCRIPTION)
    events: Events | None = None
    schedule_uid: Uid | None = Field(default=None, description=SCHEDULE_DESCRIPTION)


class SubscriptionRead(ObjectRead):
    receiver_uid: str
    events: list[NotificationEvent]
    schedule_uid: str | None


async def _check_receiver(ctx: AuthzContext, uid: str, owner_id: str) -> None:
    """The receiver exists for the caller and belongs to the subscription's owner (422)."""
    try:
        receiver = await ctx.for_kind(Kind.NOTIFICATION_RECEIVERS, Action.VIEW).load(
            NotificationReceiver, uid
        )
    except NotFound:
        raise Unprocessable(
            f"no notification receiver {uid} of yours: use the uid of one in "
            "GET /api/v1/notification-receivers",
            field="receiver_uid",
        ) from None
    if receiver.owner_id != owner_id:
        raise Unprocessable(
            f"notification receiver {receiver.name} belongs to another user: a subscription "
            "sends only to its owner's receivers",
            field="receiver_uid",
        )


async def _check_schedule(
    ctx: AuthzContext, uid: str | None, events: list[str], owner_id: str
) -> None:
    """A schedule of the subscription's owner, and backup events only with it (422)."""
    if uid is None:
        return
    try:
        schedule = await ctx.for_kind(Kind.BACKUP_SCHEDULES, Action.VIEW).load(BackupSchedule, uid)
    except NotFound:
        raise Unprocessable(
            f"no backup schedule {uid} that you may see: use the uid of one in "
            "GET /api/v1/backup-schedules, or omit schedule_uid for all your backups",
            field="schedule_uid",
        ) from None
    if schedule.owner_id != owner_id:
        raise Unprocessable(
            f"backup schedule {schedule.name} belongs to another user: subscribe to the "
            "schedules of the subscription's owner only (its backups are theirs)",
            field="schedule_uid",
        )
    if others := sorted(set(events) - BACKUP_EVENTS):
        raise Unprocessable(
            f"{', '.join(others)}: a schedule runs backups only; subscribe to restore events "
            "without schedule_uid",
            field="events",
        )


def _events(events: list[NotificationEvent]) -> list[str]:
    return sorted({str(e) for e in events})


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_subscription(
    body: SubscriptionCreate, ctx: CreateSubscription
) -> SubscriptionRead:
    """Subscribe one of the caller's receivers to events; the name must be new among the
    caller's subscriptions."""
    events = _events(body.events)
    await _check_receiver(ctx, body.receiver_uid, ctx.caller.subject)
    await _check_schedule(ctx, body.schedule_uid, events, ctx.caller.subject)
    subscription = NotificationSubscription(
        name=body.name,
        labels=body.labels,
        owner_id=ctx.caller.subject,
        receiver_uid=body.receiver_uid,
        events=events,
        schedule_uid=body.schedule_uid,
    )
    return SubscriptionRead.model_validate(await save_unique(ctx, subscription))


@router.get("")
async def list_subscriptions(ctx: ViewSubscription, page: PageDep) -> ListOf[SubscriptionRead]:
    """The caller's subscriptions (everyone's for a super admin), by name."""
    rows, next_page = await list_page(ctx, NotificationSubscription, page)
    items = [SubscriptionRead.model_validate(s) for s in rows]
    return ListOf(items=items, count=len(items), next=next_page)


@router.get("/{uid}")
async def get_subscription(uid: Uid, ctx: ViewSubscription) -> SubscriptionRead:
    return SubscriptionRead.model_validate(await ctx.load(NotificationSubscription, uid))


@router.patch("/{uid}")
async def update_subscription(
    uid: Uid, body: SubscriptionUpdate, ctx: EditSubscription
) -> SubscriptionRead:
    """Change what is given; the result is checked as a new subscription would be."""
    subscription = await ctx.load(NotificationSubscription, uid)
    events = _events(body.events) if body.events is not None else list(subscription.events)
    receiver_uid = body.receiver_uid or subscription.receiver_uid
    schedule_uid = (
        body.schedule_uid if "schedule_uid" in body.model_fields_set else subscription.schedule_uid
    )
    await _check_receiver(ctx, receiver_uid, subscription.owner_id)
    await _check_schedule(ctx, schedule_uid, events, subscription.owner_id)
    if body.name is not None:
        subscription.name = body.name
    if body.labels is not None:
        subscription.labels = body.labels
    subscription.receiver_uid, subscription.events = receiver_uid, events
    subscription.schedule_uid = schedule_uid
    return SubscriptionRead.model_validate(await save_unique(ctx, subscription))


@router.delete("/{uid}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_subscription(uid: Uid, ctx: DeleteSubscription) -> None:
    await delete_object(ctx, await ctx.load(NotificationSubscription, uid))
