"""Discovery: find a garden's matching Gardener shoots, onboard, refresh and retire clusters."""

from __future__ import annotations

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

from workflows import options
from workflows.contracts import (
    DiscoveryInput,
    DiscoveryResult,
    ReconcileShootInput,
    RecordDiscoveryInput,
    RetireInput,
    ShootListing,
    ShootOutcome,
)
from workflows.errors import DISCOVERY_CONFIG_NOT_FOUND

with workflow.unsafe.imports_passed_through():
    from activities.discovery import DiscoveryActivities, ShootAction


def _config_gone(error: ActivityError) -> bool:
    """The configuration was deleted during the run: nothing more to do for it."""
    cause = error.cause
    return isinstance(cause, ApplicationError) and cause.type == DISCOVERY_CONFIG_NOT_FOUND


@workflow.defn
class DiscoveryWorkflow:
    """One discovery run of a configuration (federated mode), started by its schedule.

    Lists the shoots that match, onboards the new ones as clusters, refreshes the kubeconfigs
    of known ones, then retires the clusters whose shoot is gone or no longer matches (they
    and their backups are kept). An unreachable garden is recorded on the configuration, and
    no cluster is touched. Only uids and names travel through history: the activities read the
    kubeconfigs themselves.
    """

    @workflow.run
    async def run(self, input: DiscoveryInput) -> DiscoveryResult:
        listing: ShootListing = await workflow.execute_activity_method(
            DiscoveryActivities.list_shoots, input, **options.KUBE_QUERY
        )
        if not listing.reachable:
            return await workflow.execute_activity_method(
                DiscoveryActivities.record_discovery,
                RecordDiscoveryInput(
                    config_uid=input.config_uid, reachable=False, reason=listing.reason
                ),
                **options.CATALOG_WRITE,
            )
        record = RecordDiscoveryInput(
            config_uid=input.config_uid, reachable=True, matched=len(listing.shoots)
        )
        # One shoot after another: onboarding picks free cluster names one at a time.
        for shoot in listing.shoots:
            try:
                outcome: ShootOutcome = await workflow.execute_activity_method(
                    DiscoveryActivities.reconcile_shoot,
                    ReconcileShootInput(config_uid=input.config_uid, shoot=shoot),
                    **options.KUBE_QUERY,
                )
            except ActivityError as exc:
                if _config_gone(exc):
                    raise
                # One shoot that cannot be handled must not stop the others.
                outcome = ShootOutcome(action=ShootAction.FAILED, reason=str(exc.cause or exc))
            if outcome.action == ShootAction.ONBOARDED:
                record.onboarded += 1
            elif outcome.action == ShootAction.REFRESHED:
                record.refreshed += 1
            elif outcome.action == ShootAction.FAILED:
                record.failed += 1
            if outcome.reason:
                record.problems.append(f"shoot {shoot.namespace}/{shoot.name}: {outcome.reason}")
        retired: list[str] = await workflow.execute_activity_method(
            DiscoveryActivities.retire_missing,
            RetireInput(config_uid=input.config_uid, present=[s.uid for s in listing.shoots]),
            **options.KUBE_QUERY,
        )
        record.retired = len(retired)
        return await workflow.execute_activity_method(
            DiscoveryActivities.record_discovery, record, **options.CATALOG_WRITE
        )
