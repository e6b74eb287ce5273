"""ClusterSyncWorkflow on the time-skipping test server, with its activities mocked by name."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from temporalio import activity
from temporalio.client import WorkflowFailureError, WorkflowHistory
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer, Worker

from lifeboat.status import ClusterStatus
from workflows.cluster_sync import ClusterSyncWorkflow
from workflows.contracts import (
    ClusterInventory,
    ClusterSyncInput,
    ClusterSyncResult,
    RecordInventoryInput,
)

HISTORIES = Path(__file__).parent / "histories"
# The workflow id the recorded history was generated under.
REPLAY_WORKFLOW_ID = "cluster-sync-replay-online"

ONLINE = ClusterInventory(
    status=ClusterStatus.ONLINE,
    kubernetes_version="v1.31.2",
    namespaces=["default", "shop", "kube-system"],
    application_count=4,
    pvc_count=2,
    pvc_requested_bytes=3 * 1024**3,
)
OFFLINE = ClusterInventory(
    status=ClusterStatus.OFFLINE, reason="connection refused: https://10.0.0.1:6443"
)


class Cluster:
    """A fake cluster and catalog: what take_inventory answers, what record_inventory saw."""

    def __init__(self, inventory: ClusterInventory, *, failures: int = 0) -> None:
        self.inventory = inventory
        self.failures = failures
        self.inventory_attempts = 0
        self.recorded: list[RecordInventoryInput] = []

    def activities(self) -> list[Callable[..., Any]]:
        @activity.defn(name="take_inventory")
        async def take_inventory(input: ClusterSyncInput) -> ClusterInventory:
            self.inventory_attempts += 1
            if self.inventory_attempts <= self.failures:
                raise RuntimeError(f"API server hiccup {self.inventory_attempts}")
            return self.inventory

        @activity.defn(name="record_inventory")
        async def record_inventory(input: RecordInventoryInput) -> ClusterSyncResult:
            self.recorded.append(input)
            return ClusterSyncResult(
                cluster_uid=input.cluster_uid,
                status=input.inventory.status,
                reason=input.inventory.reason,
            )

        return [take_inventory, record_inventory]


async def run_sync(
    env: WorkflowEnvironment,
    activities: Sequence[Callable[..., Any]],
    cluster_uid: str = "c-1",
    workflow_id: str | None = None,
) -> ClusterSyncResult:
    task_queue = f"cluster-sync-{uuid.uuid4()}"
    async with Worker(
        env.client,
        task_queue=task_queue,
        workflows=[ClusterSyncWorkflow],
        activities=activities,
    ):
        return await env.client.execute_workflow(
            ClusterSyncWorkflow.run,
            ClusterSyncInput(cluster_uid=cluster_uid),
            id=workflow_id or f"cluster-sync-{uuid.uuid4()}",
            task_queue=task_queue,
        )


async def test_online_inventory_is_recorded_unchanged(env: WorkflowEnvironment) -> None:
    cluster = Cluster(ONLINE)
    result = await run_sync(env, cluster.activities(), cluster_uid="c-online")
    assert cluster.recorded == [RecordInventoryInput(cluster_uid="c-online", inventory=ONLINE)]
    assert result == ClusterSyncResult(cluster_uid="c-online", status=ClusterStatus.ONLINE)


async def test_offline_inventory_is_recorded_and_the_sync_succeeds(
    env: WorkflowEnvironment,
) -> None:
    cluster = Cluster(OFFLINE)
    result = await run_sync(env, cluster.activities(), cluster_uid="c-offline")
    assert cluster.recorded == [RecordInventoryInput(cluster_uid="c-offline", inventory=OFFLINE)]
    assert result == ClusterSyncResult(
        cluster_uid="c-offline", status=ClusterStatus.OFFLINE, reason=OFFLINE.reason
    )


async def test_inventory_is_retried_after_transient_failures(env: WorkflowEnvironment) -> None:
    cluster = Cluster(ONLINE, failures=2)
    result = await run_sync(env, cluster.activities())
    assert cluster.inventory_attempts == 3
    assert result.status == "Online"
    assert len(cluster.recorded) == 1


async def test_cluster_not_found_fails_the_sync(env: WorkflowEnvironment) -> None:
    attempts = 0

    @activity.defn(name="record_inventory")
    async def record_inventory(input: RecordInventoryInput) -> ClusterSyncResult:
        nonlocal attempts
        attempts += 1
        raise ApplicationError(
            f"cluster {input.cluster_uid} was deleted", type="ClusterNotFound", non_retryable=True
        )

    take_inventory = Cluster(ONLINE).activities()[0]
    with pytest.raises(WorkflowFailureError) as caught:
        await run_sync(env, [take_inventory, record_inventory], cluster_uid="c-gone")

    causes: list[BaseException] = []
    cause: BaseException | None = caught.value.cause
    while cause is not None:
        causes.append(cause)
        cause = cause.__cause__
    application_errors = [c for c in causes if isinstance(c, ApplicationError)]
    assert [e.type for e in application_errors] == ["ClusterNotFound"]
    assert "cluster c-gone was deleted" in str(application_errors[0])
    assert attempts == 1


async def test_recorded_online_history_replays() -> None:
    """A change to the workflow that breaks determinism for running syncs fails here."""
    text = (HISTORIES / "cluster_sync_online.json").read_text()
    history = WorkflowHistory.from_json(REPLAY_WORKFLOW_ID, text)
    result = await Replayer(workflows=[ClusterSyncWorkflow]).replay_workflow(history)
    assert result.replay_failure is None
