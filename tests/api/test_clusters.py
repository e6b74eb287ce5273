"""Registering clusters and reading their inventory, through the API, on the real stack."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import kubernetes.client
import kubernetes.config
import pytest
import yaml
from sqlalchemy import update
from temporalio.client import Client

from deploy.local.servers.procs import free_port
from deploy.local.stack import Stack
from lifeboat.catalog.models import Cluster, User
from lifeboat.catalog.session import create_engine, create_sessionmaker
from lifeboat.status import ClusterStatus
from tests.api.helpers import remove_cluster, unique, wait_for_sync, workflow_histories
from tests.conftest import Users


@pytest.fixture(scope="module")
def kube(stack: Stack) -> Iterator[kubernetes.client.ApiClient]:
    client = kubernetes.config.new_client_from_config(config_file=stack.kubeconfig)
    yield client
    client.close()


def _namespace(kube: kubernetes.client.ApiClient, name: str) -> None:
    kubernetes.client.CoreV1Api(kube).create_namespace(
        kubernetes.client.V1Namespace(metadata=kubernetes.client.V1ObjectMeta(name=name))
    )


def _deployment(kube: kubernetes.client.ApiClient, namespace: str, name: str) -> None:
    k8s = kubernetes.client
    labels = {"app": name}
    deployment = k8s.V1Deployment(
        metadata=k8s.V1ObjectMeta(name=name),
        spec=k8s.V1DeploymentSpec(
            replicas=1,
            selector=k8s.V1LabelSelector(match_labels=labels),
            template=k8s.V1PodTemplateSpec(
                metadata=k8s.V1ObjectMeta(labels=labels),
                spec=k8s.V1PodSpec(containers=[k8s.V1Container(name="app", image="busybox")]),
            ),
        ),
    )
    k8s.AppsV1Api(kube).create_namespaced_deployment(namespace, deployment)


def _pvc(kube: kubernetes.client.ApiClient, namespace: str, name: str, size: str) -> None:
    k8s = kubernetes.client
    claim = k8s.V1PersistentVolumeClaim(
        metadata=k8s.V1ObjectMeta(name=name),
        spec=k8s.V1PersistentVolumeClaimSpec(
            access_modes=["ReadWriteOnce"],
            resources=k8s.V1VolumeResourceRequirements(requests={"storage": size}),
        ),
    )
    k8s.CoreV1Api(kube).create_namespaced_persistent_volume_claim(namespace, claim)


def _register(api: httpx.Client, kubeconfig: str, name: str | None = None) -> dict[str, Any]:
    response = api.post(
        "/api/v1/clusters", json={"name": name or unique("cluster"), "kubeconfig": kubeconfig}
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def test_inventory_shows_namespaces_workloads_and_pvcs(
    as_user: Users, kubeconfig_text: str, kube: kubernetes.client.ApiClient
) -> None:
    api = as_user("infraadmin")
    first, second = unique("inv-a"), unique("inv-b")
    _namespace(kube, first)
    _deployment(kube, first, "web")

    registered = _register(api, kubeconfig_text)
    assert registered["status"] == "Pending"
    assert "kubeconfig" not in registered
    cluster = wait_for_sync(api, registered["uid"])
    assert cluster["status"] == "Online", cluster["status_reason"]
    assert cluster["kubernetes_version"].startswith("v1.20")
    assert first in cluster["namespaces"] and "default" in cluster["namespaces"]
    assert cluster["application_count"] >= 1

    # Changes in the cluster show up after an on-demand sync.
    _namespace(kube, second)
    _deployment(kube, second, "api")
    _pvc(kube, second, "data", "1Gi")
    _pvc(kube, second, "logs", "512Mi")
    response = api.post(f"/api/v1/clusters/{cluster['uid']}/sync")
    assert response.status_code == 202, response.text
    synced = wait_for_sync(api, cluster["uid"], after=cluster["last_synced_at"])
    assert second in synced["namespaces"]
    assert synced["application_count"] == cluster["application_count"] + 1
    assert synced["pvc_count"] == cluster["pvc_count"] + 2
    assert synced["pvc_requested_bytes"] == cluster["pvc_requested_bytes"] + (1024 + 512) * 2**20


def _edited(kubeconfig: str, edit: Callable[[dict[str, Any]], Any]) -> str:
    config = yaml.safe_load(kubeconfig)
    edit(config)
    return yaml.safe_dump(config)


def _user(config: dict[str, Any]) -> dict[str, Any]:
    user: dict[str, Any] = config["users"][0]["user"]
    return user


BAD_KUBECONFIGS: dict[str, tuple[Callable[[str], str], str]] = {
    "not yaml": (lambda k: "clusters: [unclosed", "not valid YAML"),
    "not a mapping": (lambda k: "- just\n- a list\n", "YAML mapping"),
    "no current context": (
        lambda k: _edited(k, lambda c: c.pop("current-context")),
        "current-context",
    ),
    "unknown context": (
        lambda k: _edited(k, lambda c: c.update({"current-context": "elsewhere"})),
        "no entry named 'elsewhere'",
    ),
    "server not a url": (
        lambda k: _edited(k, lambda c: c["clusters"][0]["cluster"].update(server="localhost")),
        "server",
    ),
    "exec plugin": (
        lambda k: _edited(
            k, lambda c: _user(c).update({"exec": {"command": "sh", "args": ["-c", "id"]}})
        ),
        ".exec",
    ),
    "file reference": (
        lambda k: _edited(k, lambda c: _user(c).update({"client-certificate": "/etc/passwd"})),
        "refers to a file",
    ),
    "no credentials": (
        lambda k: _edited(k, lambda c: c["users"][0].update(user={})),
        "has no credentials",
    ),
    "bad base64": (
        lambda k: _edited(k, lambda c: _user(c).update({"client-key-data": "not base64!"})),
        "not valid base64",
    ),
}


@pytest.mark.parametrize("case", BAD_KUBECONFIGS, ids=list(BAD_KUBECONFIGS))
def test_bad_kubeconfig_is_refused_with_the_reason_and_nothing_is_stored(
    as_user: Users, kubeconfig_text: str, case: str
) -> None:
    api = as_user("appadmin")
    make, expected = BAD_KUBECONFIGS[case]
    before = api.get("/api/v1/clusters").json()["count"]
    name = unique("bad")
    response = api.post(
        "/api/v1/clusters", json={"name": name, "kubeconfig": make(kubeconfig_text)}
    )
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["field"] == "kubeconfig"
    assert expected in error["message"]
    assert api.get("/api/v1/clusters").json()["count"] == before


def test_unreachable_cluster_is_recorded_offline_with_the_reason(
    as_user: Users, kubeconfig_text: str
) -> None:
    api = as_user("infraadmin")
    closed = free_port()
    kubeconfig = _edited(
        kubeconfig_text,
        lambda c: c["clusters"][0]["cluster"].update(server=f"https://127.0.0.1:{closed}"),
    )
    cluster = wait_for_sync(api, _register(api, kubeconfig)["uid"])
    assert cluster["status"] == "Offline"
    assert "cannot reach the API server" in cluster["status_reason"]
    assert cluster["server_url"] == f"https://127.0.0.1:{closed}"
    listed = {c["uid"] for c in api.get("/api/v1/clusters").json()["items"]}
    assert cluster["uid"] in listed


def test_refused_credentials_mark_the_cluster_failed(as_user: Users, kubeconfig_text: str) -> None:
    api = as_user("infraadmin")

    def token_only(config: dict[str, Any]) -> None:
        config["users"][0]["user"] = {"token": "not-a-valid-token"}

    cluster = wait_for_sync(api, _register(api, _edited(kubeconfig_text, token_only))["uid"])
    assert cluster["status"] == "Failed"
    assert "refused the kubeconfig's credentials" in cluster["status_reason"]


def test_names_are_unique_per_owner_and_clusters_private(
    as_user: Users, kubeconfig_text: str
) -> None:
    name = unique("prod")
    mine = _register(as_user("infraadmin"), kubeconfig_text, name)
    again = as_user("infraadmin").post(
        "/api/v1/clusters", json={"name": name, "kubeconfig": kubeconfig_text}
    )
    assert again.status_code == 409
    assert again.json()["error"]["field"] == "name"
    theirs = _register(as_user("appuser"), kubeconfig_text, name)
    assert theirs["uid"] != mine["uid"]

    assert as_user("appuser").get(f"/api/v1/clusters/{mine['uid']}").status_code == 404
    assert as_user("appuser").post(f"/api/v1/clusters/{mine['uid']}/sync").status_code == 404
    assert as_user("appuser").delete(f"/api/v1/clusters/{mine['uid']}").status_code == 404
    listed = {c["uid"] for c in as_user("appuser").get("/api/v1/clusters").json()["items"]}
    assert theirs["uid"] in listed and mine["uid"] not in listed
    assert mine["owner"] == "infraadmin" and theirs["owner"] == "appuser"

    # A super admin sees both, told apart by their owners (and uid, server, creation time).
    everyone = as_user("superadmin").get("/api/v1/clusters").json()["items"]
    same = {c["owner"]: c for c in everyone if c["name"] == name}
    assert set(same) == {"infraadmin", "appuser"}
    assert same["appuser"]["uid"] == theirs["uid"] and same["appuser"]["server_url"]


def test_an_owner_the_provider_no_longer_has_shows_as_unknown(
    as_user: Users, kubeconfig_text: str, stack: Stack
) -> None:
    theirs = _register(as_user("appuser"), kubeconfig_text, unique("orphan"))

    async def in_provider(value: bool) -> None:
        engine = create_engine(stack.database_url)
        try:
            async with create_sessionmaker(engine).begin() as session:
                await session.execute(
                    update(User).where(User.subject == theirs["owner_id"]).values(in_provider=value)
                )
        finally:
            await engine.dispose()

    asyncio.run(in_provider(False))  # as it would be once the provider's deletion is noticed
    try:
        found = as_user("superadmin").get(f"/api/v1/clusters/{theirs['uid']}").json()
        assert found["owner"] == f"Unknown ({theirs['owner_id']})"
    finally:
        asyncio.run(in_provider(True))


def test_nothing_new_starts_on_a_cluster_being_removed(
    as_user: Users, kubeconfig_text: str, stack: Stack
) -> None:
    api = as_user("infraadmin")
    cluster = wait_for_sync(api, _register(api, kubeconfig_text)["uid"])

    async def delete_pending() -> None:  # as the removal route leaves it while its workflow runs
        engine = create_engine(stack.database_url)
        try:
            async with create_sessionmaker(engine).begin() as session:
                await session.execute(
                    update(Cluster)
                    .where(Cluster.uid == cluster["uid"])
                    .values(status=ClusterStatus.DELETE_PENDING)
                )
        finally:
            await engine.dispose()

    asyncio.run(delete_pending())
    backup = api.post(
        "/api/v1/backups",
        json={"cluster_uid": cluster["uid"], "location_uid": "any", "namespaces": ["default"]},
    )
    assert backup.status_code == 409 and backup.json()["error"]["field"] == "cluster_uid"
    assert "being removed" in backup.json()["error"]["message"]
    assert api.post(f"/api/v1/clusters/{cluster['uid']}/sync").status_code == 409
    replaced = api.put(
        f"/api/v1/clusters/{cluster['uid']}/kubeconfig", json={"kubeconfig": kubeconfig_text}
    )
    assert replaced.status_code == 409
    assert api.get(f"/api/v1/clusters/{cluster['uid']}").json()["status"] == "DeletePending"
    remove_cluster(api, cluster["uid"])


def test_delete_removes_the_cluster_and_its_sync_schedule(
    as_user: Users, kubeconfig_text: str, stack: Stack
) -> None:
    api = as_user("appadmin")
    cluster = wait_for_sync(api, _register(api, kubeconfig_text)["uid"])
    remove_cluster(api, cluster["uid"])

    async def schedule_ids() -> list[str]:
        client = await Client.connect(stack.temporal_address)
        return [s.id async for s in await client.list_schedules()]

    assert f"cluster-sync-{cluster['uid']}" not in asyncio.run(schedule_ids())


def test_no_kubeconfig_in_workflow_history(
    as_user: Users, kubeconfig_text: str, stack: Stack
) -> None:
    api = as_user("infraadmin")
    cluster = wait_for_sync(api, _register(api, kubeconfig_text)["uid"])
    key_data = _user(yaml.safe_load(kubeconfig_text))["client-key-data"]

    query = f'LifeboatCluster = "{cluster["uid"]}"'
    recorded = workflow_histories(stack.temporal_address, query, mentioning=cluster["uid"])
    for history in recorded:
        assert cluster["uid"] in history
        assert key_data not in history and "BEGIN" not in history
