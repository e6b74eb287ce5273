"""Location workflows: reach a backup location's bucket before the API records the location
(check), and re-wrap its data key under a new location key (key rotation)."""

from __future__ import annotations

from temporalio import workflow

from workflows import options
from workflows.contracts import (
    KeyRotationInput,
    KeyRotationResult,
    LocationCheckInput,
    LocationCheckResult,
)

with workflow.unsafe.imports_passed_through():
    from activities.locations import LocationActivities


@workflow.defn
class LocationCheckWorkflow:
    """Says whether a bucket exists and takes writes with a cloud account's credentials.

    The API never talks to object storage itself: it runs this and waits for the answer. A
    refusal (no such bucket, wrong keys, unreachable endpoint) is a result, not a failure.
    """

    @workflow.run
    async def run(self, input: LocationCheckInput) -> LocationCheckResult:
        return await workflow.execute_activity_method(
            LocationActivities.check_location, input, **options.LOCATION_CHECK
        )


@workflow.defn
class LocationKeyRotationWorkflow:
    """Rotates a location's key: its data key's key file is written under the new key, the
    catalog takes the new key, the old key's file goes. No backup data is rewritten."""

    @workflow.run
    async def run(self, input: KeyRotationInput) -> KeyRotationResult:
        return await workflow.execute_activity_method(
            LocationActivities.rotate_location_key, input, **options.LOCATION_CHECK
        )
