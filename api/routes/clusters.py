"""Clusters: register by kubeconfig, list, read the inventory, sync, remove."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, status
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
)
from temporalio.common import SearchAttributeKey, SearchAttributePair, TypedSearchAttributes
from temporalio.service import RPCError, RPCStatusCode

from api.deps import PrincipalDep, SessionDep, SettingsDep, StateDep, TemporalDep
from api.errors import Conflict, NotFound, Unprocessable
from api.schemas import Accepted, ClusterCreate, ClusterRead, ListOf
from lifeboat.catalog.models import Cluster
from lifeboat.kubeconfig import KubeconfigError, parse_kubeconfig, summarize
from lifeboat.settings import Settings
from workflows.cluster_sync import ClusterSyncWorkflow
from workflows.contracts import ClusterSyncInput
from workflows.ids import cluster_sync_schedule_id, cluster_sync_workflow_id

router = APIRouter(prefix="/clusters", tags=["clusters"])

OWNER = SearchAttributeKey.for_keyword("LifeboatOwner")
CLUSTER = SearchAttributeKey.for_keyword("LifeboatCluster")
KIND = SearchAttributeKey.for_keyword("LifeboatKind")


def _sync_schedule(cluster: Cluster, settings: Settings) -> Schedule:
    """A Temporal Schedule that syncs the cluster periodically (visible in the Temporal UI)."""
    return Schedule(
        action=ScheduleActionStartWorkflow(
            ClusterSyncWorkflow.run,
            ClusterSyncInput(cluster_uid=cluster.uid),
            id=cluster_sync_workflow_id(cluster.uid),
            task_queue=settings.task_queue,
            typed_search_attributes=TypedSearchAttributes(
                [
                    SearchAttributePair(OWNER, cluster.owner_id),
                    SearchAttributePair(CLUSTER, cluster.uid),
                    SearchAttributePair(KIND, "cluster-sync"),
                ]
            ),
        ),
        spec=ScheduleSpec(
            intervals=[
                ScheduleIntervalSpec(
                    every=timedelta(seconds=settings.cluster_sync_interval_seconds)
                )
            ]
        ),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
    )


async def _owned_cluster(session: SessionDep, principal: PrincipalDep, uid: str) -> Cluster:
    cluster = await session.get(Cluster, uid)
    if cluster is None or cluster.owner_id != principal.subject:
        raise NotFound(f"no cluster {uid}")
    return cluster


@router.post("", status_code=status.HTTP_201_CREATED)
async def register_cluster(
    body: ClusterCreate,
    principal: PrincipalDep,
    session: SessionDep,
    state: StateDep,
    temporal: TemporalDep,
) -> ClusterRead:
    """Register a cluster by kubeconfig; its first sync starts at once, then periodically."""
    try:
        summary = summarize(parse_kubeconfig(body.kubeconfig))
    except KubeconfigError as exc:
        raise Unprocessable(f"kubeconfig {exc}", field="kubeconfig") from None
    cluster = Cluster(
        name=body.name,
        labels=body.labels,
        owner_id=principal.subject,
        server_url=summary.server_url,
        kubeconfig_ciphertext=state.secrets.encrypt(body.kubeconfig),
    )
    session.add(cluster)
    try:
        await session.flush()
    except IntegrityError:
        raise Conflict(f"you already have a cluster named {body.name!r}", field="name") from None
    # Scheduled before the commit: when Temporal is down nothing is saved and the caller retries.
    await temporal.create_schedule(
        cluster_sync_schedule_id(cluster.uid),
        _sync_schedule(cluster, state.settings),
        trigger_immediately=True,
    )
    await session.commit()
    return ClusterRead.model_validate(cluster)


@router.get("")
async def list_clusters(principal: PrincipalDep, session: SessionDep) -> ListOf[ClusterRead]:
    """The caller's clusters with their last inventory."""
    rows = await session.scalars(
        select(Cluster).where(Cluster.owner_id == principal.subject).order_by(Cluster.name)
    )
    items = [ClusterRead.model_validate(c) for c in rows]
    return ListOf(items=items, count=len(items))


@router.get("/{uid}")
async def get_cluster(uid: str, principal: PrincipalDep, session: SessionDep) -> ClusterRead:
    return ClusterRead.model_validate(await _owned_cluster(session, principal, uid))


@router.post("/{uid}/sync", status_code=status.HTTP_202_ACCEPTED)
async def sync_cluster(
    uid: str,
    principal: PrincipalDep,
    session: SessionDep,
    settings: SettingsDep,
    temporal: TemporalDep,
) -> Accepted:
    """Sync now; a sync already running is not doubled."""
    cluster = await _owned_cluster(session, principal, uid)
    await _trigger_sync(temporal, cluster, settings)
    return Accepted(message=f"sync of cluster {cluster.name} started")


async def _trigger_sync(temporal: Client, cluster: Cluster, settings: Settings) -> None:
    handle = temporal.get_schedule_handle(cluster_sync_schedule_id(cluster.uid))
    try:
        await handle.trigger()
    except RPCError as exc:
        if exc.status != RPCStatusCode.NOT_FOUND:
            raise
        # Someone removed the schedule in the Temporal UI: put it back.
        await temporal.create_schedule(
            handle.id, _sync_schedule(cluster, settings), trigger_immediately=True
        )


@router.delete("/{uid}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_cluster(
    uid: str, principal: PrincipalDep, session: SessionDep, temporal: TemporalDep
) -> None:
    """Remove a cluster from Lifeboat (the cluster itself is untouched) and stop its syncs."""
    cluster = await _owned_cluster(session, principal, uid)
    try:
        await temporal.get_schedule_handle(cluster_sync_schedule_id(uid)).delete()
    except RPCError as exc:
        if exc.status != RPCStatusCode.NOT_FOUND:
            raise
    await session.delete(cluster)
    await session.commit()
