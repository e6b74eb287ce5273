"""Fixtures of the end-to-end tests: the test cluster as dicts, and a cluster + location."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from typing import Any

import kubernetes.client
import kubernetes.config
import pytest
from kubernetes.dynamic import DynamicClient

from deploy.local.stack import Stack
from tests.api.helpers import dev_location, unique, wait_for_sync
from tests.conftest import Users


class Kube:
    """The test cluster through the official client's dynamic API: dicts in, dicts out."""

    def __init__(self, client: kubernetes.client.ApiClient) -> None:
        self.dyn = DynamicClient(client)

    def create(self, obj: dict[str, Any]) -> None:
        resource = self.dyn.resources.get(api_version=obj["apiVersion"], kind=obj["kind"])
        resource.create(body=obj, namespace=obj["metadata"].get("namespace"))

    def read(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> Any:
        resource = self.dyn.resources.get(api_version=api_version, kind=kind)
        return resource.get(name=name, namespace=namespace).to_dict()

    def delete(self, api_version: str, kind: str, name: str) -> None:
        self.dyn.resources.get(api_version=api_version, kind=kind).delete(name=name)


@pytest.fixture(scope="session")
def kube(stack: Stack) -> Iterator[Kube]:
    client = kubernetes.config.new_client_from_config(config_file=stack.kubeconfig)
    yield Kube(client)
    client.close()


@pytest.fixture(scope="session")
def target(as_user: Users, stack: Stack, kubeconfig_text: str) -> dict[str, str]:
    """A cluster and a backup location of infraadmin's, on the dev stack."""
    api = as_user("infraadmin")
    cluster = api.post(
        "/api/v1/clusters", json={"name": unique("prod"), "kubeconfig": kubeconfig_text}
    ).json()
    wait_for_sync(api, cluster["uid"])
    return {"cluster": cluster["uid"], **dev_location(api, stack)}


@pytest.fixture(scope="session")
def kubectl() -> str:
    """kubectl with its built-in kustomize (the machine's; CI must have it)."""
    found = shutil.which("kubectl")
    if found is None:
        message = "kubectl is not on PATH"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{message}; CI needs it (CI=true)")
        pytest.skip(message)
    return found
