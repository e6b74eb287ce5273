"""Cluster sync: reach a cluster, take its inventory, record it in the catalog."""

from __future__ import annotations

from temporalio import workflow

from workflows import options
from workflows.contracts import (
    ClusterInventory,
    ClusterSyncInput,
    ClusterSyncResult,
    RecordInventoryInput,
)

with workflow.unsafe.imports_passed_through():
    from activities.catalog import CatalogActivities
    from activities.kube import KubeActivities


@workflow.defn
class ClusterSyncWorkflow:
    """Records whether a cluster is reachable and what runs in it.

    An unreachable cluster is not a failure of the sync: it is recorded as Offline with the
    reason, and the previous inventory stays as it was.
    """

    @workflow.run
    async def run(self, input: ClusterSyncInput) -> ClusterSyncResult:
        inventory: ClusterInventory = await workflow.execute_activity_method(
            KubeActivities.take_inventory, input, **options.KUBE_QUERY
        )
        return await workflow.execute_activity_method(
            CatalogActivities.record_inventory,
            RecordInventoryInput(cluster_uid=input.cluster_uid, inventory=inventory),
            **options.CATALOG_WRITE,
        )
