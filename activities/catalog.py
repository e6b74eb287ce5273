"""Activities that write workflow results into the catalog."""

from __future__ import annotations

from dataclasses import asdict

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from lifeboat.catalog.models import Backup, Cluster, Restore, utcnow
from lifeboat.status import ClusterStatus
from workflows.contracts import ClusterSyncResult, Operation, RecordInventoryInput, StageInput
from workflows.errors import CLUSTER_NOT_FOUND


class CatalogActivities:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    @activity.defn
    async def set_stage(self, input: StageInput) -> None:
        """Record the stage a backup or a restore reached (shown while it runs)."""
        async with self._sessions.begin() as session:
            record = (
                await session.get(Restore, input.uid)
                if input.kind == Operation.RESTORE
                else await session.get(Backup, input.uid)
            )
            if record is not None:
                record.stage = input.stage

    @activity.defn
    async def record_inventory(self, input: RecordInventoryInput) -> ClusterSyncResult:
        """Record a sync: status and reason always; the inventory only when it was taken."""
        inventory = input.inventory
        async with self._sessions.begin() as session:
            cluster = await session.get(Cluster, input.cluster_uid, with_for_update=True)
            if cluster is None:
                raise ApplicationError(
                    f"cluster {input.cluster_uid} is gone", type=CLUSTER_NOT_FOUND
                )
            if cluster.status == ClusterStatus.DELETE_PENDING:
                # Being removed: a sync that was already running changes nothing.
                return ClusterSyncResult(cluster.uid, cluster.status, cluster.status_reason)
            cluster.status = inventory.status
            cluster.status_reason = inventory.reason
            cluster.last_synced_at = utcnow()
            if inventory.status == ClusterStatus.ONLINE:
                cluster.kubernetes_version = inventory.kubernetes_version
                cluster.namespaces = inventory.namespaces
                cluster.application_count = inventory.application_count
                cluster.pvc_count = inventory.pvc_count
                cluster.pvc_requested_bytes = inventory.pvc_requested_bytes
                cluster.virtual_machines = [asdict(vm) for vm in inventory.virtual_machines]
                cluster.node_count = inventory.node_count
                cluster.identity = inventory.identity
            return ClusterSyncResult(
                cluster_uid=cluster.uid, status=cluster.status, reason=cluster.status_reason
            )
