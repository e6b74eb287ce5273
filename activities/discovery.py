"""Activities of cluster discovery (federated mode): Gardener shoots in a garden cluster.

A garden holds `Shoot` objects (`core.gardener.cloud/v1beta1`) in project namespaces
(`garden-<project>`), and for each shoot a secret `<shoot>.kubeconfig` whose `kubeconfig` key
reaches the shoot's API server. The garden kubeconfig and the shoots' kubeconfigs are read
here, inside activities, and never leave them: workflows see shoot names and uids only.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import enum
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import datetime, timedelta
from itertools import chain
from typing import Any

import kubernetes.client
import urllib3
from kubernetes.client.exceptions import ApiException
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.client import Client, ScheduleAlreadyRunningError
from temporalio.exceptions import ApplicationError

from activities.kube import REQUEST_TIMEOUT, api_client, paginate_objects
from lifeboat.catalog.models import Cluster, DiscoveryConfig, utcnow
from lifeboat.credentials import credentials_expire_at
from lifeboat.kubeconfig import KubeconfigError, parse_kubeconfig, summarize
from lifeboat.secrets import SecretBox, SecretDecryptError
from lifeboat.settings import Mode, Settings
from lifeboat.status import ClusterStatus, DiscoveryStatus
from workflows.cluster_sync_schedule import (
    cluster_sync_state,
    create_cluster_sync_schedule,
    pause_cluster_sync,
    trigger_cluster_sync,
)
from workflows.contracts import (
    DiscoveryInput,
    DiscoveryResult,
    ReconcileShootInput,
    RecordDiscoveryInput,
    RetireInput,
    ShootListing,
    ShootOutcome,
    ShootRef,
)
from workflows.errors import DISCOVERY_CONFIG_NOT_FOUND

SHOOT_GROUP = "core.gardener.cloud"
SHOOT_VERSION = "v1beta1"
SHOOTS = "shoots"
# Gardener's static kubeconfig secret of a shoot: `<shoot>.kubeconfig`, key `kubeconfig`.
KUBECONFIG_SECRET_SUFFIX = ".kubeconfig"
KUBECONFIG_KEY = "kubeconfig"
PROVIDER = "gardener"
# Where a discovered cluster came from, shown to users and used to say why it was retired.
PROJECT_LABEL = "gardener.lifeboat.dev/project"
SHOOT_LABEL = "gardener.lifeboat.dev/shoot"
NAMESPACE_LABEL = "gardener.lifeboat.dev/namespace"
# Credentials that expire within this many discovery intervals, with nothing newer in the
# garden, are reported: the next runs could not refresh them in time.
EXPIRY_WARNING_INTERVALS = 2
# How many per-shoot problems the configuration's status reason lists.
MAX_LISTED_PROBLEMS = 5


class ShootAction(enum.StrEnum):
    ONBOARDED = "onboarded"
    REFRESHED = "refreshed"
    UNCHANGED = "unchanged"
    FAILED = "failed"


class GardenError(Exception):
    """The garden could not answer; the message says what was asked and why it failed."""


def project_of(namespace: str) -> str:
    """A Gardener project's name from its namespace: `garden-<project>` (or `garden`)."""
    return namespace.removeprefix("garden-")


def kubeconfig_secret_name(shoot_name: str) -> str:
    return f"{shoot_name}{KUBECONFIG_SECRET_SUFFIX}"


@contextmanager
def _garden_calls(server: str, doing: str) -> Iterator[None]:
    """Turn the Kubernetes client's failures into a GardenError that says what failed."""
    try:
        yield
    except ApiException as exc:
        if exc.status == 401:
            raise GardenError(
                f"the garden {server} refused the garden kubeconfig's credentials while "
                f"{doing}: 401 {exc.reason}; replace the garden kubeconfig"
            ) from None
        if exc.status == 403:
            raise GardenError(
                f"the garden kubeconfig's user may not do this in {server}: {doing} "
                f"(403 {exc.reason}); it needs list on shoots.{SHOOT_GROUP} and get on secrets"
            ) from None
        raise GardenError(
            f"the garden {server} answered {exc.status} {exc.reason} while {doing}"
        ) from None
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        raise GardenError(f"cannot reach the garden {server} while {doing}: {exc}") from None


