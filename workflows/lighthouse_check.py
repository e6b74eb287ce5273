"""Lighthouse check: reach a storage cluster's SDK endpoint and record its status and version."""

from __future__ import annotations

from temporalio import workflow

from workflows import options
from workflows.contracts import (
    LighthouseCheckInput,
    LighthouseCheckResult,
    LighthouseProbe,
    RecordLighthouseInput,
)

with workflow.unsafe.imports_passed_through():
    from activities.lighthouse import LighthouseActivities


@workflow.defn
class LighthouseCheckWorkflow:
    """Records whether a lighthouse's storage cluster answers with its credentials.

    Only the lighthouse's uid travels through history: the activity reads the endpoint and
    decrypts the credentials itself. An unreachable cluster or refused credentials are a
    result (Offline or Failed with the reason), not a failure of the check.
    """

    @workflow.run
    async def run(self, input: LighthouseCheckInput) -> LighthouseCheckResult:
        probe: LighthouseProbe = await workflow.execute_activity_method(
            LighthouseActivities.probe_lighthouse, input, **options.LIGHTHOUSE_CHECK
        )
        return await workflow.execute_activity_method(
            LighthouseActivities.record_lighthouse_check,
            RecordLighthouseInput(lighthouse_uid=input.lighthouse_uid, probe=probe),
            **options.CATALOG_WRITE,
        )
