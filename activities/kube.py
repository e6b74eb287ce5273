"""Activities that talk to protected clusters through the Kubernetes API."""

from __future__ import annotations

import asyncio
import atexit
import functools
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from typing import Any

import kubernetes.client
import kubernetes.config
import urllib3
from kubernetes.client.exceptions import ApiException
from kubernetes.utils import parse_quantity
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from lifeboat.catalog.models import CloudAccount, Cluster
from lifeboat.credentials import AccessKeys, read_keys
from lifeboat.eks import EKS_PROVIDER, TOKEN_PREFIX, current_token, with_token_plugin
from lifeboat.kubeconfig import parse_kubeconfig
from lifeboat.licensing import UNCOUNTED_CLUSTER_NODES
from lifeboat.secrets import SecretBox
from lifeboat.status import ClusterStatus
from lifeboat.virtual_machines import GROUP, PLURAL, VERSION, summary
from workflows.contracts import ClusterInventory, ClusterSyncInput, VirtualMachineInfo
from workflows.errors import CLUSTER_NOT_FOUND

# (connect, read) seconds for each API call: an unreachable cluster must not hang a worker.
REQUEST_TIMEOUT = (5, 30)
PAGE_SIZE = 500
# Control-plane namespaces: their workloads are the platform's, not the users' applications.
SYSTEM_NAMESPACES = frozenset({"kube-system", "kube-public", "kube-node-lease"})
SHARED_MEMORY = "/dev/shm"


def api_client(kubeconfig: dict[str, Any]) -> kubernetes.client.ApiClient:
    """A client for one cluster, from a validated kubeconfig; no retries of its own.

    Blocking: certificate files are written, and a token plugin (EKS) runs as a process.
    Call it in a thread, never on the event loop.
    """
    configuration = kubernetes.client.Configuration()
    kubernetes.config.load_kube_config_from_dict(
        kubeconfig, client_configuration=configuration, temp_file_path=key_files()
    )
    configuration.retries = 0
    return kubernetes.client.ApiClient(configuration)


@functools.cache
def key_files() -> str:
    """Where the Kubernetes client writes a kubeconfig's certificates and private keys: the
    TLS library reads them from files only. A directory of this process's own in memory (a
    tmpfs) where there is one, so that no key ever reaches a disk, removed at exit; the
    client's default, the temporary directory, kept the keys of a killed worker forever."""
    base = SHARED_MEMORY if os.path.isdir(SHARED_MEMORY) else tempfile.gettempdir()
    path = tempfile.mkdtemp(prefix=f"lifeboat-keys-{os.getpid()}-", dir=base)
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path


def paginate(list_call: Callable[..., Any], **kwargs: Any) -> Iterator[Any]:
    """Every item of a list call, page by page."""
    token = None
    while True:
        page = list_call(
            limit=PAGE_SIZE, _continue=token, _request_timeout=REQUEST_TIMEOUT, **kwargs
        )
        yield from page.items
        token = page.metadata._continue
        if not token:
            return


def paginate_objects(list_call: Callable[..., Any], **kwargs: Any) -> Iterator[dict[str, Any]]:
    """Every item of a custom-object list call (plain dicts), page by page."""
    token = None
    while True:
        page = list_call(
            limit=PAGE_SIZE, _continue=token, _request_timeout=REQUEST_TIMEOUT, **kwargs
        )
        yield from page.get("items") or []
        token = (page.get("metadata") or {}).get("continue")
        if not token:
            return


def list_virtual_machines(client: kubernetes.client.ApiClient) -> list[VirtualMachineInfo]:
    """Every KubeVirt VM of the cluster; none when KubeVirt is not installed (no such type)."""
    custom = kubernetes.client.CustomObjectsApi(client)
    try:
        found = [
            VirtualMachineInfo(**summary(vm))
            for vm in paginate_objects(
                custom.list_cluster_custom_object, group=GROUP, version=VERSION, plural=PLURAL
            )
        ]
    except ApiException as exc:
        if exc.status == 404:
            return []
        raise
    return sorted(found, key=lambda vm: (vm.namespace, vm.name))