def list_matching_shoots(
    garden: dict[str, Any], server: str, selector: str, namespaces: list[str]
) -> list[ShootRef]:
    """The shoots matching the selector in the namespaces (all when none), being-deleted ones
    left out, in a stable order. Raises GardenError when the garden cannot say."""
    common: dict[str, Any] = {
        "group": SHOOT_GROUP,
        "version": SHOOT_VERSION,
        "plural": SHOOTS,
        "label_selector": selector or None,
    }
    where = ", ".join(namespaces) if namespaces else "all namespaces"
    with _garden_calls(server, f"listing shoots in {where}"), api_client(garden) as client:
        custom = kubernetes.client.CustomObjectsApi(client)
        try:
            items = list(
                chain.from_iterable(
                    paginate_objects(
                        custom.list_namespaced_custom_object, namespace=namespace, **common
                    )
                    for namespace in namespaces
                )
                if namespaces
                else paginate_objects(custom.list_cluster_custom_object, **common)
            )
        except ApiException as exc:
            if exc.status == 404:
                raise GardenError(
                    f"the garden {server} serves no {SHOOT_GROUP}/{SHOOT_VERSION} shoots: "
                    "is the garden kubeconfig a Gardener garden cluster's?"
                ) from None
            raise
    shoots = [
        ShootRef(
            namespace=item["metadata"]["namespace"],
            name=item["metadata"]["name"],
            uid=item["metadata"]["uid"],
        )
        for item in items
        if not item["metadata"].get("deletionTimestamp")
    ]
    return sorted(shoots, key=lambda s: (s.namespace, s.name))


