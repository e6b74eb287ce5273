"""Clusters: register by kubeconfig, list, read the inventory, sync, remove."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query, status
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy

from api.authz import Authorize, AuthzContext
from api.crud import PageDep, list_page, not_being_removed
from api.deps import StateDep, TemporalDep
from api.errors import Conflict, Forbidden, Unprocessable
from api.schemas import (
    Accepted,
    ClusterCreate,
    ClusterRead,
    KubeconfigReplace,
    ListOf,
    NamespaceRead,
    Uid,
    VirtualMachineRead,
)
from lifeboat.catalog.models import BackupSchedule, Cluster
from lifeboat.kubeconfig import KubeconfigError, KubeconfigSummary, parse_kubeconfig, summarize
from lifeboat.rbac.access import Use, credentials_read_refusal
from lifeboat.rbac.matrix import Action, Kind
from lifeboat.settings import Settings
from lifeboat.status import ClusterStatus
from workflows.cluster_deletion import ClusterDeletionWorkflow
from workflows.cluster_sync_schedule import (
    cluster_sync_state,
    create_cluster_sync_schedule,
    trigger_cluster_sync,
)
from workflows.contracts import ClusterSyncInput
from workflows.ids import cluster_deletion_workflow_id, search_attributes

router = APIRouter(prefix="/clusters", tags=["clusters"])

CreateCluster = Annotated[AuthzContext, Depends(Authorize(Kind.CLUSTERS, Action.CREATE))]
ViewCluster = Annotated[AuthzContext, Depends(Authorize(Kind.CLUSTERS, Action.VIEW))]
# Offered in classic mode only (the guard answers 404 in federated mode).
ViewVirtualMachines = Annotated[
    AuthzContext, Depends(Authorize(Kind.VIRTUAL_MACHINES, Action.VIEW))
]
EditCluster = Annotated[AuthzContext, Depends(Authorize(Kind.CLUSTERS, Action.EDIT))]
DeleteCluster = Annotated[AuthzContext, Depends(Authorize(Kind.CLUSTERS, Action.DELETE))]


async def _create_sync_schedule(temporal: Client, cluster: Cluster, settings: Settings) -> None:
    await create_cluster_sync_schedule(
        temporal,
        cluster_uid=cluster.uid,
        owner_id=cluster.owner_id,
        task_queue=settings.task_queue,
        every=timedelta(seconds=settings.cluster_sync_interval_seconds),
        trigger=False,
    )


def _validated(kubeconfig: str) -> KubeconfigSummary:
    try:
        return summarize(parse_kubeconfig(kubeconfig))
    except KubeconfigError as exc:
        raise Unprocessable(f"kubeconfig {exc}", field="kubeconfig") from None


@router.post("", status_code=status.HTTP_201_CREATED)
async def register_cluster(
    body: ClusterCreate, ctx: CreateCluster, state: StateDep, temporal: TemporalDep
) -> ClusterRead:
    """Register a cluster by kubeconfig; its first sync starts at once, then periodically."""
    summary = _validated(body.kubeconfig)
    session = ctx.session
    cluster = Cluster(
        name=body.name,
        labels=body.labels,
        owner_id=ctx.caller.subject,
        server_url=summary.server_url,
        kubeconfig_ciphertext=state.secrets.encrypt(body.kubeconfig),
    )
    session.add(cluster)
    try:
        await session.flush()
    except IntegrityError:
        raise Conflict(f"you already have a cluster named {body.name!r}", field="name") from None
    # Scheduled before the commit: when Temporal is down nothing is saved and the caller
    # retries. The first sync starts once the row is committed, so that it finds it.
    await _create_sync_schedule(temporal, cluster, state.settings)
    await session.commit()
    await _trigger_sync(temporal, cluster, state.settings)
    await session.refresh(cluster)
    return ClusterRead.model_validate(cluster)


ClusterStatusFilter = Annotated[ClusterStatus | None, Query(description="Only clusters so")]


@router.get("")
async def list_clusters(
    ctx: ViewCluster, page: PageDep, status: ClusterStatusFilter = None
) -> ListOf[ClusterRead]:
    """The clusters the caller owns or that are shared with them, with their last inventory."""
    rows, next_page = await list_page(
        ctx, Cluster, page, *([Cluster.status == status] if status else [])
    )
    items = [ClusterRead.model_validate(c) for c in rows]
    return ListOf(items=items, count=len(items), next=next_page)


@router.get("/{uid}")
async def get_cluster(uid: Uid, ctx: ViewCluster) -> ClusterRead:
    return ClusterRead.model_validate(await ctx.load(Cluster, uid))


@router.get("/{uid}/namespaces")
async def list_namespaces(uid: Uid, ctx: ViewCluster) -> ListOf[NamespaceRead]:
    """The cluster's namespaces, as its last sync found them."""
    cluster = await ctx.load(Cluster, uid)
    items = [NamespaceRead(name=name) for name in cluster.namespaces]
    return ListOf(items=items, count=len(items))


