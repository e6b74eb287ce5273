"""Cluster discovery (federated mode, super admins only): Gardener shoots onboarded as clusters.

A discovery configuration names a garden cluster (by kubeconfig, stored encrypted and never
returned), a label selector and optionally the project namespaces to search. A Temporal
Schedule `discovery-<uid>` runs the discovery workflow at once and every `interval_seconds`:
it onboards each matching shoot as a cluster owned by the configuration's owner, refreshes
their kubeconfigs, and retires (never deletes) clusters whose shoot is gone. Deleting a
configuration keeps the clusters it discovered, with their backups.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, status
from pydantic import BaseModel, Field, StringConstraints
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleState,
    ScheduleUpdate,
    ScheduleUpdateInput,
)
from temporalio.service import RPCError, RPCStatusCode

from api.authz import Authorize, AuthzContext
from api.crud import PageDep, delete_object, list_page
from api.deps import StateDep, TemporalDep
from api.errors import Conflict, Unprocessable
from api.schemas import Accepted, Document, Labels, ListOf, Name, ObjectRead, Text, Uid
from lifeboat.catalog.models import Cluster, DiscoveryConfig
from lifeboat.kubeconfig import KubeconfigError, KubeconfigSummary, parse_kubeconfig, summarize
from lifeboat.label_selectors import LabelSelectorError, check_label_selector
from lifeboat.rbac.matrix import Action, Kind
from lifeboat.status import DiscoveryStatus
from workflows.contracts import DiscoveryInput
from workflows.discovery import DiscoveryWorkflow
from workflows.ids import discovery_schedule_id, discovery_workflow_id, search_attributes

router = APIRouter(prefix="/discovery-configs", tags=["cluster discovery"])

CreateConfig = Annotated[AuthzContext, Depends(Authorize(Kind.DISCOVERY_CONFIGS, Action.CREATE))]
ViewConfig = Annotated[AuthzContext, Depends(Authorize(Kind.DISCOVERY_CONFIGS, Action.VIEW))]
EditConfig = Annotated[AuthzContext, Depends(Authorize(Kind.DISCOVERY_CONFIGS, Action.EDIT))]
DeleteConfig = Annotated[AuthzContext, Depends(Authorize(Kind.DISCOVERY_CONFIGS, Action.DELETE))]

MIN_INTERVAL_SECONDS = 60
Interval = Annotated[
    int,
    Field(
        strict=True,
        ge=MIN_INTERVAL_SECONDS,
        le=7 * 24 * 3600,
        description="Seconds between discovery runs (at least 60)",
    ),
]
ProjectNamespace = Annotated[
    str,
    StringConstraints(
        min_length=1,
        max_length=63,
        pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$",
    ),
]
SELECTOR_DESCRIPTION = (
    "A Kubernetes label selector on the shoots (`env=prod,team in (a,b)`); empty matches all"
)


class DiscoveryConfigCreate(BaseModel):
    name: Name
    # Write-only: stored encrypted, never returned.
    garden_kubeconfig: Document = Field(
        description="A self-contained kubeconfig of the garden cluster (YAML), write-only"
    )
    label_selector: Text = Field(default="", max_length=1000, description=SELECTOR_DESCRIPTION)
    namespaces: list[ProjectNamespace] = Field(
        default_factory=list,
        max_length=100,
        description="Project namespaces to search (`garden-<project>`); empty means all",
    )
    interval_seconds: Interval = 600
    labels: Labels = Field(default_factory=dict)


class DiscoveryConfigUpdate(BaseModel):
    """What may change; a field left out stays as it is."""

    garden_kubeconfig: Document | None = Field(
        default=None, description="Replaces the garden kubeconfig as a whole, write-only"
    )
    label_selector: Text | None = Field(
        default=None, max_length=1000, description=SELECTOR_DESCRIPTION
    )
    namespaces: list[ProjectNamespace] | None = Field(default=None, max_length=100)
    interval_seconds: Interval | None = None


class DiscoveryConfigRead(ObjectRead):
    garden_server_url: str
    label_selector: str
    namespaces: list[str]
    interval_seconds: int
    status: DiscoveryStatus = Field(
        description="Pending, Ready, Degraded (some shoots failed) or Failed"
    )
    status_reason: str
    last_run_at: datetime | None
    discovered_clusters: int = Field(
        default=0, description="Clusters onboarded by this configuration (retired ones too)"
    )


class DiscoveryConfigDeleted(BaseModel):
    message: str
    kept_cluster_uids: list[str] = Field(
        description="The clusters it discovered: kept, with their backups and syncs"
    )


def _garden(kubeconfig: str) -> KubeconfigSummary:
    try:
        return summarize(parse_kubeconfig(kubeconfig))
    except KubeconfigError as exc:
        raise Unprocessable(f"garden_kubeconfig {exc}", field="garden_kubeconfig") from None


def _selector(selector: str) -> str:
    try:
        return check_label_selector(selector)
    except LabelSelectorError as exc:
        raise Unprocessable(f"label_selector {exc}", field="label_selector") from None


def _schedule(config: DiscoveryConfig, task_queue: str) -> Schedule:
    """Runs discovery every interval; a run is skipped while the previous one runs."""
    return Schedule(
        action=ScheduleActionStartWorkflow(
            DiscoveryWorkflow.run,
            DiscoveryInput(config_uid=config.uid),
            id=discovery_workflow_id(config.uid),
            task_queue=task_queue,
            typed_search_attributes=search_attributes(
                owner=config.owner_id, cluster="", kind="discovery"
            ),
        ),
        spec=ScheduleSpec(
            intervals=[ScheduleIntervalSpec(every=timedelta(seconds=config.interval_seconds))]
        ),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
        state=ScheduleState(note=f"Lifeboat discovery configuration {config.name}"),
    )


async def _reads(
    ctx: AuthzContext, configs: Sequence[DiscoveryConfig]
) -> list[DiscoveryConfigRead]:
    """The configurations as returned, each with how many clusters it discovered."""
    rows = await ctx.session.execute(
        select(Cluster.source_uid, func.count())
        .where(Cluster.source_uid.in_([c.uid for c in configs]))
        .group_by(Cluster.source_uid)
    )
    counts = {source: count for source, count in rows.tuples()}
    reads = []
    for config in configs:
        read = DiscoveryConfigRead.model_validate(config)
        read.discovered_clusters = counts.get(config.uid, 0)
        reads.append(read)
    return reads


async def _read(ctx: AuthzContext, config: DiscoveryConfig) -> DiscoveryConfigRead:
    (read,) = await _reads(ctx, [config])
    return read


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_config(
    body: DiscoveryConfigCreate, ctx: CreateConfig, state: StateDep, temporal: TemporalDep
) -> DiscoveryConfigRead:
    """Add a discovery configuration; its first run starts at once, then every interval."""
    garden = _garden(body.garden_kubeconfig)
    config = DiscoveryConfig(
        name=body.name,
        labels=body.labels,
        owner_id=ctx.caller.subject,
        garden_server_url=garden.server_url,
        garden_kubeconfig_ciphertext=state.secrets.encrypt(body.garden_kubeconfig),
        label_selector=_selector(body.label_selector),
        namespaces=list(dict.fromkeys(body.namespaces)),
        interval_seconds=body.interval_seconds,
    )
    ctx.session.add(config)
    try:
        await ctx.session.flush()
    except IntegrityError:
        raise Conflict(
            f"you already have a discovery configuration named {body.name!r}", field="name"
        ) from None
    # Scheduled before the commit: when Temporal is down nothing is saved and the caller
    # retries. The first run starts once the row is committed, so that it finds it.
    handle = await temporal.create_schedule(
        discovery_schedule_id(config.uid), _schedule(config, ctx.settings.task_queue)
    )
    await ctx.session.commit()
    await handle.trigger()
    await ctx.session.refresh(config)
    return await _read(ctx, config)


@router.get("")
async def list_configs(ctx: ViewConfig, page: PageDep) -> ListOf[DiscoveryConfigRead]:
    """Every discovery configuration, with its last run's status."""
    rows, next_page = await list_page(ctx, DiscoveryConfig, page)
    items = await _reads(ctx, rows)
    return ListOf(items=items, count=len(items), next=next_page)


