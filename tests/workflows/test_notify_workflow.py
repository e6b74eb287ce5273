"""A finished backup's notifications on the time-skipping server, with the activities stood in
for: the backup ends as it would without them, and a receiver that refuses its message for
good does not keep the others from theirs."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from temporalio import activity
from temporalio.client import Client
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from tests.workflows.test_backup_workflow import Cluster
from workflows.backup import BackupWorkflow
from workflows.contracts import (
    BackupInput,
    BackupResult,
    DeliverInput,
    DeliveryResult,
    NotificationPlan,
    NotifyInput,
    NotifyResult,
)
from workflows.ids import notify_workflow_id
from workflows.notify import NotifyWorkflow


def _receivers(sent: list[DeliverInput]) -> list[Callable[..., Any]]:
    @activity.defn(name="plan_notifications")
    async def plan(input: NotifyInput) -> NotificationPlan:
        return NotificationPlan(event="backup.failed", receiver_uids=["refuses", "takes"])

    @activity.defn(name="deliver_notification")
    async def deliver(input: DeliverInput) -> DeliveryResult:
        sent.append(input)
        if input.receiver_uid == "refuses":
            raise ApplicationError("webhook answered 500", non_retryable=True)
        return DeliveryResult(input.receiver_uid, True)

    return [plan, deliver]


async def test_a_failed_backup_notifies_each_receiver_after_recording_its_end(
    env: WorkflowEnvironment,
) -> None:
    cluster = Cluster(fail_at="export")
    sent: list[DeliverInput] = []
    queue = f"notify-{uuid.uuid4()}"
    backup_id = f"backup-{uuid.uuid4()}"
    client: Client = env.client
    async with Worker(
        client,
        task_queue=queue,
        workflows=[BackupWorkflow, NotifyWorkflow],
        activities=[*cluster.activities(), *_receivers(sent)],
    ):
        result: BackupResult = await client.execute_workflow(
            BackupWorkflow.run, BackupInput("b1"), id=backup_id, task_queue=queue
        )
        notified: NotifyResult = await client.get_workflow_handle(
            notify_workflow_id(backup_id), result_type=NotifyResult
        ).result()
    assert result.status == "Failed" and "export broke" in result.reason
    assert [r.status for r in cluster.recorded] == ["Failed"]
    assert notified.event == "backup.failed"
    assert {(d.receiver_uid, d.delivered) for d in notified.deliveries} == {
        ("refuses", False),
        ("takes", True),
    }
    assert all(d.uid == "b1" and d.operation == "backup" for d in sent)
