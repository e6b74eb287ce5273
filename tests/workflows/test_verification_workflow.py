"""The verification workflow's logic on the time-skipping server, with its activities stood in
for: the scratch namespaces are removed and the outcome recorded, whatever fails, and also
when the verification is cancelled."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from typing import Any

import pytest
from temporalio import activity
from temporalio.client import WorkflowFailureError, WorkflowHandle
from temporalio.exceptions import ApplicationError, CancelledError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from workflows.contracts import (
    FinishVerificationInput,
    VerificationPlan,
    VerificationResult,
    VerifyInput,
    VerifyVolumeInput,
)
from workflows.verification import VerifyBackupWorkflow


@dataclass
class Verification:
    """Stand-ins for the activities, recording what the workflow asked for."""

    fail_at: str = ""
    hang_at: str = ""
    calls: list[str] = field(default_factory=list)
    finished: list[FinishVerificationInput] = field(default_factory=list)
    started: asyncio.Event = field(default_factory=asyncio.Event)

    async def _step(self, name: str) -> None:
        self.calls.append(name)
        if self.fail_at == name:
            raise ApplicationError(f"{name} broke", type="Boom", non_retryable=True)
        if self.hang_at == name:
            self.started.set()
            while True:  # until the workflow's cancel reaches it
                activity.heartbeat()
                await asyncio.sleep(0.1)

    def activities(self) -> list[Any]:
        @activity.defn(name="begin_verification")
        async def begin(input: VerifyInput) -> VerificationPlan:
            await self._step("begin")
            return VerificationPlan(input.backup_uid, "c", {"shop": "lifeboat-verify-b1"})

        @activity.defn(name="remove_scratch_namespaces")
        async def remove(input: VerificationPlan) -> int:
            self.calls.append("remove")
            return 1

        @activity.defn(name="restore_for_verification")
        async def restore(input: VerificationPlan) -> list[VerifyVolumeInput]:
            await self._step("restore")
            return [VerifyVolumeInput("b1", "c", "lifeboat-verify-b1", pvc, "s") for pvc in "ab"]

        @activity.defn(name="verify_volume")
        async def verify(input: VerifyVolumeInput) -> str:
            await self._step(f"verify {input.pvc}")
            return "Passed"

        @activity.defn(name="finish_verification")
        async def finish(input: FinishVerificationInput) -> VerificationResult:
            self.finished.append(input)
            status = "Cancelled" if input.cancelled else "Failed" if input.reason else "Passed"
            return VerificationResult(input.backup_uid, status, input.reason)

        return [begin, remove, restore, verify, finish]


async def _start(env: WorkflowEnvironment, queue: str) -> WorkflowHandle[Any, VerificationResult]:
    return await env.client.start_workflow(
        VerifyBackupWorkflow.run, VerifyInput("b1"), id=f"verify-{uuid.uuid4()}", task_queue=queue
    )


def _worker(env: WorkflowEnvironment, verification: Verification, queue: str) -> Worker:
    return Worker(
        env.client,
        task_queue=queue,
        workflows=[VerifyBackupWorkflow],
        activities=verification.activities(),
    )


async def test_a_verification_cleans_up_before_and_after_and_records_its_outcome(
    env: WorkflowEnvironment,
) -> None:
    verification, queue = Verification(), f"verify-{uuid.uuid4()}"
    async with _worker(env, verification, queue):
        result = await (await _start(env, queue)).result()
    assert result.status == "Passed"
    assert verification.calls[:3] == ["begin", "remove", "restore"]
    assert sorted(verification.calls[3:5]) == ["verify a", "verify b"]
    assert verification.calls[5:] == ["remove"]
    assert [(f.reason, f.cancelled) for f in verification.finished] == [("", False)]


@pytest.mark.parametrize("step", ["restore", "verify a"])
async def test_a_failed_step_still_removes_the_scratch_namespaces_and_says_why(
    env: WorkflowEnvironment, step: str
) -> None:
    verification, queue = Verification(fail_at=step), f"verify-{uuid.uuid4()}"
    async with _worker(env, verification, queue):
        result = await (await _start(env, queue)).result()
    assert result.status == "Failed" and f"{step} broke" in result.reason
    assert verification.calls[-1] == "remove"
    if step == "verify a":  # the other volume ran to its end before the cleanup
        assert "verify b" in verification.calls
    [finished] = verification.finished
    assert f"{step} broke" in finished.reason and not finished.cancelled


async def test_a_cancelled_verification_removes_the_scratch_namespaces_and_records_it(
    env: WorkflowEnvironment,
) -> None:
    verification, queue = Verification(hang_at="restore"), f"verify-{uuid.uuid4()}"
    async with _worker(env, verification, queue):
        handle = await _start(env, queue)
        await asyncio.wait_for(verification.started.wait(), timeout=30)
        await handle.cancel()
        with pytest.raises(WorkflowFailureError) as failure:
            await handle.result()
    assert isinstance(failure.value.cause, CancelledError)
    assert verification.calls == ["begin", "remove", "restore", "remove"]
    [finished] = verification.finished
    assert finished.cancelled