@router.get("/{uid}")
async def get_config(uid: Uid, ctx: ViewConfig) -> DiscoveryConfigRead:
    return await _read(ctx, await ctx.load(DiscoveryConfig, uid))


@router.patch("/{uid}")
async def update_config(
    uid: Uid,
    body: DiscoveryConfigUpdate,
    ctx: EditConfig,
    state: StateDep,
    temporal: TemporalDep,
) -> DiscoveryConfigRead:
    """Change the selector, namespaces or interval, or replace the garden kubeconfig (all
    checked first); then discovery runs at once with the new settings."""
    config = await ctx.load(DiscoveryConfig, uid)
    if body.garden_kubeconfig is not None:
        garden = _garden(body.garden_kubeconfig)
        config.garden_kubeconfig_ciphertext = state.secrets.encrypt(body.garden_kubeconfig)
        config.garden_server_url = garden.server_url
    if body.label_selector is not None:
        config.label_selector = _selector(body.label_selector)
    if body.namespaces is not None:
        config.namespaces = list(dict.fromkeys(body.namespaces))
    if body.interval_seconds is not None and body.interval_seconds != config.interval_seconds:
        config.interval_seconds = body.interval_seconds
        schedule = _schedule(config, ctx.settings.task_queue)

        def replace(_: ScheduleUpdateInput) -> ScheduleUpdate:
            return ScheduleUpdate(schedule=schedule)

        try:
            await temporal.get_schedule_handle(discovery_schedule_id(uid)).update(replace)
        except RPCError as exc:
            if exc.status != RPCStatusCode.NOT_FOUND:
                raise
            # Removed in the Temporal UI: `_run_now` below puts it back, with the new interval.
    await ctx.session.commit()
    await _run_now(temporal, config, ctx.settings.task_queue)
    return await _read(ctx, config)


