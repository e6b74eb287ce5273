"""Activities that remove a cluster from Lifeboat: what still runs on it, its sync, its row."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from lifeboat.catalog.models import Backup, Cluster, Restore, Share
from lifeboat.rbac.matrix import Kind
from lifeboat.status import RUNNING
from workflows.contracts import ClusterSyncInput, RunningWork
from workflows.ids import backup_workflow_id, cluster_sync_schedule_id, restore_workflow_id


class ClusterActivities:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], client: Client) -> None:
        self._sessions = sessions
        self._client = client

    @activity.defn
    async def running_work(self, input: ClusterSyncInput) -> RunningWork:
        """The workflow ids of the backups and restores still running on the cluster."""
        async with self._sessions() as session:
            backups = await session.scalars(
                select(Backup.uid).where(
                    Backup.cluster_uid == input.cluster_uid, Backup.status.in_(RUNNING)
                )
            )
            restores = await session.scalars(
                select(Restore.uid).where(
                    Restore.cluster_uid == input.cluster_uid, Restore.status.in_(RUNNING)
                )
            )
            return RunningWork(
                [backup_workflow_id(uid) for uid in backups]
                + [restore_workflow_id(uid) for uid in restores]
            )

    @activity.defn
    async def delete_sync_schedule(self, input: ClusterSyncInput) -> None:
        try:
            await self._client.get_schedule_handle(
                cluster_sync_schedule_id(input.cluster_uid)
            ).delete()
        except RPCError as exc:
            if exc.status != RPCStatusCode.NOT_FOUND:
                raise

    @activity.defn
    async def delete_cluster_record(self, input: ClusterSyncInput) -> None:
        """Remove the cluster's row and its shares; its backups stay (restore them elsewhere)."""
        async with self._sessions.begin() as session:
            await session.execute(
                delete(Share).where(
                    Share.object_kind == Kind.CLUSTERS, Share.object_uid == input.cluster_uid
                )
            )
            await session.execute(delete(Cluster).where(Cluster.uid == input.cluster_uid))