def read_shoot_kubeconfig(garden: dict[str, Any], server: str, shoot: ShootRef) -> str:
    """The kubeconfig in the shoot's `<shoot>.kubeconfig` secret; GardenError when absent."""
    secret_name = kubeconfig_secret_name(shoot.name)
    where = f"secret {shoot.namespace}/{secret_name}"
    with _garden_calls(server, f"reading {where}"), api_client(garden) as client:
        try:
            secret = kubernetes.client.CoreV1Api(client).read_namespaced_secret(
                secret_name, shoot.namespace, _request_timeout=REQUEST_TIMEOUT
            )
        except ApiException as exc:
            if exc.status == 404:
                raise GardenError(f"the garden has no {where} with its kubeconfig") from None
            raise
    encoded = (secret.data or {}).get(KUBECONFIG_KEY)
    if not encoded:
        raise GardenError(f"{where} has no `{KUBECONFIG_KEY}` key")
    try:
        return base64.b64decode(encoded, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise GardenError(f"{where}: `{KUBECONFIG_KEY}` is not base64 of a text") from None


def _shoot_of(cluster: Cluster) -> str:
    """`<namespace>/<shoot>` of a discovered cluster (its name if its labels were lost)."""
    namespace, name = cluster.labels.get(NAMESPACE_LABEL), cluster.labels.get(SHOOT_LABEL)
    return f"{namespace}/{name}" if namespace and name else cluster.name


def _why_gone(
    custom: kubernetes.client.CustomObjectsApi, config: DiscoveryConfig, cluster: Cluster
) -> str:
    """Why a discovered cluster's shoot is no longer listed: gone, replaced, or unmatched."""
    namespace, name = cluster.labels.get(NAMESPACE_LABEL), cluster.labels.get(SHOOT_LABEL)
    if not namespace or not name:
        return "is no longer listed"
    try:
        shoot = custom.get_namespaced_custom_object(
            SHOOT_GROUP, SHOOT_VERSION, namespace, SHOOTS, name, _request_timeout=REQUEST_TIMEOUT
        )
    except ApiException as exc:
        return "is gone" if exc.status == 404 else "is no longer listed"
    except (urllib3.exceptions.HTTPError, OSError):
        return "is no longer listed"
    metadata: dict[str, Any] = (shoot.get("metadata") if isinstance(shoot, dict) else None) or {}
    if metadata.get("uid") != cluster.external_id:
        return "is gone (a newer shoot has its name)"
    if metadata.get("deletionTimestamp"):
        return "is being deleted"
    if config.namespaces and namespace not in config.namespaces:
        return "is outside the configured namespaces"
    return f"no longer matches the label selector {config.label_selector!r}"


def why_gone(garden: dict[str, Any], config: DiscoveryConfig, clusters: list[Cluster]) -> list[str]:
    """Why each discovered cluster's shoot is no longer listed, asked of the garden over one
    client."""
    with api_client(garden) as client:
        custom = kubernetes.client.CustomObjectsApi(client)
        return [_why_gone(custom, config, cluster) for cluster in clusters]


def _config_gone(config_uid: str) -> ApplicationError:
    return ApplicationError(
        f"discovery configuration {config_uid} is gone",
        type=DISCOVERY_CONFIG_NOT_FOUND,
        non_retryable=True,
    )


class DiscoveryActivities:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        secrets: SecretBox,
        temporal: Client,
        settings: Settings,
    ) -> None:
        self._sessions = sessions
        self._secrets = secrets
        self._temporal = temporal
        self._settings = settings

    async def _config(self, config_uid: str) -> DiscoveryConfig:
        async with self._sessions() as session:
            config = await session.get(DiscoveryConfig, config_uid)
        if config is None:
            raise _config_gone(config_uid)
        return config

    def _garden(self, config: DiscoveryConfig) -> dict[str, Any]:
        """The garden kubeconfig, decrypted inside the activity (it was validated when stored)."""
        try:
            return parse_kubeconfig(self._secrets.decrypt(config.garden_kubeconfig_ciphertext))
        except (SecretDecryptError, KubeconfigError) as exc:
            raise GardenError(f"the stored garden kubeconfig is unusable: {exc}") from None

    @activity.defn
    async def list_shoots(self, input: DiscoveryInput) -> ShootListing:
        """The shoots that match the configuration, or why the garden could not say."""
        config = await self._config(input.config_uid)
        if self._settings.mode != Mode.FEDERATED:
            return ShootListing(
                reachable=False,
                reason=f"cluster discovery runs in federated mode only; this worker runs in "
                f"{self._settings.mode} mode",
            )
        try:
            shoots = await asyncio.to_thread(
                list_matching_shoots,
                self._garden(config),
                config.garden_server_url,
                config.label_selector,
                list(config.namespaces),
            )
        except GardenError as exc:
            return ShootListing(reachable=False, reason=str(exc))
        return ShootListing(reachable=True, shoots=shoots)

    @activity.defn
    async def reconcile_shoot(self, input: ReconcileShootInput) -> ShootOutcome:
        """Onboard a new shoot as a cluster, or refresh a known one's kubeconfig.

        A shoot whose cluster had been retired is resumed: its sync schedule runs again.
        """
        config = await self._config(input.config_uid)
        shoot = input.shoot
        try:
            text = await asyncio.to_thread(
                read_shoot_kubeconfig, self._garden(config), config.garden_server_url, shoot
            )
            kubeconfig = parse_kubeconfig(text)
        except GardenError as exc:
            return ShootOutcome(action=ShootAction.FAILED, reason=str(exc))
        except KubeconfigError as exc:
            secret = kubeconfig_secret_name(shoot.name)
            return ShootOutcome(
                action=ShootAction.FAILED,
                reason=f"the kubeconfig in secret {shoot.namespace}/{secret} is unusable: "
                f"kubeconfig {exc}",
            )
        server_url = summarize(kubeconfig).server_url
        expires = credentials_expire_at(kubeconfig)
        schedule_missing = paused = False
        async with self._sessions.begin() as session:
            cluster = await session.scalar(
                select(Cluster)
                .where(Cluster.source_uid == config.uid, Cluster.external_id == shoot.uid)
                .with_for_update()
            )
            if cluster is None:
                cluster = Cluster(
                    name=await self._free_name(session, config, shoot),
                    org_id=config.org_id,
                    owner_id=config.owner_id,
                    labels={
                        PROJECT_LABEL: project_of(shoot.namespace),
                        NAMESPACE_LABEL: shoot.namespace,
                        SHOOT_LABEL: shoot.name,
                    },
                    provider=PROVIDER,
                    server_url=server_url,
                    kubeconfig_ciphertext=self._secrets.encrypt(text),
                    source_uid=config.uid,
                    external_id=shoot.uid,
                    credentials_expire_at=expires,
                )
                session.add(cluster)
                await session.flush()
                action = ShootAction.ONBOARDED
            else:
                action = ShootAction.UNCHANGED
                if self._secrets.decrypt(cluster.kubeconfig_ciphertext) != text:
                    cluster.kubeconfig_ciphertext = self._secrets.encrypt(text)
                    cluster.server_url = server_url
                    cluster.credentials_expire_at = expires
                    action = ShootAction.REFRESHED
                state = await cluster_sync_state(self._temporal, cluster.uid)
                schedule_missing, paused = state is None, bool(state and state.paused)
                if paused:  # retired earlier, and the shoot is back
                    cluster.status = ClusterStatus.PENDING
                    cluster.status_reason = "the shoot is back in the garden: syncing"
                    action = ShootAction.REFRESHED
            cluster_uid, owner_id = cluster.uid, cluster.owner_id
        # After the commit, so that a retry finds the cluster and makes sure of its schedule.
        if action == ShootAction.ONBOARDED or schedule_missing:
            await self._create_sync(cluster_uid, owner_id)
        elif paused:
            await pause_cluster_sync(
                self._temporal,
                cluster_uid,
                paused=False,
                note=f"shoot {shoot.namespace}/{shoot.name} is back in garden "
                f"{config.garden_server_url}",
            )
            await self._trigger_sync(cluster_uid, owner_id)
        elif action == ShootAction.REFRESHED:
            await self._trigger_sync(cluster_uid, owner_id)
        return ShootOutcome(
            action=action, cluster_uid=cluster_uid, reason=self._expiry_warning(config, expires)
        )

    def _expiry_warning(self, config: DiscoveryConfig, expires: datetime | None) -> str:
        soon = timedelta(seconds=EXPIRY_WARNING_INTERVALS * config.interval_seconds)
        if expires is None or expires - utcnow() > soon:
            return ""
        return (
            f"its kubeconfig's credentials expire at {expires:%Y-%m-%d %H:%M:%S} UTC and the "
            "garden holds nothing newer"
        )

    async def _free_name(
        self, session: AsyncSession, config: DiscoveryConfig, shoot: ShootRef
    ) -> str:
        """`<shoot>`, else `<project>-<shoot>`, else that with the shoot's uid: the first
        the owner has no cluster by."""
        project = project_of(shoot.namespace)
        candidates = [
            shoot.name,
            f"{project}-{shoot.name}",
            f"{project}-{shoot.name}-{shoot.uid[:8]}",
        ]
        taken = set(
            await session.scalars(
                select(Cluster.name).where(
                    Cluster.org_id == config.org_id,
                    Cluster.owner_id == config.owner_id,
                    Cluster.name.in_(candidates),
                )
            )
        )
        return next((c for c in candidates if c not in taken), candidates[-1])

    def _sync_every(self) -> timedelta:
        return timedelta(seconds=self._settings.cluster_sync_interval_seconds)

    async def _create_sync(self, cluster_uid: str, owner_id: str) -> None:
        # An earlier attempt of this activity may have made it.
        with suppress(ScheduleAlreadyRunningError):
            await create_cluster_sync_schedule(
                self._temporal,
                cluster_uid=cluster_uid,
                owner_id=owner_id,
                task_queue=self._settings.task_queue,
                every=self._sync_every(),
            )

    async def _trigger_sync(self, cluster_uid: str, owner_id: str) -> None:
        await trigger_cluster_sync(
            self._temporal,
            cluster_uid=cluster_uid,
            owner_id=owner_id,
            task_queue=self._settings.task_queue,
            every=self._sync_every(),
        )

    @activity.defn
    async def retire_missing(self, input: RetireInput) -> list[str]:
        """Retire the configuration's clusters whose shoot is no longer listed.

        Never deletes a cluster or its backups: marks it Failed with the reason (naming the
        shoot and the garden) and pauses its sync schedule. Returns the clusters retired now.
        """
        config = await self._config(input.config_uid)
        async with self._sessions.begin() as session:
            clusters = await session.scalars(
                select(Cluster)
                .where(Cluster.source_uid == config.uid, Cluster.external_id.not_in(input.present))
                .order_by(Cluster.name)
                .with_for_update()
            )
            missing: list[Cluster] = []
            for cluster in clusters:
                if cluster.status == ClusterStatus.FAILED:
                    state = await cluster_sync_state(self._temporal, cluster.uid)
                    if state is not None and state.paused:
                        continue  # retired by an earlier run
                missing.append(cluster)
            whys = (
                await asyncio.to_thread(why_gone, self._garden(config), config, missing)
                if missing
                else []
            )
            for cluster, why in zip(missing, whys, strict=True):
                cluster.status = ClusterStatus.FAILED
                cluster.status_reason = (
                    f"shoot {_shoot_of(cluster)} {why} in garden {config.garden_server_url}: "
                    "its syncs are paused; the cluster and its backups are kept"
                )
            retired = [cluster.uid for cluster in missing]
        for cluster_uid in retired:
            await pause_cluster_sync(
                self._temporal,
                cluster_uid,
                paused=True,
                note="its shoot is no longer listed by discovery",
            )
        return retired

    @activity.defn
    async def record_discovery(self, input: RecordDiscoveryInput) -> DiscoveryResult:
        """Record a run on the configuration: status, reason (with the counts), time."""
        async with self._sessions.begin() as session:
            config = await session.get(DiscoveryConfig, input.config_uid, with_for_update=True)
            if config is None:
                raise _config_gone(input.config_uid)
            if not input.reachable:
                config.status, config.status_reason = DiscoveryStatus.FAILED, input.reason
            else:
                summary = (
                    f"{input.matched} shoot(s) match: {input.onboarded} onboarded, "
                    f"{input.refreshed} refreshed, {input.retired} retired"
                )
                listed = input.problems[:MAX_LISTED_PROBLEMS]
                more = len(input.problems) - len(listed)
                problems = "; ".join(listed) + (f"; and {more} more" if more else "")
                config.status = DiscoveryStatus.DEGRADED if problems else DiscoveryStatus.READY
                config.status_reason = f"{summary}; {problems}" if problems else summary
            config.last_run_at = utcnow()
            return DiscoveryResult(
                config_uid=config.uid,
                status=config.status,
                reason=config.status_reason,
                onboarded=input.onboarded,
                refreshed=input.refreshed,
                retired=input.retired,
                failed=input.failed,
            )