def collect_inventory(kubeconfig: dict[str, Any]) -> ClusterInventory:
    """Reach the cluster and count what runs there; say why when it cannot be reached."""
    try:
        with api_client(kubeconfig) as client:
            version = kubernetes.client.VersionApi(client).get_code(
                _request_timeout=REQUEST_TIMEOUT
            )
            core = kubernetes.client.CoreV1Api(client)
            apps = kubernetes.client.AppsV1Api(client)
            namespaces = sorted(ns.metadata.name for ns in paginate(core.list_namespace))
            applications = sum(
                1
                for list_call in (
                    apps.list_deployment_for_all_namespaces,
                    apps.list_stateful_set_for_all_namespaces,
                    apps.list_daemon_set_for_all_namespaces,
                )
                for workload in paginate(list_call)
                if workload.metadata.namespace not in SYSTEM_NAMESPACES
            )
            pvcs = list(paginate(core.list_persistent_volume_claim_for_all_namespaces))
            virtual_machines = list_virtual_machines(client)
            node_count, identity = _licensed_size(core)
    except ApiException as exc:
        if exc.status in (401, 403):
            return ClusterInventory(
                status=ClusterStatus.FAILED,
                reason=f"the API server refused the kubeconfig's credentials: "
                f"{exc.status} {exc.reason}; replace the kubeconfig",
            )
        return ClusterInventory(
            status=ClusterStatus.OFFLINE,
            reason=f"the API server answered {exc.status} {exc.reason}",
        )
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        return ClusterInventory(
            status=ClusterStatus.OFFLINE, reason=f"cannot reach the API server: {exc}"
        )
    requested = 0
    for pvc in pvcs:
        storage = ((pvc.spec.resources and pvc.spec.resources.requests) or {}).get("storage")
        if storage:
            requested += int(parse_quantity(storage))
    return ClusterInventory(
        status=ClusterStatus.ONLINE,
        kubernetes_version=version.git_version,
        namespaces=namespaces,
        application_count=applications,
        pvc_count=len(pvcs),
        pvc_requested_bytes=requested,
        virtual_machines=virtual_machines,
        node_count=node_count,
        identity=identity,
    )


def _licensed_size(core: kubernetes.client.CoreV1Api) -> tuple[int, str]:
    """The cluster's nodes and identity (its kube-system namespace uid), for the license.

    A kubeconfig that may not list nodes counts as one node; one that may not read kube-system
    leaves the identity empty (the cluster then counts on its own, never merged with another).
    """
    try:
        nodes = sum(1 for _ in paginate(core.list_node))
    except ApiException as exc:
        if exc.status not in (401, 403):
            raise
        nodes = UNCOUNTED_CLUSTER_NODES
    try:
        system = core.read_namespace("kube-system", _request_timeout=REQUEST_TIMEOUT)
        identity = system.metadata.uid if system.metadata else ""
    except ApiException as exc:
        if exc.status not in (401, 403, 404):
            raise
        identity = ""
    return nodes, identity or ""


async def cluster_kubeconfig(
    sessions: async_sessionmaker[AsyncSession], secrets: SecretBox, cluster_uid: str
) -> dict[str, Any]:
    """A cluster's kubeconfig, decrypted inside an activity, never passed through history.

    An EKS token lasts 15 minutes, so an onboarded EKS cluster's kubeconfig gets the token
    plugin of `lifeboat.eks`, minting from its cloud account's current keys, and again before
    each token expires (a replaced kubeconfig without an EKS token is used as it is).
    """
    async with sessions() as session:
        cluster = await session.get(Cluster, cluster_uid)
        account = (
            await session.get(CloudAccount, cluster.source_uid)
            if cluster is not None and cluster.provider == EKS_PROVIDER and cluster.source_uid
            else None
        )
    if cluster is None:
        raise ApplicationError(f"cluster {cluster_uid} is gone", type=CLUSTER_NOT_FOUND)
    kubeconfig = parse_kubeconfig(secrets.decrypt(cluster.kubeconfig_ciphertext))
    if account is not None and current_token(kubeconfig).startswith(TOKEN_PREFIX):
        keys = read_keys(secrets, account.credentials_ciphertext, AccessKeys)
        kubeconfig = with_token_plugin(kubeconfig, cluster.external_id, keys)
    return kubeconfig


class KubeActivities:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], secrets: SecretBox) -> None:
        self._sessions = sessions
        self._secrets = secrets

    @activity.defn
    async def take_inventory(self, input: ClusterSyncInput) -> ClusterInventory:
        """Take a cluster's inventory: version, namespaces, applications, PVCs."""
        kubeconfig = await cluster_kubeconfig(self._sessions, self._secrets, input.cluster_uid)
        return await asyncio.to_thread(collect_inventory, kubeconfig)
