"""EKS: list an AWS cloud account's EKS clusters, onboard the chosen ones (classic mode).

The API never talks to AWS itself: it runs the EKS clusters workflow and waits for its answer.
An onboarded cluster's kubeconfig holds the cluster's CA and an EKS token minted here from the
account's keys (signing is local, no call to AWS). A token lasts 15 minutes, so the worker
mints fresh ones through a token plugin (see lifeboat.eks).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import uuid
from datetime import timedelta
from typing import Annotated

import yaml
from fastapi import APIRouter, Depends, Query, status
from pydantic import AfterValidator, BaseModel, Field, StringConstraints, field_validator
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from temporalio.client import Client, WorkflowFailureError
from temporalio.service import RPCError

from api.authz import Authorize, AuthzContext
from api.deps import AppState, StateDep, TemporalDep
from api.errors import Conflict, NotFound, ServiceUnavailable, Unprocessable
from api.schemas import ClusterRead, Labels, ListOf, Uid
from lifeboat.catalog.models import CloudAccount, Cluster
from lifeboat.credentials import AccessKeys, CredentialsUnreadable, read_keys
from lifeboat.eks import (
    AWS_PROVIDER,
    CLUSTER_NAME_PATTERN,
    EKS_PROVIDER,
    REGION_PATTERN,
    kubeconfig,
    mint_token,
)
from lifeboat.kubeconfig import KubeconfigError, parse_kubeconfig, summarize
from lifeboat.rbac.matrix import Action, Kind
from workflows.cluster_sync_schedule import create_cluster_sync_schedule, trigger_cluster_sync
from workflows.contracts import EksCluster, EksClustersInput, EksClustersResult
from workflows.eks import EksClustersWorkflow
from workflows.ids import cluster_sync_schedule_id

router = APIRouter(tags=["eks"])

ViewCloudAccount = Annotated[AuthzContext, Depends(Authorize(Kind.CLOUD_ACCOUNTS, Action.VIEW))]
CreateCluster = Annotated[AuthzContext, Depends(Authorize(Kind.CLUSTERS, Action.CREATE))]

# The caller waits for AWS's answer; a worker that does not answer by then is reported.
QUERY_TIMEOUT = timedelta(seconds=60)
ACTIVE = "ACTIVE"


def _region(value: str) -> str:
    if not re.fullmatch(REGION_PATTERN, value):
        raise ValueError("must be an AWS region code such as eu-west-1 or us-east-1")
    return value


def _cluster_name(value: str) -> str:
    if not re.fullmatch(CLUSTER_NAME_PATTERN, value):
        raise ValueError(
            f"{value!r} is not an EKS cluster name (1-100 letters, digits, '-' and '_', "
            "starting with a letter or digit)"
        )
    return value


# The validators check these with their own messages; the schema shows the same rules.
Region = Annotated[
    str,
    StringConstraints(max_length=32),
    AfterValidator(_region),
    Field(json_schema_extra={"pattern": REGION_PATTERN}),
]
EksName = Annotated[
    str,
    StringConstraints(max_length=100),
    AfterValidator(_cluster_name),
    Field(json_schema_extra={"pattern": CLUSTER_NAME_PATTERN}),
]


class EksClusterRead(BaseModel):
    name: str
    arn: str
    version: str
    endpoint: str
    status: str
    onboarded: bool = Field(description="Whether you have onboarded it")
    cluster_uid: str | None = Field(description="Your Lifeboat cluster for it, when onboarded")


class EksOnboard(BaseModel):
    cloud_account_uid: Uid = Field(description="An aws cloud account")
    region: Region
    names: list[EksName] = Field(
        min_length=1, max_length=100, description="The EKS clusters to onboard"
    )
    labels: Labels = Field(default_factory=dict, description="Given to every onboarded cluster")

    @field_validator("names")
    @classmethod
    def _once_each(cls, names: list[str]) -> list[str]:
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"{', '.join(repeated)} listed more than once")
        return names


def _aws(account: CloudAccount, field: str) -> CloudAccount:
    if account.provider != AWS_PROVIDER:
        raise Unprocessable(
            f"cloud account {account.name} is an {account.provider} account; EKS clusters are "
            f"listed with an {AWS_PROVIDER} account",
            field=field,
        )
    return account


async def _describe(
    ctx: AuthzContext, temporal: Client, input: EksClustersInput
) -> list[EksCluster]:
    """Ask AWS through the EKS clusters workflow; 422 naming the field when it refuses."""
    # End the read transaction: AWS takes a while and must not hold a connection.
    await ctx.session.commit()
    try:
        result: EksClustersResult = await temporal.execute_workflow(
            EksClustersWorkflow.run,
            input,
            id=f"eks-clusters-{uuid.uuid4()}",
            task_queue=ctx.settings.task_queue,
            execution_timeout=QUERY_TIMEOUT,
        )
    except WorkflowFailureError as exc:
        raise ServiceUnavailable(
            f"asking AWS for the EKS clusters in {input.region} did not finish ({exc.cause}): "
            "make sure a worker is running, then try again"
        ) from exc
    if result.reason:
        raise Unprocessable(result.reason, field=result.field or "region")
    if result.missing:
        raise Unprocessable(
            f"no EKS cluster named {', '.join(result.missing)} in region {input.region} for "
            f"this cloud account: see GET /api/v1/cloud-accounts/{input.cloud_account_uid}"
            f"/eks-clusters?region={input.region}",
            field="names",
        )
    return result.clusters


@router.get("/cloud-accounts/{uid}/eks-clusters")
async def list_eks_clusters(
    uid: Uid,
    region: Annotated[Region, Query(description="The AWS region, such as eu-west-1")],
    ctx: ViewCloudAccount,
    temporal: TemporalDep,
) -> ListOf[EksClusterRead]:
    """The EKS clusters the account's keys see in the region, and which you have onboarded."""
    account = _aws(await ctx.load(CloudAccount, uid), field="uid")
    clusters = await _describe(
        ctx, temporal, EksClustersInput(cloud_account_uid=account.uid, region=region)
    )
    onboarded = dict(
        (
            await ctx.session.execute(
                select(Cluster.external_id, Cluster.uid).where(
                    Cluster.owner_id == ctx.caller.subject,
                    Cluster.provider == EKS_PROVIDER,
                    Cluster.external_id.in_([c.arn for c in clusters]),
                )
            )
        )
        .tuples()
        .all()
    )
    items = [
        EksClusterRead(
            name=c.name,
            arn=c.arn,
            version=c.version,
            endpoint=c.endpoint,
            status=c.status,
            onboarded=c.arn in onboarded,
            cluster_uid=onboarded.get(c.arn),
        )
        for c in sorted(clusters, key=lambda c: c.name)
    ]
    return ListOf(items=items, count=len(items))


