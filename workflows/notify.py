"""Notifications: a finished backup or restore tells the receivers subscribed to its event.

A child workflow of the backup or restore (`notify-<its workflow id>`), started once the
outcome is recorded and abandoned by it: a receiver that is down is tried again for about an
hour without holding up, or failing, the backup.
"""

from __future__ import annotations

import asyncio

from temporalio import workflow
from temporalio.exceptions import ActivityError, WorkflowAlreadyStartedError
from temporalio.workflow import ParentClosePolicy

from workflows import options
from workflows.contracts import (
    DeliverInput,
    DeliveryResult,
    NotificationPlan,
    NotificationTestInput,
    NotifyInput,
    NotifyResult,
    Operation,
)
from workflows.ids import OWNER, child_attributes, notify_workflow_id

with workflow.unsafe.imports_passed_through():
    from activities.notifications import NotificationActivities

# Backups and restores started before notifications replay without them.
NOTIFY_PATCH = "notify"


def _reason(error: ActivityError) -> str:
    cause = error.cause or error
    return getattr(cause, "message", None) or str(cause) or type(cause).__name__


@workflow.defn
class NotifyWorkflow:
    """Delivers a finished backup's or restore's event to each subscribed receiver."""

    @workflow.run
    async def run(self, input: NotifyInput) -> NotifyResult:
        plan: NotificationPlan = await workflow.execute_activity_method(
            NotificationActivities.plan_notifications, input, **options.CATALOG_WRITE
        )
        if not plan.event:
            return NotifyResult(event="")
        deliveries = await asyncio.gather(
            *(self._deliver(DeliverInput(uid, input.operation, input.uid, plan.event))
              for uid in plan.receiver_uids)
        )  # fmt: skip
        return NotifyResult(event=plan.event, deliveries=list(deliveries))

    async def _deliver(self, input: DeliverInput) -> DeliveryResult:
        try:
            result: DeliveryResult = await workflow.execute_activity_method(
                NotificationActivities.deliver_notification,
                input,
                **options.NOTIFICATION_DELIVERY,
            )
        except ActivityError as exc:  # retried for an hour; recorded on the receiver
            return DeliveryResult(input.receiver_uid, False, _reason(exc))
        return result


@workflow.defn
class NotificationTestWorkflow:
    """Sends one test message to a receiver; the API waits for the result."""

    @workflow.run
    async def run(self, input: NotificationTestInput) -> DeliveryResult:
        result: DeliveryResult = await workflow.execute_activity_method(
            NotificationActivities.send_test_notification, input, **options.NOTIFICATION_TEST
        )
        return result


async def start_notifications(operation: Operation, uid: str) -> None:
    """Start the notifications of the finished backup or restore running this workflow (behind
    the `notify` patch). It never waits for them, nor fails when they cannot start: one of an
    earlier attempt still delivering keeps the id."""
    if not workflow.patched(NOTIFY_PATCH):
        return
    info = workflow.info()
    run = info.typed_search_attributes
    try:
        await workflow.start_child_workflow(
            NotifyWorkflow.run,
            NotifyInput(operation, uid),
            id=notify_workflow_id(info.workflow_id),
            # A run started without search attributes (a test's) gives its child none.
            search_attributes=child_attributes(run, "notification") if run.get(OWNER) else None,
            parent_close_policy=ParentClosePolicy.ABANDON,
        )
    except WorkflowAlreadyStartedError:
        workflow.logger.warning("the notifications of an earlier attempt are still delivering")
