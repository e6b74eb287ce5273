"""Restore: apply a backup's objects to the same or another cluster, in the documented order."""

from __future__ import annotations

from temporalio import workflow
from temporalio.exceptions import ActivityError

from workflows import options
from workflows.contracts import RecordRestoreInput, RestoreInput, RestoreResult, StageInput

with workflow.unsafe.imports_passed_through():
    from activities.backup import BackupActivities


@workflow.defn
class RestoreWorkflow:
    """Restores (or, with `dry_run`, previews) a backup; each object's result is recorded."""

    @workflow.run
    async def run(self, input: RestoreInput) -> RestoreResult:
        await workflow.execute_activity_method(
            BackupActivities.set_stage,
            StageInput(input.restore_uid, "ApplyResources"),
            **options.CATALOG_WRITE,
        )
        try:
            return await workflow.execute_activity_method(
                BackupActivities.restore_resources, input, **options.RESOURCES
            )
        except ActivityError as exc:
            reason = getattr(exc.cause, "message", None) or str(exc.cause or exc)
            await workflow.execute_activity_method(
                BackupActivities.record_restore,
                RecordRestoreInput(input.restore_uid, status="Failed", reason=reason),
                **options.CATALOG_WRITE,
            )
            return RestoreResult(restore_uid=input.restore_uid, status="Failed", reason=reason)