@router.get("/{uid}/virtual-machines")
async def list_virtual_machines(uid: Uid, ctx: ViewVirtualMachines) -> ListOf[VirtualMachineRead]:
    """The cluster's KubeVirt VMs, as its last sync found them (none without KubeVirt)."""
    cluster = await ctx.for_kind(Kind.CLUSTERS, Action.VIEW).load(Cluster, uid)
    items = [VirtualMachineRead.model_validate(vm) for vm in cluster.virtual_machines]
    return ListOf(items=items, count=len(items))


@router.post("/{uid}/sync", status_code=status.HTTP_202_ACCEPTED)
async def sync_cluster(uid: Uid, ctx: ViewCluster, temporal: TemporalDep) -> Accepted:
    """Sync now; a sync already running is not doubled.

    Not while its syncs are paused (discovery retired it: a sync would hide why).
    """
    cluster = not_being_removed(await ctx.load(Cluster, uid, to=Use.SYNC))
    state = await cluster_sync_state(temporal, uid)
    if state is not None and state.paused:
        raise Conflict(
            f"the syncs of cluster {cluster.name} are paused: "
            f"{state.note or 'resume them in the Temporal UI'}"
        )
    await _trigger_sync(temporal, cluster, ctx.settings)
    return Accepted(message=f"sync of cluster {cluster.name} started")


async def _trigger_sync(temporal: Client, cluster: Cluster, settings: Settings) -> None:
    await trigger_cluster_sync(
        temporal,
        cluster_uid=cluster.uid,
        owner_id=cluster.owner_id,
        task_queue=settings.task_queue,
        every=timedelta(seconds=settings.cluster_sync_interval_seconds),
    )


@router.delete("/{uid}", status_code=status.HTTP_202_ACCEPTED)
async def delete_cluster(uid: Uid, ctx: DeleteCluster, temporal: TemporalDep) -> Accepted:
    """Remove a cluster from Lifeboat (the cluster itself is untouched); its backups stay.

    Refused while backup schedules exist on it, for super admins too: delete them first. The
    cluster shows `DeletePending` while the backups and restores still running on it are
    cancelled and its sync stops (a workflow, safe to repeat).
    """
    cluster = await ctx.load(Cluster, uid, to=Use.ADMINISTER)
    session = ctx.session
    schedules = await session.scalar(select(func.count()).where(BackupSchedule.cluster_uid == uid))
    if schedules:
        raise Conflict(
            f"cluster {cluster.name} has {schedules} backup schedule(s): delete them first"
        )
    name, owner_id = cluster.name, cluster.owner_id
    cluster.status = ClusterStatus.DELETE_PENDING
    cluster.status_reason = f"removal requested by {ctx.caller.username}"
    await session.commit()
    await temporal.start_workflow(
        ClusterDeletionWorkflow.run,
        ClusterSyncInput(cluster_uid=uid),
        id=cluster_deletion_workflow_id(uid),
        task_queue=ctx.settings.task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        search_attributes=search_attributes(owner=owner_id, cluster=uid, kind="cluster-deletion"),
    )
    return Accepted(message=f"removing cluster {name}")


@router.get("/{uid}/kubeconfig")
async def get_kubeconfig(uid: Uid, ctx: ViewCluster, state: StateDep) -> KubeconfigReplace:
    """The kubeconfig, to its owner only: a super admin may replace another's, never read it."""
    cluster = await ctx.load(Cluster, uid)
    if refusal := credentials_read_refusal(ctx.caller, cluster.owner_id):
        raise Forbidden(refusal)
    return KubeconfigReplace(kubeconfig=state.secrets.decrypt(cluster.kubeconfig_ciphertext))


@router.put("/{uid}/kubeconfig")
async def replace_kubeconfig(
    uid: Uid, body: KubeconfigReplace, ctx: EditCluster, state: StateDep, temporal: TemporalDep
) -> ClusterRead:
    """Replace the kubeconfig as a whole (validated first), then sync with it."""
    cluster = not_being_removed(await ctx.load(Cluster, uid, to=Use.ADMINISTER))
    summary = _validated(body.kubeconfig)
    cluster.kubeconfig_ciphertext = state.secrets.encrypt(body.kubeconfig)
    cluster.server_url = summary.server_url
    await ctx.session.commit()
    await _trigger_sync(temporal, cluster, ctx.settings)
    return ClusterRead.model_validate(cluster)
