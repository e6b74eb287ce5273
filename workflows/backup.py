"""Backup: validate, lock, pre rules, export, snapshot, post rules, move data, manifest.

Every step is an activity with a named preset. Post rules always run for the pods whose pre
rules ran, also when a later step failed or the backup was cancelled; and the result is always
recorded with its reason: a backup never stays InProgress. Once it is, the owner's
subscribed receivers are notified (workflows/notify.py). A VM backup's VMs are frozen
just before the snapshots and thawed after them, the same way: always, once the freeze began.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError, CancelledError

from lifeboat.status import BackupStatus, RulePhase, Stage
from workflows import options
from workflows.contracts import (
    BackupInput,
    BackupPlan,
    BackupResult,
    ExportResult,
    FreezeInput,
    FreezeResult,
    MoveVolumeInput,
    Operation,
    RecordBackupInput,
    RulesInput,
    RulesResult,
    StageInput,
    VolumeRef,
)
from workflows.errors import RULE_FAILED
from workflows.notify import start_notifications

# The patch that writes a stage's record beside its first step instead of before it.
STAGE_BESIDE_STEP = "stage-beside-step"

with workflow.unsafe.imports_passed_through():
    from activities.backup import BackupActivities
    from activities.catalog import CatalogActivities
    from activities.rules import RuleActivities
    from activities.volumes import VolumeActivities


def _reason(error: BaseException) -> str:
    cause = error.cause if isinstance(error, ActivityError) and error.cause else error
    return getattr(cause, "message", None) or str(cause) or type(cause).__name__


def _pods_reached(error: ActivityError) -> list[str] | None:
    """The pods a failed pre rule ran in, carried in its error's details."""
    cause = error.cause
    if isinstance(cause, ApplicationError) and cause.type == RULE_FAILED and cause.details:
        pods: list[str] = list(cause.details[0])
        return pods
    return None


async def _release(hold: Any) -> None:
    """Cancel the activity holding background actions and wait until it has let go."""
    if hold.done():
        return
    hold.cancel()
    with contextlib.suppress(ActivityError, CancelledError, asyncio.CancelledError):
        await hold  # ends cancelled, as asked


