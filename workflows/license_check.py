"""License check: enforce the license on backup schedules, on a platform-wide schedule."""

from __future__ import annotations

from temporalio import workflow

from workflows import options
from workflows.contracts import LicenseCheckResult

with workflow.unsafe.imports_passed_through():
    from activities.license import LicenseActivities


@workflow.defn
class LicenseCheckWorkflow:
    """Records the nodes in use, then suspends every running backup schedule while the license
    stops backups (`suspended_by: license`) and resumes those it suspended once it allows them.

    Runs every `LIFEBOAT_LICENSE_CHECK_INTERVAL_SECONDS` and after each license import.
    """

    @workflow.run
    async def run(self) -> LicenseCheckResult:
        return await workflow.execute_activity_method(
            LicenseActivities.enforce_license, **options.LICENSE_CHECK
        )
