"""The local control plane behaves like a real cluster for what Lifeboat needs, and keeps data."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from kubernetes import client, config

from deploy.local.servers.kube import KubeCluster, running_kube, start_kube, stop_kube
from deploy.local.servers.procs import ManagedProcess, pid_alive, tcp_open

PROCESSES = ("etcd", "kube-apiserver", "kube-controller-manager")


@pytest.fixture(scope="module")
def kube_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    home = tmp_path_factory.mktemp("kube")
    started = time.monotonic()
    start_kube(home)
    print(f"start_kube took {time.monotonic() - started:.1f}s")
    try:
        yield home
    finally:
        stop_kube(home)


def _cluster(home: Path) -> KubeCluster:
    cluster = running_kube(home)
    assert cluster is not None
    return cluster


def _api(cluster: KubeCluster) -> client.ApiClient:
    api: client.ApiClient = config.new_client_from_config(config_file=str(cluster.kubeconfig))
    return api


def _namespace(name: str) -> client.V1Namespace:
    return client.V1Namespace(metadata=client.V1ObjectMeta(name=name))


def _wait_for(what: str, check: Any, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"{what} did not happen within {timeout:.0f}s")


def test_controllers_crds_and_version(kube_home: Path) -> None:
    cluster = _cluster(kube_home)
    api = _api(cluster)
    core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
    core.create_namespace(_namespace("shop"))
    labels = {"app": "web"}
    deployment = client.V1Deployment(
        metadata=client.V1ObjectMeta(name="web"),
        spec=client.V1DeploymentSpec(
            replicas=1,
            selector=client.V1LabelSelector(match_labels=labels),
            template=client.V1PodTemplateSpec(
                metadata=client.V1ObjectMeta(labels=labels),
                spec=client.V1PodSpec(
                    containers=[client.V1Container(name="web", image="nginx:1.25")]
                ),
            ),
        ),
    )
    apps.create_namespaced_deployment("shop", deployment)
    replica_sets = _wait_for(
        "a ReplicaSet for the Deployment",
        lambda: apps.list_namespaced_replica_set("shop").items,
    )
    assert replica_sets[0].metadata.owner_references[0].name == "web"

    # Custom objects crashed the API server built with the vendored reflect2 under Go 1.19.
    crd = client.V1CustomResourceDefinition(
        metadata=client.V1ObjectMeta(name="widgets.demo.lifeboat.dev"),
        spec=client.V1CustomResourceDefinitionSpec(
            group="demo.lifeboat.dev",
            scope="Namespaced",
            names=client.V1CustomResourceDefinitionNames(
                plural="widgets", singular="widget", kind="Widget"
            ),
            versions=[
                client.V1CustomResourceDefinitionVersion(
                    name="v1",
                    served=True,
                    storage=True,
                    schema=client.V1CustomResourceValidation(
                        open_apiv3_schema=client.V1JSONSchemaProps(
                            type="object", x_kubernetes_preserve_unknown_fields=True
                        )
                    ),
                )
            ],
        ),
    )
    extensions = client.ApiextensionsV1Api(api)
    extensions.create_custom_resource_definition(crd)

    def established() -> bool:
        status = extensions.read_custom_resource_definition("widgets.demo.lifeboat.dev").status
        conditions = (status.conditions if status else None) or []
        return any(c.type == "Established" and c.status == "True" for c in conditions)

    _wait_for("the CRD to be established", established)
    custom = client.CustomObjectsApi(api)
    widget = {
        "apiVersion": "demo.lifeboat.dev/v1",
        "kind": "Widget",
        "metadata": {"name": "blue"},
        "spec": {"colour": "blue", "sizes": [1, 2, 3]},
    }
    custom.create_namespaced_custom_object("demo.lifeboat.dev", "v1", "shop", "widgets", widget)
    read = custom.get_namespaced_custom_object("demo.lifeboat.dev", "v1", "shop", "widgets", "blue")
    assert isinstance(read, dict)
    assert read["spec"] == {"colour": "blue", "sizes": [1, 2, 3]}

    assert client.VersionApi(api).get_code().git_version.startswith("v1.20.")
    assert cluster.version.startswith("v1.20.")


def test_stop_ends_processes_and_start_keeps_data(kube_home: Path) -> None:
    cluster = _cluster(kube_home)
    client.CoreV1Api(_api(cluster)).create_namespace(_namespace("kept"))
    pids = [ManagedProcess(name, kube_home / name).pid() for name in PROCESSES]
    assert all(pids)
    port = urlsplit(cluster.server).port
    assert port is not None

    stop_kube(kube_home)

    assert not any(pid_alive(pid) for pid in pids if pid)
    assert not tcp_open(port)
    assert running_kube(kube_home) is None

    started = time.monotonic()
    again = start_kube(kube_home)
    print(f"restart took {time.monotonic() - started:.1f}s")
    namespaces = client.CoreV1Api(_api(again)).list_namespace().items
    assert "kept" in {ns.metadata.name for ns in namespaces if ns.metadata}
