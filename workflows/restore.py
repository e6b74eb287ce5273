"""Restore: a backup's objects into the same or another cluster, in the documented order.

Claims (and what they need) come first, then their data, then everything else: no workload
mounts a volume before its data is back. Data goes only into the claims the restore created or
replaced: a claim kept under `replace_policy: keep` keeps its data.
"""

from __future__ import annotations

import asyncio

from temporalio import workflow
from temporalio.exceptions import ActivityError

from lifeboat.status import RestorePhase, RestoreStatus, Stage
from workflows import options
from workflows.contracts import (
    MoveVolumeResult,
    Operation,
    RecordRestoredVolumesInput,
    RecordRestoreInput,
    RestoreInput,
    RestoreResult,
    RestoreVolumeInput,
    StageInput,
)

with workflow.unsafe.imports_passed_through():
    from activities.catalog import CatalogActivities
    from activities.restore import RestoreActivities
    from activities.volumes import VolumeActivities


@workflow.defn
class RestoreWorkflow:
    """Restores (or, with `dry_run`, previews) a backup; each object's result is recorded."""

    @workflow.run
    async def run(self, input: RestoreInput) -> RestoreResult:
        await workflow.execute_activity_method(
            CatalogActivities.set_stage,
            StageInput(input.restore_uid, Stage.APPLY_RESOURCES, Operation.RESTORE),
            **options.CATALOG_WRITE,
        )
        try:
            claims: RestoreResult = await workflow.execute_activity_method(
                RestoreActivities.restore_resources,
                RestoreInput(input.restore_uid, input.dry_run, phase=RestorePhase.CLAIMS),
                **options.RESOURCES,
            )
            moved: list[MoveVolumeResult] = []
            if not input.dry_run:
                volumes: list[RestoreVolumeInput] = await workflow.execute_activity_method(
                    RestoreActivities.volumes_to_restore, input, **options.CATALOG_WRITE
                )
                moved = await asyncio.gather(
                    *(
                        workflow.execute_activity_method(
                            VolumeActivities.restore_volume, volume, **options.MOVE_DATA
                        )
                        for volume in volumes
                    )
                )
            workflow.logger.info("restore: %d claims phase objects", claims.created)
            rest = RestoreInput(input.restore_uid, input.dry_run, phase=RestorePhase.REST)
            if workflow.patched("record-volumes-before-the-rest"):
                # Recorded first, so the status the rest sets is final: it never reads
                # Success for a moment before a failed volume makes it a PartialSuccess.
                await workflow.execute_activity_method(
                    RestoreActivities.record_restored_volumes,
                    RecordRestoredVolumesInput(input.restore_uid, list(moved)),
                    **options.CATALOG_WRITE,
                )
                result: RestoreResult = await workflow.execute_activity_method(
                    RestoreActivities.restore_resources, rest, **options.RESOURCES
                )
                return result
            await workflow.execute_activity_method(
                RestoreActivities.restore_resources, rest, **options.RESOURCES
            )
            return await workflow.execute_activity_method(
                RestoreActivities.record_restored_volumes,
                RecordRestoredVolumesInput(input.restore_uid, list(moved)),
                **options.CATALOG_WRITE,
            )
        except ActivityError as exc:
            reason = getattr(exc.cause, "message", None) or str(exc.cause or exc)
            await workflow.execute_activity_method(
                RestoreActivities.record_restore,
                RecordRestoreInput(input.restore_uid, status=RestoreStatus.FAILED, reason=reason),
                **options.CATALOG_WRITE,
            )
            return RestoreResult(
                restore_uid=input.restore_uid, status=RestoreStatus.FAILED, reason=reason
            )
