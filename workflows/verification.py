"""Backup verification and repository check.

Verification: restore a backup into scratch namespaces with every workload at rest, compare
each object and every file of each volume with what the backup recorded, record the result
on the backup; the scratch namespaces are removed whatever happens (failure or cancel).

Repository check: walk a location's snapshots, confirm each chunk they refer to is stored
whole, open a sampled fraction of them; the result is recorded on the location.
"""

from __future__ import annotations

import asyncio

from temporalio import workflow
from temporalio.exceptions import ActivityError, CancelledError

from lifeboat.status import VerificationStatus
from workflows import options
from workflows.contracts import (
    FinishVerificationInput,
    RepositoryCheckInput,
    RepositoryCheckResult,
    VerificationPlan,
    VerificationResult,
    VerifyInput,
    VerifyVolumeInput,
)

with workflow.unsafe.imports_passed_through():
    from activities.verification import VerificationActivities


def _reason(error: BaseException) -> str:
    cause = error.cause if isinstance(error, ActivityError) and error.cause else error
    return getattr(cause, "message", None) or str(cause) or type(cause).__name__


@workflow.defn
class VerifyBackupWorkflow:
    """Verifies a backup by restoring it into scratch namespaces and comparing."""

    @workflow.run
    async def run(self, input: VerifyInput) -> VerificationResult:
        plan: VerificationPlan | None = None
        reason, cancelled = "", False
        try:
            started: VerificationPlan = await workflow.execute_activity_method(
                VerificationActivities.begin_verification, input, **options.CATALOG_WRITE
            )
            plan = started
            # Left by an earlier verification of the same backup that could not clean up.
            await workflow.execute_activity_method(
                VerificationActivities.remove_scratch_namespaces, started,
                **options.SCRATCH_CLEANUP,
            )  # fmt: skip
            volumes: list[VerifyVolumeInput] = await workflow.execute_activity_method(
                VerificationActivities.restore_for_verification, started, **options.RESOURCES
            )
            # Every volume runs to its end before the first failure is raised, so none is
            # still writing into a scratch claim when the namespaces go.
            outcomes = await asyncio.gather(
                *(
                    workflow.execute_activity_method(
                        VerificationActivities.verify_volume, volume, **options.MOVE_DATA
                    )
                    for volume in volumes
                ),
                return_exceptions=True,
            )
            for outcome in outcomes:
                if isinstance(outcome, BaseException):
                    raise outcome
        except ActivityError as exc:
            cancelled = isinstance(exc.cause, CancelledError)
            reason = _reason(exc)
        except (CancelledError, asyncio.CancelledError):
            cancelled, reason = True, "cancelled"
        finally:
            # Shielded from a cancel: remove the scratch namespaces, then record the outcome.
            result = await asyncio.shield(
                asyncio.ensure_future(self._finish(input, plan, reason, cancelled))
            )
        if cancelled:
            raise asyncio.CancelledError(reason)  # shown as Canceled in the Temporal UI
        return result

    async def _finish(
        self, input: VerifyInput, plan: VerificationPlan | None, reason: str, cancelled: bool
    ) -> VerificationResult:
        if plan is not None:
            try:
                await workflow.execute_activity_method(
                    VerificationActivities.remove_scratch_namespaces, plan,
                    **options.SCRATCH_CLEANUP,
                )  # fmt: skip
            except ActivityError as exc:
                reason = reason or f"the scratch namespaces were not removed: {_reason(exc)}"
        result: VerificationResult = await workflow.execute_activity_method(
            VerificationActivities.finish_verification,
            FinishVerificationInput(input.backup_uid, reason, cancelled),
            **options.CATALOG_WRITE,
        )
        return result


@workflow.defn
class RepositoryCheckWorkflow:
    """Checks a backup location's repository; the result is recorded on the location."""

    @workflow.run
    async def run(self, input: RepositoryCheckInput) -> RepositoryCheckResult:
        try:
            result: RepositoryCheckResult = await workflow.execute_activity_method(
                VerificationActivities.check_repository, input, **options.REPOSITORY_CHECK
            )
            return result
        except ActivityError as exc:
            failed = RepositoryCheckResult(
                input.location_uid, VerificationStatus.FAILED, _reason(exc)
            )
            await workflow.execute_activity_method(
                VerificationActivities.record_repository_check, failed, **options.CATALOG_WRITE
            )
            return failed
