"""Deletion of a backup: its archive objects, its volume data, its catalog row, then a prune.

Each step is idempotent, so the workflow is safe to repeat after any failure. The prune of
the location's repository (chunks no remaining snapshot refers to) waits for no one: when a
backup is writing to the location it is deferred to the next deletion.
"""

from __future__ import annotations

from temporalio import workflow
from temporalio.exceptions import ActivityError

from workflows import options
from workflows.contracts import BackupInput, PruneInput, PruneResult

with workflow.unsafe.imports_passed_through():
    from activities.backup import BackupActivities
    from activities.volumes import VolumeActivities


@workflow.defn
class DeletionWorkflow:
    """Deletes a backup everywhere it lives."""

    @workflow.run
    async def run(self, input: BackupInput) -> PruneResult | None:
        await workflow.execute_activity_method(
            BackupActivities.delete_archive, input, **options.RESOURCES
        )
        # Deletions started before volume data was forgotten and pruned replay without it.
        prunes = workflow.patched("forget-volume-data-and-prune")
        location_uid = ""
        if prunes:
            location_uid = await workflow.execute_activity_method(
                VolumeActivities.forget_volume_data, input, **options.RESOURCES
            )
        await workflow.execute_activity_method(
            BackupActivities.delete_backup_record, input, **options.CATALOG_WRITE
        )
        if not prunes:
            return None
        if not location_uid:
            return PruneResult("Deferred", "the backup was already gone")
        try:
            result: PruneResult = await workflow.execute_activity_method(
                VolumeActivities.prune_location,
                PruneInput(location_uid, workflow.info().workflow_id),
                **options.RESOURCES,
            )
        except ActivityError as exc:
            # The backup is deleted; what only it referred to goes at a later prune.
            return PruneResult("Deferred", f"prune failed: {exc.cause or exc}")
        return result
