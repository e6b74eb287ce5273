"""A run of a backup schedule: one backup named `<schedule>-<yyyymmddhhmmss>`, then retention.

Started by the schedule's Temporal Schedule. The backup is a child workflow (the same backup
workflow a user starts); retention deletes what the policy no longer keeps through the
deletion workflow, never the newest successful backup. The children carry the run's owner
and cluster search attributes, so the Temporal UI finds them with the run.
"""

from __future__ import annotations

from datetime import datetime

from temporalio import workflow
from temporalio.common import SearchAttributeKey, TypedSearchAttributes
from temporalio.workflow import ParentClosePolicy

from workflows import options
from workflows.backup import BackupWorkflow
from workflows.contracts import (
    BackupInput,
    BackupResult,
    PrepareScheduledInput,
    ScheduledBackupInput,
    ScheduledBackupResult,
    VerifyInput,
)
from workflows.deletion import DeletionWorkflow
from workflows.ids import (
    backup_workflow_id,
    child_attributes,
    deletion_workflow_id,
    verification_workflow_id,
)
from workflows.verification import VerifyBackupWorkflow

with workflow.unsafe.imports_passed_through():
    from activities.schedules import ScheduleActivities
    from activities.verification import VerificationActivities


SCHEDULED_START = SearchAttributeKey.for_datetime("TemporalScheduledStartTime")


def _scheduled_time() -> datetime:
    """When the schedule meant this run to start (set by Temporal), else now."""
    return workflow.info().typed_search_attributes.get(SCHEDULED_START) or workflow.now()


def _child_attributes(kind: str) -> TypedSearchAttributes:
    """The run's owner and cluster (set by its Temporal Schedule or run-now) for a child."""
    return child_attributes(workflow.info().typed_search_attributes, kind)


@workflow.defn
class ScheduledBackupWorkflow:
    """Backs up as the schedule says, then applies the policy's retention."""

    @workflow.run
    async def run(self, input: ScheduledBackupInput) -> ScheduledBackupResult:
        backup_uid: str = await workflow.execute_activity_method(
            ScheduleActivities.prepare_scheduled_backup,
            PrepareScheduledInput(
                input.schedule_uid,
                _scheduled_time().isoformat(),
                manual=input.manual,
                schedule=input.schedule,
            ),
            **options.CATALOG_WRITE,
        )
        if not backup_uid:
            return ScheduledBackupResult(input.schedule_uid)
        result: BackupResult = await workflow.execute_child_workflow(
            BackupWorkflow.run,
            BackupInput(backup_uid),
            id=backup_workflow_id(backup_uid),
            search_attributes=_child_attributes("backup"),
            # A backup outlives a schedule run that is terminated: it always records its end.
            parent_close_policy=ParentClosePolicy.ABANDON,
        )
        if workflow.patched("verify-scheduled-backups"):
            await self._verify(backup_uid)
        expired: list[str] = await workflow.execute_activity_method(
            ScheduleActivities.expired_backups, input, **options.CATALOG_WRITE
        )
        for uid in expired:
            await workflow.execute_child_workflow(
                DeletionWorkflow.run,
                BackupInput(uid),
                id=deletion_workflow_id(uid),
                search_attributes=_child_attributes("backup-deletion"),
            )
        return ScheduledBackupResult(
            input.schedule_uid, backup_uid, result.status, result.reason, expired
        )

    async def _verify(self, backup_uid: str) -> None:
        """Start the backup's verification when the schedule's `verify_every` says so; it
        runs on by itself and records its result on the backup."""
        due: bool = await workflow.execute_activity_method(
            VerificationActivities.verification_due, backup_uid, **options.CATALOG_WRITE
        )
        if due:
            await workflow.start_child_workflow(
                VerifyBackupWorkflow.run,
                VerifyInput(backup_uid),
                id=verification_workflow_id(backup_uid),
                search_attributes=_child_attributes("verification"),
                parent_close_policy=ParentClosePolicy.ABANDON,
            )
