"""License check: enforce the license on backup schedules, on a platform-wide schedule."""

from __future__ import annotations

from temporalio import workflow
from temporalio.exceptions import ActivityError

from workflows import options
from workflows.contracts import LicenseCheckResult

with workflow.unsafe.imports_passed_through():
    from activities.license import LicenseActivities


@workflow.defn
class LicenseCheckWorkflow:
    """Fetches or renews a subscription's license when it is due (a license server that does
    not answer leaves the current license in force), records the nodes in use, then suspends
    every running backup schedule while the license stops backups (`suspended_by: license`)
    and resumes those it suspended once it allows them.

    Runs every `LIFEBOAT_LICENSE_CHECK_INTERVAL_SECONDS` and after each license import.
    """

    @workflow.run
    async def run(self) -> LicenseCheckResult:
        try:
            await workflow.execute_activity_method(
                LicenseActivities.renew_subscription, **options.LICENSE_RENEWAL
            )
        except ActivityError as exc:
            workflow.logger.warning("subscription not renewed: %s", exc.cause or exc)
        return await workflow.execute_activity_method(
            LicenseActivities.enforce_license, **options.LICENSE_CHECK
        )
