"""DiscoveryWorkflow on the time-skipping test server, with its activities mocked by name."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from temporalio import activity
from temporalio.client import WorkflowFailureError, WorkflowHistory
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer, Worker

from lifeboat.status import DiscoveryStatus
from workflows.contracts import (
    DiscoveryInput,
    DiscoveryResult,
    ReconcileShootInput,
    RecordDiscoveryInput,
    RetireInput,
    ShootListing,
    ShootOutcome,
    ShootRef,
)
from workflows.discovery import DiscoveryWorkflow

HISTORY = Path(__file__).parent / "histories" / "discovery_run.json"
# The workflow id the recorded history was generated under: a run over three shoots, one of
# which failed.
REPLAY_WORKFLOW_ID = "discovery-replay-run"

A = ShootRef(namespace="garden-a", name="web", uid="uid-a")
B = ShootRef(namespace="garden-b", name="web", uid="uid-b")
C = ShootRef(namespace="garden-c", name="db", uid="uid-c")


class Garden:
    """A fake garden and catalog: what the activities answer, and what they were asked."""

    def __init__(self, listing: ShootListing, outcomes: dict[str, ShootOutcome | Exception]):
        self.listing = listing
        self.outcomes = outcomes
        self.reconciled: list[str] = []
        self.retire_calls: list[RetireInput] = []
        self.recorded: list[RecordDiscoveryInput] = []

    def activities(self) -> list[Callable[..., Any]]:
        @activity.defn(name="list_shoots")
        async def list_shoots(input: DiscoveryInput) -> ShootListing:
            return self.listing

        @activity.defn(name="reconcile_shoot")
        async def reconcile_shoot(input: ReconcileShootInput) -> ShootOutcome:
            self.reconciled.append(input.shoot.uid)
            outcome = self.outcomes[input.shoot.uid]
            if isinstance(outcome, Exception):
                raise outcome
            return outcome

        @activity.defn(name="retire_missing")
        async def retire_missing(input: RetireInput) -> list[str]:
            self.retire_calls.append(input)
            return ["cluster-gone"]

        @activity.defn(name="record_discovery")
        async def record_discovery(input: RecordDiscoveryInput) -> DiscoveryResult:
            self.recorded.append(input)
            return DiscoveryResult(
                config_uid=input.config_uid,
                status=DiscoveryStatus.FAILED if not input.reachable else DiscoveryStatus.READY,
                reason=input.reason,
                onboarded=input.onboarded,
                refreshed=input.refreshed,
                retired=input.retired,
                failed=input.failed,
            )

        return [list_shoots, reconcile_shoot, retire_missing, record_discovery]


async def run_discovery(env: WorkflowEnvironment, garden: Garden) -> DiscoveryResult:
    task_queue = f"discovery-{uuid.uuid4()}"
    async with Worker(
        env.client,
        task_queue=task_queue,
        workflows=[DiscoveryWorkflow],
        activities=garden.activities(),
    ):
        return await env.client.execute_workflow(
            DiscoveryWorkflow.run,
            DiscoveryInput(config_uid="config-1"),
            id=f"discovery-{uuid.uuid4()}",
            task_queue=task_queue,
        )


async def test_an_unreachable_garden_is_recorded_and_no_cluster_touched(
    env: WorkflowEnvironment,
) -> None:
    garden = Garden(ShootListing(reachable=False, reason="cannot reach the garden"), {})
    result = await run_discovery(env, garden)
    assert result.status == "Failed" and result.reason == "cannot reach the garden"
    assert garden.reconciled == [] and garden.retire_calls == []
    assert [r.reachable for r in garden.recorded] == [False]


async def test_every_shoot_is_handled_even_when_one_fails_then_the_missing_are_retired(
    env: WorkflowEnvironment,
) -> None:
    garden = Garden(
        ShootListing(reachable=True, shoots=[A, B, C]),
        {
            A.uid: ShootOutcome(action="onboarded", cluster_uid="cluster-a"),
            B.uid: ApplicationError("the secret is unreadable", non_retryable=True),
            C.uid: ShootOutcome(action="refreshed", cluster_uid="cluster-c", reason="expires"),
        },
    )
    result = await run_discovery(env, garden)
    assert garden.reconciled == [A.uid, B.uid, C.uid]
    assert garden.retire_calls == [
        RetireInput(config_uid="config-1", present=[A.uid, B.uid, C.uid])
    ]
    (recorded,) = garden.recorded
    assert (recorded.matched, recorded.onboarded, recorded.refreshed, recorded.failed) == (
        3,
        1,
        1,
        1,
    )
    assert recorded.retired == 1
    assert recorded.problems[0].startswith("shoot garden-b/web: ")
    assert "the secret is unreadable" in recorded.problems[0]
    assert recorded.problems[1] == "shoot garden-c/db: expires"
    assert (result.onboarded, result.refreshed, result.retired, result.failed) == (1, 1, 1, 1)


async def test_a_configuration_deleted_during_the_run_ends_it(env: WorkflowEnvironment) -> None:
    gone = ApplicationError("gone", type="DiscoveryConfigNotFound", non_retryable=True)
    garden = Garden(ShootListing(reachable=True, shoots=[A, B]), {A.uid: gone, B.uid: gone})
    with pytest.raises(WorkflowFailureError):
        await run_discovery(env, garden)
    assert garden.reconciled == [A.uid]
    assert garden.retire_calls == [] and garden.recorded == []


async def test_recorded_run_replays() -> None:
    """A change to the workflow that breaks determinism for running discoveries fails here."""
    history = WorkflowHistory.from_json(REPLAY_WORKFLOW_ID, HISTORY.read_text())
    result = await Replayer(workflows=[DiscoveryWorkflow]).replay_workflow(history)
    assert result.replay_failure is None