async def _account_to_use(ctx: AuthzContext, uid: Uid) -> CloudAccount:
    """The aws account, when the caller may view it (404 as the guard says, also in federated
    mode, where cloud accounts do not exist)."""
    accounts = ctx.for_kind(Kind.CLOUD_ACCOUNTS, Action.VIEW)
    try:
        account = await accounts.load(CloudAccount, uid)
    except NotFound as exc:
        raise NotFound(exc.message, field="cloud_account_uid") from None
    return _aws(account, field="cloud_account_uid")


def _keys(account: CloudAccount, state: AppState) -> AccessKeys:
    try:
        return read_keys(state.secrets, account.credentials_ciphertext, AccessKeys)
    except CredentialsUnreadable:
        raise Unprocessable(
            f"the credentials of cloud account {account.name} cannot be read: enter them again",
            field="cloud_account_uid",
        ) from None


async def _cluster_row(
    found: EksCluster,
    body: EksOnboard,
    owner: str,
    account: CloudAccount,
    keys: AccessKeys,
    state: AppState,
) -> Cluster:
    """The catalog row of one EKS cluster, its kubeconfig built around a fresh token."""
    if found.status != ACTIVE or not found.endpoint or not found.certificate_authority:
        raise Unprocessable(
            f"EKS cluster {found.name} is {found.status or 'not ready'}: onboard it once it is "
            f"{ACTIVE}",
            field="names",
        )
    token = await asyncio.to_thread(
        mint_token, cluster_name=found.name, region=body.region, keys=keys
    )
    text = yaml.safe_dump(
        kubeconfig(
            cluster_name=found.name,
            endpoint=found.endpoint,
            certificate_authority=found.certificate_authority,
            token=token.token,
        ),
        sort_keys=False,
    )
    try:
        summary = summarize(parse_kubeconfig(text))
    except KubeconfigError as exc:
        raise Unprocessable(
            f"EKS cluster {found.name} cannot be reached with what AWS describes: the "
            f"kubeconfig {exc}",
            field="names",
        ) from None
    return Cluster(
        name=found.name,
        labels=body.labels,
        owner_id=owner,
        provider=EKS_PROVIDER,
        source_uid=account.uid,
        external_id=found.arn,
        server_url=summary.server_url,
        kubeconfig_ciphertext=state.secrets.encrypt(text),
        credentials_expire_at=token.expires_at,
    )


