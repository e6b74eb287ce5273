"""Restore: a backup's objects into the same or another cluster, in the documented order.

The restore first takes the namespaces it writes into (it waits while a backup or another
restore holds one of them). Claims (and what they need) come first, then their data, then
everything else: no workload mounts a volume before its data is back. Data goes only into the
claims the restore created or replaced: a claim kept under `replace_policy: keep` keeps its
data. A cancelled restore records `Aborted` (what it applied stays); a retry applies only what
an earlier attempt did not restore.
"""

from __future__ import annotations

import asyncio

from temporalio import workflow
from temporalio.exceptions import ActivityError, CancelledError

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
from workflows.notify import start_notifications

with workflow.unsafe.imports_passed_through():
    from activities.catalog import CatalogActivities
    from activities.restore import RestoreActivities
    from activities.volumes import VolumeActivities

# Restores started before these steps existed replay without them.
CONTROLS_PATCH = "restore-lock-and-stages"


@workflow.defn
class RestoreWorkflow:
    """Restores (or, with `dry_run`, previews) a backup; each object's result is recorded."""

    def __init__(self) -> None:
        self.stage = Stage.PENDING

    async def _stage(self, input: RestoreInput, stage: Stage) -> None:
        self.stage = stage
        await workflow.execute_activity_method(
            CatalogActivities.set_stage,
            StageInput(input.restore_uid, stage, Operation.RESTORE),
            **options.CATALOG_WRITE,
        )

    @workflow.run
    async def run(self, input: RestoreInput) -> RestoreResult:
        result = await self._run(input)
        if not input.dry_run:  # a preview restores nothing: nobody is told
            await start_notifications(Operation.RESTORE, input.restore_uid)
        return result

    async def _run(self, input: RestoreInput) -> RestoreResult:
        controls = workflow.patched(CONTROLS_PATCH)
        try:
            if controls and not input.dry_run:  # a preview changes nothing: it takes nothing
                await self._stage(input, Stage.WAITING_FOR_NAMESPACES)
                await workflow.execute_activity_method(
                    RestoreActivities.lock_restore_namespaces, input, **options.NAMESPACE_LOCK
                )
            return await self._restore(input, controls)
        except (ActivityError, CancelledError, asyncio.CancelledError) as exc:
            cause = exc.cause if isinstance(exc, ActivityError) else exc
            if not controls and not isinstance(exc, ActivityError):
                raise  # as restores started before cancel was offered did (they recorded a
                # cancel during a step as that step's failure)
            cancelled = controls and isinstance(cause, (CancelledError, asyncio.CancelledError))
            if cancelled:
                reason, status = f"cancelled during {self.stage}", RestoreStatus.ABORTED
            else:
                reason = getattr(cause, "message", None) or str(cause or exc)
                status = RestoreStatus.FAILED
            # Shielded from the cancel: the outcome is always recorded.
            await asyncio.shield(
                asyncio.ensure_future(
                    workflow.execute_activity_method(
                        RestoreActivities.record_restore,
                        RecordRestoreInput(input.restore_uid, status=status, reason=reason),
                        **options.CATALOG_WRITE,
                    )
                )
            )
            if cancelled:
                # Shown as Canceled in the Temporal UI.
                raise asyncio.CancelledError(reason) from exc
            return RestoreResult(restore_uid=input.restore_uid, status=status, reason=reason)

    async def _restore(self, input: RestoreInput, controls: bool) -> RestoreResult:
        await self._stage(input, Stage.APPLY_RESOURCES)
        claims: RestoreResult = await workflow.execute_activity_method(
            RestoreActivities.restore_resources,
            RestoreInput(
                input.restore_uid, input.dry_run, phase=RestorePhase.CLAIMS, retry=input.retry
            ),
            **options.RESOURCES,
        )
        moved: list[MoveVolumeResult] = []
        if not input.dry_run:
            volumes: list[RestoreVolumeInput] = await workflow.execute_activity_method(
                RestoreActivities.volumes_to_restore, input, **options.CATALOG_WRITE
            )
            if controls and volumes:
                await self._stage(input, Stage.MOVE_VOLUME_DATA)
            moved = await asyncio.gather(
                *(
                    workflow.execute_activity_method(
                        VolumeActivities.restore_volume, volume, **options.MOVE_DATA
                    )
                    for volume in volumes
                )
            )
        workflow.logger.info("restore: %d claims phase objects", claims.created)
        rest = RestoreInput(
            input.restore_uid, input.dry_run, phase=RestorePhase.REST, retry=input.retry
        )
        if workflow.patched("record-volumes-before-the-rest"):
            # Recorded first, so the status the rest sets is final: it never reads
            # Success for a moment before a failed volume makes it a PartialSuccess.
            await workflow.execute_activity_method(
                RestoreActivities.record_restored_volumes,
                RecordRestoredVolumesInput(input.restore_uid, list(moved)),
                **options.CATALOG_WRITE,
            )
            if controls:
                await self._stage(input, Stage.APPLY_RESOURCES)
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
