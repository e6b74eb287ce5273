"""The restore workflow's logic on the time-skipping server, with its activities stood in for.

What users rely on: a restore waits for its namespaces before it touches the cluster; a
cancel, wherever it comes, is recorded as Aborted saying where; a retry is carried to every
step that applies objects; a preview takes no namespace.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from typing import Any

import pytest
from temporalio import activity
from temporalio.client import WorkflowFailureError
from temporalio.exceptions import ApplicationError, CancelledError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from lifeboat.status import RestoreStatus, Stage, VolumeStatus
from workflows.contracts import (
    MoveVolumeResult,
    RecordRestoredVolumesInput,
    RecordRestoreInput,
    RestoreInput,
    RestoreResult,
    RestoreVolumeInput,
    StageInput,
)
from workflows.errors import NAMESPACE_BUSY
from workflows.restore import RestoreWorkflow


@dataclass
class Cluster:
    """Stand-ins for the restore's activities, recording what the workflow asked for."""

    busy_for: int = 0  # lock attempts refused before the namespaces are free
    hold_data: bool = False  # the data step never ends (until cancelled)
    calls: list[str] = field(default_factory=list)
    stages: list[Stage] = field(default_factory=list)
    retries: list[bool] = field(default_factory=list)
    recorded: list[RecordRestoreInput] = field(default_factory=list)
    # Set once the restore waits for its namespaces (a second try), or moves data.
    reached: asyncio.Event = field(default_factory=asyncio.Event)

    def activities(self) -> list[Any]:
        @activity.defn(name="set_stage")
        async def stage(input: StageInput) -> None:
            self.stages.append(input.stage)

        @activity.defn(name="lock_restore_namespaces")
        async def lock(input: RestoreInput) -> None:
            self.calls.append("lock")
            if self.calls.count("lock") == 2:
                self.reached.set()
            if self.calls.count("lock") <= self.busy_for:
                raise ApplicationError("namespaces shop are being backed up", type=NAMESPACE_BUSY)

        @activity.defn(name="restore_resources")
        async def resources(input: RestoreInput) -> RestoreResult:
            self.calls.append(f"apply-{input.phase}")
            self.retries.append(input.retry)
            return RestoreResult(input.restore_uid, RestoreStatus.SUCCESS)

        @activity.defn(name="volumes_to_restore")
        async def volumes(input: RestoreInput) -> list[RestoreVolumeInput]:
            return [RestoreVolumeInput(input.restore_uid, "shop", "orders", "s1")]

        @activity.defn(name="restore_volume")
        async def move(input: RestoreVolumeInput) -> MoveVolumeResult:
            self.calls.append("move")
            self.reached.set()
            while self.hold_data:
                activity.heartbeat()
                await asyncio.sleep(0.2)
            return MoveVolumeResult("shop", "orders", VolumeStatus.SUCCESS)

        @activity.defn(name="record_restored_volumes")
        async def record_volumes(input: RecordRestoredVolumesInput) -> RestoreResult:
            self.calls.append("record-volumes")
            return RestoreResult(input.restore_uid, RestoreStatus.IN_PROGRESS)

        @activity.defn(name="record_restore")
        async def record(input: RecordRestoreInput) -> None:
            self.recorded.append(input)

        return [stage, lock, resources, volumes, move, record_volumes, record]


async def test_a_restore_waits_for_its_namespaces_then_applies_in_order(
    env: WorkflowEnvironment,
) -> None:
    cluster = Cluster(busy_for=2)
    queue = f"restore-{uuid.uuid4()}"
    async with Worker(
        env.client, task_queue=queue, workflows=[RestoreWorkflow], activities=cluster.activities()
    ):
        result = await env.client.execute_workflow(
            RestoreWorkflow.run, RestoreInput("r1", retry=True), id=f"restore-{uuid.uuid4()}",
            task_queue=queue,
        )  # fmt: skip
    assert result.status == RestoreStatus.SUCCESS
    assert cluster.calls == [
        "lock", "lock", "lock", "apply-claims", "move", "record-volumes", "apply-rest",
    ]  # fmt: skip
    assert cluster.stages[0] == Stage.WAITING_FOR_NAMESPACES
    assert Stage.MOVE_VOLUME_DATA in cluster.stages
    assert cluster.retries == [True, True]  # both apply steps leave the restored alone
    assert cluster.recorded == []


async def test_a_preview_takes_no_namespace(env: WorkflowEnvironment) -> None:
    cluster = Cluster(busy_for=100)
    queue = f"restore-{uuid.uuid4()}"
    async with Worker(
        env.client, task_queue=queue, workflows=[RestoreWorkflow], activities=cluster.activities()
    ):
        await env.client.execute_workflow(
            RestoreWorkflow.run, RestoreInput("r1", dry_run=True), id=f"restore-{uuid.uuid4()}",
            task_queue=queue,
        )  # fmt: skip
    assert cluster.calls == ["apply-claims", "record-volumes", "apply-rest"]


@pytest.mark.parametrize("where", [Stage.WAITING_FOR_NAMESPACES, Stage.MOVE_VOLUME_DATA])
async def test_a_cancelled_restore_is_recorded_aborted_saying_where(
    env: WorkflowEnvironment, where: Stage
) -> None:
    waiting = where == Stage.WAITING_FOR_NAMESPACES
    cluster = Cluster(busy_for=10_000 if waiting else 0, hold_data=not waiting)
    queue = f"restore-{uuid.uuid4()}"
    async with Worker(
        env.client, task_queue=queue, workflows=[RestoreWorkflow], activities=cluster.activities()
    ):
        handle = await env.client.start_workflow(
            RestoreWorkflow.run, RestoreInput("r1"), id=f"restore-{uuid.uuid4()}",
            task_queue=queue,
        )  # fmt: skip
        await asyncio.wait_for(cluster.reached.wait(), timeout=60)
        await handle.cancel()
        with pytest.raises(WorkflowFailureError) as failure:
            await handle.result()
        cluster.hold_data = False
    assert isinstance(failure.value.cause, CancelledError)
    assert cluster.recorded == [
        RecordRestoreInput("r1", status=RestoreStatus.ABORTED, reason=f"cancelled during {where}")
    ]
    assert "apply-rest" not in cluster.calls