async def _create_sync_schedules(
    temporal: Client, clusters: list[Cluster], task_queue: str, every: timedelta
) -> None:
    """Each cluster's sync schedule, as registering a cluster makes it; all or none.

    Not triggered here: the first syncs start once the clusters are committed, so none looks
    for a cluster that is not saved yet.
    """
    created: list[str] = []
    try:
        for cluster in clusters:
            await create_cluster_sync_schedule(
                temporal,
                cluster_uid=cluster.uid,
                owner_id=cluster.owner_id,
                task_queue=task_queue,
                every=every,
                trigger=False,
            )
            created.append(cluster.uid)
    except BaseException:
        for uid in created:
            with contextlib.suppress(RPCError):
                await temporal.get_schedule_handle(cluster_sync_schedule_id(uid)).delete()
        raise


@router.post("/clusters/eks", status_code=status.HTTP_201_CREATED)
async def onboard_eks_clusters(
    body: EksOnboard, ctx: CreateCluster, state: StateDep, temporal: TemporalDep
) -> ListOf[ClusterRead]:
    """Onboard the chosen EKS clusters of an aws cloud account, all or none.

    Each becomes a cluster of yours (provider eks, its ARN as external id) whose first sync
    starts at once, then periodically, as for a registered cluster.
    """
    account = await _account_to_use(ctx, body.cloud_account_uid)
    keys = _keys(account, state)
    session = ctx.session
    taken = sorted(
        await session.scalars(
            select(Cluster.name).where(
                Cluster.owner_id == ctx.caller.subject, Cluster.name.in_(body.names)
            )
        )
    )
    if taken:
        raise Conflict(
            f"you already have cluster(s) named {', '.join(taken)}: onboarded before, or "
            "registered under that name",
            field="names",
        )
    found = {
        c.name: c
        for c in await _describe(
            ctx,
            temporal,
            EksClustersInput(cloud_account_uid=account.uid, region=body.region, names=body.names),
        )
    }
    clusters = [
        await _cluster_row(found[name], body, ctx.caller.subject, account, keys, state)
        for name in body.names
    ]
    session.add_all(clusters)
    try:
        await session.flush()
    except IntegrityError:
        raise Conflict(
            "a cluster of yours with one of these names was added meanwhile: list them again",
            field="names",
        ) from None
    task_queue = ctx.settings.task_queue
    every = timedelta(seconds=ctx.settings.cluster_sync_interval_seconds)
    # Scheduled before the commit: when Temporal is down nothing is saved and the caller retries.
    await _create_sync_schedules(temporal, clusters, task_queue, every)
    await session.commit()
    for cluster in clusters:
        await trigger_cluster_sync(
            temporal,
            cluster_uid=cluster.uid,
            owner_id=cluster.owner_id,
            task_queue=task_queue,
            every=every,
        )
    for cluster in clusters:
        await session.refresh(cluster)
    items = [ClusterRead.model_validate(c) for c in clusters]
    return ListOf(items=items, count=len(items))
