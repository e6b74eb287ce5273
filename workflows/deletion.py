"""Deletion of a backup: its archive objects, its volume snapshots' data, then its catalog row.

Each step is idempotent, so the workflow is safe to repeat after any failure.
"""

from __future__ import annotations

from temporalio import workflow

from workflows import options
from workflows.contracts import BackupInput

with workflow.unsafe.imports_passed_through():
    from activities.backup import BackupActivities


@workflow.defn
class DeletionWorkflow:
    """Deletes a backup everywhere it lives."""

    @workflow.run
    async def run(self, input: BackupInput) -> None:
        await workflow.execute_activity_method(
            BackupActivities.delete_archive, input, **options.RESOURCES
        )
        await workflow.execute_activity_method(
            BackupActivities.delete_backup_record, input, **options.CATALOG_WRITE
        )