async def _run_now(temporal: Client, config: DiscoveryConfig, task_queue: str) -> None:
    """Run now; a run already going is followed by this one, not doubled or dropped."""
    handle = temporal.get_schedule_handle(discovery_schedule_id(config.uid))
    try:
        await handle.trigger(overlap=ScheduleOverlapPolicy.BUFFER_ONE)
    except RPCError as exc:
        if exc.status != RPCStatusCode.NOT_FOUND:
            raise
        # Someone removed the schedule in the Temporal UI: put it back.
        await temporal.create_schedule(
            handle.id, _schedule(config, task_queue), trigger_immediately=True
        )


@router.post("/{uid}/run", status_code=status.HTTP_202_ACCEPTED)
async def run_config(uid: Uid, ctx: EditConfig, temporal: TemporalDep) -> Accepted:
    """Discover now, outside the interval (`last_run_at` changes when the run is recorded)."""
    config = await ctx.load(DiscoveryConfig, uid)
    await _run_now(temporal, config, ctx.settings.task_queue)
    return Accepted(message=f"discovery {config.name} runs now")


@router.delete("/{uid}")
async def delete_config(
    uid: Uid, ctx: DeleteConfig, temporal: TemporalDep
) -> DiscoveryConfigDeleted:
    """Stop discovering: the configuration and its schedule go, its clusters stay.

    The clusters it discovered hold backups: they are kept, with their backups and their
    syncs, but nothing refreshes their kubeconfigs any more. Delete them under
    `/api/v1/clusters` when they are no longer wanted.
    """
    config = await ctx.load(DiscoveryConfig, uid)
    kept = list(
        await ctx.session.scalars(
            select(Cluster.uid).where(Cluster.source_uid == uid).order_by(Cluster.name)
        )
    )
    try:
        await temporal.get_schedule_handle(discovery_schedule_id(uid)).delete()
    except RPCError as exc:
        if exc.status != RPCStatusCode.NOT_FOUND:
            raise
    name = config.name
    await delete_object(ctx, config)
    return DiscoveryConfigDeleted(
        message=f"discovery configuration {name} deleted; the {len(kept)} cluster(s) it "
        "discovered are kept with their backups and syncs, but their kubeconfigs are no "
        "longer refreshed: delete them under /api/v1/clusters when no longer wanted",
        kept_cluster_uids=kept,
    )
