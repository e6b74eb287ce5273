"""Backup: validate, lock the namespaces, export resources, write the manifest, record.

Every step is an activity with a named preset. Whatever happens after the lock (a failed step,
a cancel), the result is recorded with its reason: a backup never stays "InProgress".
"""

from __future__ import annotations

import asyncio

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError, CancelledError

from workflows import options
from workflows.contracts import (
    BackupInput,
    BackupPlan,
    BackupResult,
    ExportResult,
    RecordBackupInput,
    StageInput,
)

with workflow.unsafe.imports_passed_through():
    from activities.backup import BackupActivities


def _reason(error: BaseException) -> str:
    cause = error.cause if isinstance(error, ActivityError) and error.cause else error
    return getattr(cause, "message", None) or str(cause) or type(cause).__name__


@workflow.defn
class BackupWorkflow:
    """Backs up namespaces of a cluster to a backup location."""

    def __init__(self) -> None:
        self.stage = "Pending"

    @workflow.query
    def current_stage(self) -> str:
        return self.stage

    async def _stage(self, input: BackupInput, stage: str) -> None:
        self.stage = stage
        await workflow.execute_activity_method(
            BackupActivities.set_stage, StageInput(input.backup_uid, stage), **options.CATALOG_WRITE
        )

    @workflow.run
    async def run(self, input: BackupInput) -> BackupResult:
        status, reason = "Failed", ""
        try:
            await self._stage(input, "Validate")
            plan: BackupPlan = await workflow.execute_activity_method(
                BackupActivities.validate_backup, input, **options.VALIDATE
            )
            await self._stage(input, "WaitingForNamespaces")
            await workflow.execute_activity_method(
                BackupActivities.lock_namespaces, input, **options.NAMESPACE_LOCK
            )
            await self._stage(input, "ExportResources")
            exported: ExportResult = await workflow.execute_activity_method(
                BackupActivities.export_resources, input, **options.RESOURCES
            )
            await self._stage(input, "WriteManifest")
            await workflow.execute_activity_method(
                BackupActivities.write_manifest, input, **options.CATALOG_WRITE
            )
            status = "Success"
            workflow.logger.info(
                "backup of %s: %d objects", ", ".join(plan.namespaces), exported.resource_count
            )
        except (ActivityError, ApplicationError) as exc:
            reason = f"{self.stage}: {_reason(exc)}"
        except (CancelledError, asyncio.CancelledError):
            status, reason = "Aborted", f"cancelled during {self.stage}"
            raise
        finally:
            # Shielded from the cancel: the outcome is recorded whatever happened.
            await asyncio.shield(
                asyncio.ensure_future(
                    workflow.execute_activity_method(
                        BackupActivities.record_backup,
                        RecordBackupInput(input.backup_uid, status=status, reason=reason),
                        **options.CATALOG_WRITE,
                    )
                )
            )
        return BackupResult(backup_uid=input.backup_uid, status=status, reason=reason)