@workflow.defn
class BackupWorkflow:
    """Backs up namespaces of a cluster to a backup location."""

    def __init__(self) -> None:
        self.stage = Stage.PENDING
        self.plan: BackupPlan | None = None
        # Pods where pre rules ran (None: pre rules never started, so post rules run everywhere).
        self.pre_pods: list[str] | None = None
        self.pre_started = False
        self.post_done = False
        self.snapshotted = False
        # VMs the freeze ran in (None: it never answered, so all are thawed).
        self.frozen: list[str] | None = None
        self.freeze_started = False
        self.thaw_done = False
        # VMs backed up crash-consistent, and why.
        self.notes: list[str] = []
        # The stage record being written beside the stage's first step.
        self._writing: Any = None

    @workflow.query
    def current_stage(self) -> Stage:
        return self.stage

    async def _stage(self, input: BackupInput, stage: Stage) -> None:
        """Enter a stage. Its record in the catalog (what the API shows while the backup runs)
        is written beside the stage's first step, not before it: a round trip to the worker
        fewer per stage, which six backups at once made 0.3-0.5 s each. The previous stage's
        write ends first, so the records keep their order. Runs started before this change
        waited for each write."""
        beside = workflow.patched(STAGE_BESIDE_STEP)
        await self._stage_written()
        self.stage = stage
        self._writing = workflow.start_activity_method(
            CatalogActivities.set_stage,
            StageInput(input.backup_uid, stage),
            **options.CATALOG_WRITE,
        )
        if not beside:
            await self._stage_written()

    async def _stage_written(self) -> None:
        """Wait for the last stage's record to be written."""
        if self._writing is not None:
            writing, self._writing = self._writing, None
            await writing

    async def _pre_rules(self, input: BackupInput, plan: BackupPlan) -> Any:
        """Start the background actions, run the foreground ones; return the hold to end."""
        await self._stage(input, Stage.PRE_RULES)
        rules = RulesInput(input.backup_uid, plan.pre_rule_uid, RulePhase.PRE)
        self.pre_started = True
        hold = (
            workflow.start_activity_method(
                RuleActivities.hold_background_actions, rules, **options.HOLD
            )
            if plan.pre_background
            else None
        )
        try:
            result: RulesResult = await workflow.execute_activity_method(
                RuleActivities.run_rules, rules, **options.PRE_RULES
            )
        except ActivityError as exc:
            self.pre_pods = _pods_reached(exc)
            if hold is not None:
                await _release(hold)
            raise
        self.pre_pods = result.pods
        return hold

    async def _freeze(self, input: BackupInput) -> None:
        """Freeze the VMs' guest file systems; the snapshots come right after."""
        await self._stage(input, Stage.FREEZE_VIRTUAL_MACHINES)
        self.freeze_started = True
        result: FreezeResult = await workflow.execute_activity_method(
            RuleActivities.freeze_virtual_machines,
            FreezeInput(input.backup_uid),
            **options.PRE_RULES,
        )
        self.frozen = result.reached
        self.notes.extend(result.problems)

    async def _thaw(self, input: BackupInput) -> str:
        """Thaw what the freeze reached, once; '' or why it failed."""
        if not self.freeze_started or self.thaw_done:
            return ""
        if self.frozen == [] and workflow.patched("no-thaw-when-nothing-froze"):
            return ""  # the freeze answered and reached no VM (none had a launcher pod)
        self.stage = Stage.THAW_VIRTUAL_MACHINES
        self.thaw_done = True
        try:
            result: FreezeResult = await workflow.execute_activity_method(
                RuleActivities.thaw_virtual_machines,
                FreezeInput(input.backup_uid, self.frozen),
                **options.POST_RULES,
            )
        except ActivityError as exc:
            return _reason(exc)
        return "; ".join(result.problems)

    async def _post_rules(self, input: BackupInput) -> str:
        """Run post rules where pre rules ran; '' or why they failed."""
        plan = self.plan
        if plan is None or not plan.post_rule_uid:
            return ""
        if plan.pre_rule_uid and self.pre_started and self.pre_pods is not None:
            pods: list[str] | None = self.pre_pods
        elif plan.pre_rule_uid and not self.pre_started:
            return ""  # nothing was frozen: nothing to undo
        else:
            pods = None
        self.stage = Stage.POST_RULES
        self.post_done = True
        try:
            result: RulesResult = await workflow.execute_activity_method(
                RuleActivities.run_rules,
                RulesInput(input.backup_uid, plan.post_rule_uid, RulePhase.POST, pods),
                **options.POST_RULES,
            )
        except ActivityError as exc:
            return _reason(exc)
        return "; ".join(result.failures)

    @workflow.run
    async def run(self, input: BackupInput) -> BackupResult:
        status, reason = BackupStatus.FAILED, ""
        hold = None
        cancelled = False
        try:
            await self._stage(input, Stage.VALIDATE)
            self.plan = plan = await workflow.execute_activity_method(
                BackupActivities.validate_backup, input, **options.VALIDATE
            )
            await self._stage(input, Stage.WAITING_FOR_NAMESPACES)
            await workflow.execute_activity_method(
                BackupActivities.lock_namespaces, input, **options.NAMESPACE_LOCK
            )
            if plan.pre_rule_uid:
                hold = await self._pre_rules(input, plan)
            if plan.export:  # not when retrying only failed volumes
                await self._stage(input, Stage.EXPORT_RESOURCES)
                exported: ExportResult = await workflow.execute_activity_method(
                    BackupActivities.export_resources, input, **options.RESOURCES
                )
                workflow.logger.info(
                    "backup of %s: %d objects",
                    ", ".join(plan.namespaces),
                    exported.resource_count,
                )
            volumes: list[VolumeRef] = []
            if plan.volumes:
                if plan.virtual_machines:
                    await self._freeze(input)
                await self._stage(input, Stage.SNAPSHOT_VOLUMES)
                self.snapshotted = True
                volumes = await workflow.execute_activity_method(
                    VolumeActivities.snapshot_volumes, input, **options.SNAPSHOTS
                )
            # The point in time is taken: end what pre rules hold and thaw the application
            # now rather than after the data is moved.
            thaw_failure = await self._thaw(input)
            if hold is not None:
                await _release(hold)
            post_failure = await self._post_rules(input)
            if volumes:
                await self._stage(input, Stage.MOVE_VOLUME_DATA)
                # Each volume records its own result; record_backup makes any failed one a
                # PartialSuccess, naming it.
                await asyncio.gather(
                    *(
                        workflow.execute_activity_method(
                            VolumeActivities.move_volume,
                            MoveVolumeInput(input.backup_uid, volume),
                            **options.MOVE_DATA,
                        )
                        for volume in volumes
                    )
                )
            await self._stage(input, Stage.WRITE_MANIFEST)
            await workflow.execute_activity_method(
                BackupActivities.write_manifest, input, **options.CATALOG_WRITE
            )
            status = (
                BackupStatus.PARTIAL_SUCCESS
                if post_failure or thaw_failure
                else BackupStatus.SUCCESS
            )
            reason = "; ".join(
                ([f"thaw: {thaw_failure}"] if thaw_failure else [])
                + ([f"post rules: {post_failure}"] if post_failure else [])
                + self.notes
            )
        except (ActivityError, ApplicationError) as exc:
            if isinstance(exc, ActivityError) and isinstance(exc.cause, CancelledError):
                # The backup was cancelled while this step ran (the step was cancelled too).
                status, reason = BackupStatus.ABORTED, f"cancelled during {self.stage}"
                cancelled = True
            else:
                reason = f"{self.stage}: {_reason(exc)}"
        except (CancelledError, asyncio.CancelledError):
            status, reason = BackupStatus.ABORTED, f"cancelled during {self.stage}"
            raise
        finally:
            # Shielded from a cancel: undo what pre rules did, then record the outcome.
            status, reason = await asyncio.shield(
                asyncio.ensure_future(self._finish(input, hold, status, reason))
            )
        await start_notifications(Operation.BACKUP, input.backup_uid)
        if cancelled:
            raise asyncio.CancelledError(reason)  # shown as Canceled in the Temporal UI
        return BackupResult(backup_uid=input.backup_uid, status=status, reason=reason)

    async def _finish(
        self, input: BackupInput, hold: Any, status: BackupStatus, reason: str
    ) -> tuple[BackupStatus, str]:
        thaw_failure = await self._thaw(input)
        if thaw_failure:
            reason = "; ".join(r for r in (reason, f"thaw: {thaw_failure}") if r)
        if hold is not None:
            await _release(hold)
        if not self.post_done:
            post_failure = await self._post_rules(input)
            if post_failure:
                reason = "; ".join(r for r in (reason, f"post rules: {post_failure}") if r)
        # The failed stage's record lands before the outcome's (a cancel ended it: no matter).
        with contextlib.suppress(ActivityError, CancelledError, asyncio.CancelledError):
            await self._stage_written()
        if self.snapshotted:
            # The data is in the location (or the backup failed): snapshots are not kept.
            await workflow.execute_activity_method(
                VolumeActivities.delete_snapshots, input, **options.SNAPSHOTS
            )
        recorded: BackupResult = await workflow.execute_activity_method(
            BackupActivities.record_backup,
            RecordBackupInput(input.backup_uid, status=status, reason=reason),
            **options.CATALOG_WRITE,
        )
        return recorded.status, recorded.reason
