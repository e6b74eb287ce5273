"""Removing a cluster from Lifeboat (the cluster itself is untouched).

The cluster shows `DeletePending` meanwhile. Backups and restores still running on it are
cancelled and awaited (a cancelled backup still runs its post rules and removes its
snapshots), then its sync schedule and its row go. Its backups stay: they can be restored
into another cluster. Every step is safe to repeat.
"""

from __future__ import annotations

import contextlib
from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import FailureError

from workflows import options
from workflows.contracts import ClusterSyncInput, RunningWork

with workflow.unsafe.imports_passed_through():
    from activities.clusters import ClusterActivities

POLL = timedelta(seconds=5)


@workflow.defn
class ClusterDeletionWorkflow:
    @workflow.run
    async def run(self, input: ClusterSyncInput) -> None:
        await workflow.execute_activity_method(
            ClusterActivities.delete_sync_schedule, input, **options.CATALOG_WRITE
        )
        cancelled: set[str] = set()
        while True:
            running: RunningWork = await workflow.execute_activity_method(
                ClusterActivities.running_work, input, **options.CATALOG_WRITE
            )
            if not running.workflow_ids:
                break
            for workflow_id in set(running.workflow_ids) - cancelled:
                with contextlib.suppress(FailureError):  # it has just ended
                    await workflow.get_external_workflow_handle(workflow_id).cancel()
                cancelled.add(workflow_id)
            await workflow.sleep(POLL)
        await workflow.execute_activity_method(
            ClusterActivities.delete_cluster_record, input, **options.CATALOG_WRITE
        )
