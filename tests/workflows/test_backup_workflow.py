"""The backup workflow's logic on the time-skipping server, with its activities stood in for;
and replays of recorded backup and restore runs.

What users rely on: post rules run wherever pre rules ran, whatever fails; snapshots are
always deleted; the outcome is always recorded with its reason.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from temporalio import activity
from temporalio.client import WorkflowHistory
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer, Worker

from lifeboat.status import VolumeStatus
from workflows.backup import BackupWorkflow
from workflows.contracts import (
    BackupInput,
    BackupPlan,
    BackupResult,
    ExportResult,
    FreezeInput,
    FreezeResult,
    MoveVolumeInput,
    MoveVolumeResult,
    RecordBackupInput,
    RulesInput,
    RulesResult,
    StageInput,
    VolumeRef,
)
from workflows.errors import RULE_FAILED
from workflows.restore import RestoreWorkflow

HISTORIES = Path(__file__).parent / "histories"


@dataclass
class Cluster:
    """Stand-ins for the activities, recording what the workflow asked for."""

    fail_at: str = ""
    pre_reached: list[str] = field(default_factory=lambda: ["ns/db-0"])
    calls: list[str] = field(default_factory=list)
    post_pods: list[list[str] | None] = field(default_factory=list)
    recorded: list[RecordBackupInput] = field(default_factory=list)
    # A VM backup of these VMs; the freeze reaches those with a launcher pod.
    virtual_machines: list[str] = field(default_factory=list)
    launchers: list[str] = field(default_factory=list)
    thawed: list[list[str] | None] = field(default_factory=list)

    def _step(self, name: str) -> None:
        self.calls.append(name)
        if self.fail_at == name:
            raise ApplicationError(f"{name} broke", type="Boom", non_retryable=True)

    def activities(self) -> list[Any]:
        @activity.defn(name="validate_backup")
        async def validate(input: BackupInput) -> BackupPlan:
            self._step("validate")
            return BackupPlan(
                "c", "l", ["ns"], pre_rule_uid="pre", post_rule_uid="post", pre_background=True,
                virtual_machines=self.virtual_machines,
            )  # fmt: skip

        @activity.defn(name="lock_namespaces")
        async def lock(input: BackupInput) -> None:
            self._step("lock")

        @activity.defn(name="set_stage")
        async def stage(input: StageInput) -> None:
            pass

        @activity.defn(name="hold_background_actions")
        async def hold(input: RulesInput) -> int:
            self._step("hold")
            while True:  # held until the workflow cancels it, as the real one is
                activity.heartbeat()
                await asyncio.sleep(0.1)

        @activity.defn(name="run_rules")
        async def rules(input: RulesInput) -> RulesResult:
            if input.phase == "post":
                self.post_pods.append(input.pods)
                return RulesResult(pods=input.pods or [], ran=1)
            if self.fail_at == "pre":
                raise ApplicationError(
                    "exit code 3", self.pre_reached, type=RULE_FAILED, non_retryable=True
                )
            return RulesResult(pods=["ns/db-0", "ns/db-1"], ran=2)

        @activity.defn(name="freeze_virtual_machines")
        async def freeze(input: FreezeInput) -> FreezeResult:
            self._step("freeze")
            stopped = [vm for vm in self.virtual_machines if vm not in self.launchers]
            return FreezeResult(self.launchers, [f"{vm} not running" for vm in stopped])

        @activity.defn(name="thaw_virtual_machines")
        async def thaw(input: FreezeInput) -> FreezeResult:
            self.calls.append("thaw")
            self.thawed.append(input.virtual_machines)
            return FreezeResult(input.virtual_machines or self.launchers)

        @activity.defn(name="export_resources")
        async def export(input: BackupInput) -> ExportResult:
            self._step("export")
            return ExportResult(resource_count=3, index_key="k")

        @activity.defn(name="snapshot_volumes")
        async def snapshot(input: BackupInput) -> list[VolumeRef]:
            self._step("snapshot")
            return [VolumeRef("ns", "data", "snap", 10)]

        @activity.defn(name="move_volume")
        async def move(input: MoveVolumeInput) -> MoveVolumeResult:
            self._step("move")
            return MoveVolumeResult("ns", "data", VolumeStatus.SUCCESS, bytes_total=10)

        @activity.defn(name="write_manifest")
        async def manifest(input: BackupInput) -> str:
            self._step("manifest")
            return "m"

        @activity.defn(name="delete_snapshots")
        async def delete(input: BackupInput) -> int:
            self.calls.append("delete_snapshots")
            return 1

        @activity.defn(name="record_backup")
        async def record(input: RecordBackupInput) -> BackupResult:
            self.recorded.append(input)
            return BackupResult(input.backup_uid, input.status, input.reason)

        return [validate, lock, stage, hold, rules, freeze, thaw, export, snapshot, move,
                manifest, delete, record]  # fmt: skip


async def _run(env: WorkflowEnvironment, cluster: Cluster) -> BackupResult:
    queue = f"backup-{uuid.uuid4()}"
    async with Worker(
        env.client, task_queue=queue, workflows=[BackupWorkflow], activities=cluster.activities()
    ):
        result: BackupResult = await env.client.execute_workflow(
            BackupWorkflow.run, BackupInput("b1"), id=f"backup-{uuid.uuid4()}", task_queue=queue
        )
        return result


async def test_a_successful_backup_thaws_before_moving_data_and_removes_snapshots(
    env: WorkflowEnvironment,
) -> None:
    cluster = Cluster()
    result = await _run(env, cluster)
    assert result.status == "Success"
    assert cluster.post_pods == [["ns/db-0", "ns/db-1"]]
    assert cluster.calls.index("snapshot") < cluster.calls.index("move")
    assert cluster.calls[-1] == "delete_snapshots"
    assert [r.status for r in cluster.recorded] == ["Success"]
    assert "freeze" not in cluster.calls and "thaw" not in cluster.calls  # no VMs in it


@pytest.mark.parametrize("step", ["export", "snapshot", "move", "manifest"])
async def test_a_failed_step_still_thaws_cleans_up_and_records_why(
    env: WorkflowEnvironment, step: str
) -> None:
    cluster = Cluster(fail_at=step)
    result = await _run(env, cluster)
    assert result.status == "Failed"
    assert f"{step} broke" in result.reason
    assert cluster.post_pods == [["ns/db-0", "ns/db-1"]]  # exactly once
    assert ("delete_snapshots" in cluster.calls) == (step != "export")
    assert [r.status for r in cluster.recorded] == ["Failed"]


async def test_a_failing_pre_rule_thaws_only_the_pods_it_reached(env: WorkflowEnvironment) -> None:
    cluster = Cluster(fail_at="pre", pre_reached=["ns/db-0"])
    result = await _run(env, cluster)
    assert result.status == "Failed" and "exit code 3" in result.reason
    assert cluster.post_pods == [["ns/db-0"]]
    assert "export" not in cluster.calls


async def test_a_vm_backup_freezes_just_before_the_snapshots_and_thaws_right_after(
    env: WorkflowEnvironment,
) -> None:
    cluster = Cluster(virtual_machines=["ns/web", "ns/idle"], launchers=["ns/web"])
    result = await _run(env, cluster)
    assert result.status == "Success"
    calls = cluster.calls
    assert calls.index("export") < calls.index("freeze") < calls.index("snapshot")
    assert calls.index("snapshot") < calls.index("thaw") < calls.index("move")
    assert cluster.thawed == [["ns/web"]]  # once, where the freeze ran
    assert "ns/idle not running" in result.reason  # backed up crash-consistent, and said so


async def test_a_vm_backup_whose_vms_all_stopped_has_nothing_to_thaw(
    env: WorkflowEnvironment,
) -> None:
    cluster = Cluster(virtual_machines=["ns/idle"], launchers=[])
    result = await _run(env, cluster)
    assert result.status == "Success"
    assert "freeze" in cluster.calls and "thaw" not in cluster.calls
    assert "ns/idle not running" in result.reason


@pytest.mark.parametrize("step", ["freeze", "snapshot", "move"])
async def test_a_vm_backup_that_fails_still_thaws_once(env: WorkflowEnvironment, step: str) -> None:
    cluster = Cluster(fail_at=step, virtual_machines=["ns/web"], launchers=["ns/web"])
    result = await _run(env, cluster)
    assert result.status == "Failed" and f"{step} broke" in result.reason
    # A freeze that never answered may have frozen any of them: all are thawed.
    assert cluster.thawed == [None if step == "freeze" else ["ns/web"]]
    assert cluster.post_pods == [["ns/db-0", "ns/db-1"]]


@pytest.mark.parametrize(
    ("workflow", "recorded", "workflow_id"),
    [
        # Recorded on the dev stack: a backup of a namespace with a pod, a claim, pre rules
        # with a background action and post rules; then its restore into the deleted namespace.
        (BackupWorkflow, "backup_run.json", "backup-085554a3-5cd6-4919-b898-0825f2167b1f"),
        # A backup of a namespace with a claim, each stage's record written beside its step.
        (
            BackupWorkflow,
            "backup_run_stages_beside.json",
            "backup-7591d90e-0eff-42cf-a07c-5c36aa17225a",
        ),
        (RestoreWorkflow, "restore_run.json", "restore-d13c74eb-d804-44e2-ad1b-8e65a5c52ee0"),
        # Recorded on the time-skipping server (tests/workflows/test_restore_workflow.py's
        # stand-ins): a restore that waited once for its namespaces, applied its claims, and
        # was cancelled while its data moved.
        (
            RestoreWorkflow,
            "restore_cancelled.json",
            "restore-5b0c8e0e-1f6a-4d7e-9a51-3c2f0a7d9e11",
        ),
    ],
)
async def test_recorded_backup_and_restore_runs_replay(
    workflow: type, recorded: str, workflow_id: str
) -> None:
    """A change that breaks running backups or restores (determinism, or a payload that no
    longer decodes into the contracts) fails here."""
    history = WorkflowHistory.from_json(workflow_id, (HISTORIES / recorded).read_text())
    result = await Replayer(workflows=[workflow]).replay_workflow(history)
    assert result.replay_failure is None
