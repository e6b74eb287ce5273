"""The Kubernetes manifests (deploy/kubernetes), rendered by kubectl's kustomize, against the
test stack's real API server: production passes a server-side dry run, the dev overlay is
applied for real. The test cluster has no scheduler, so the pods are created but never run:
these tests check the objects, not running pods."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
import yaml

from deploy.local.stack import Stack
from lifeboat.catalog.migrate import is_current, upgrade
from lifeboat.settings import Settings
from tests.e2e.conftest import Kube
from worker.main import GRACEFUL_SHUTDOWN

T = TypeVar("T")
MANIFESTS = Path(__file__).resolve().parents[2] / "deploy" / "kubernetes"
SECRET_KEYS = {
    "LIFEBOAT_DATABASE_URL", "LIFEBOAT_SECRET_KEY", "LIFEBOAT_OIDC_ISSUER",
    "LIFEBOAT_OIDC_AUDIENCE",
}  # fmt: skip


def render(kubectl: str, overlay: str) -> list[dict[str, Any]]:
    out = subprocess.run(
        [kubectl, "kustomize", str(MANIFESTS / "overlays" / overlay)],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    return [doc for doc in yaml.safe_load_all(out.stdout) if doc]


def for_this_server(docs: list[dict[str, Any]]) -> str:
    """The documents as YAML for the test's kube-apiserver 1.20, which serves
    PodDisruptionBudget only as policy/v1beta1 (the same spec; policy/v1 came in 1.21)."""
    for doc in docs:
        if doc["kind"] == "PodDisruptionBudget":
            doc["apiVersion"] = "policy/v1beta1"
    return yaml.safe_dump_all(docs)


def kube_run(kubectl: str, stack: Stack, *args: str, input: str) -> str:
    done = subprocess.run(
        [kubectl, "--kubeconfig", stack.kubeconfig, *args, "-f", "-"],
        input=input, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout


def by_kind(docs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def workloads(docs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {**by_kind(docs, "Deployment"), **by_kind(docs, "Job")}


def containers(workload: dict[str, Any]) -> list[dict[str, Any]]:
    pod = workload["spec"]["template"]["spec"]
    return [*pod.get("initContainers", []), *pod["containers"]]


@pytest.fixture(scope="module")
def operator_prepared(kubectl: str, stack: Stack, kube: Kube) -> Iterator[None]:
    """What an operator creates before the install (README): the namespace, and in it the
    Secret of the secret settings. Everything the module installed is removed afterwards."""
    kube.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "lifeboat"}})
    kube.create(
        {
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "lifeboat-secrets", "namespace": "lifeboat"},
            "stringData": {
                "LIFEBOAT_DATABASE_URL": stack.database_url,
                "LIFEBOAT_SECRET_KEY": stack.secret_key,
                "LIFEBOAT_OIDC_ISSUER": stack.oidc_issuer,
                "LIFEBOAT_OIDC_AUDIENCE": "lifeboat",
            },
        }
    )  # fmt: skip
    yield
    everything = for_this_server(render(kubectl, "dev"))
    kube_run(kubectl, stack, "delete", "--ignore-not-found", "--wait=false", input=everything)


@pytest.mark.usefixtures("operator_prepared")
def test_production_passes_a_server_side_dry_run(kubectl: str, stack: Stack, kube: Kube) -> None:
    docs = render(kubectl, "production")
    out = kube_run(kubectl, stack, "apply", "--dry-run=server", input=for_this_server(docs))
    assert out.count("(server dry run)") == len(docs), out
    # A dry run: nothing was created.
    deployments = kube.dyn.resources.get(api_version="apps/v1", kind="Deployment")
    assert deployments.get(namespace="lifeboat").items == []
    settings = by_kind(docs, "ConfigMap")["lifeboat-settings"]["data"]
    assert settings["LIFEBOAT_TEMPORAL_TLS"] == "true"
    assert settings["LIFEBOAT_ENVIRONMENT"] == "production"
    ingress = by_kind(docs, "Ingress")["lifeboat-api"]
    assert ingress["spec"]["tls"][0]["secretName"] == "lifeboat-api-tls"
    # Every image, and the mover's, is the registry's copy.
    images = {c["image"] for workload in workloads(docs).values() for c in containers(workload)}
    assert images == {settings["LIFEBOAT_MOVER_IMAGE"]}


def test_the_manifests_hold_no_secret_and_run_locked_down(kubectl: str) -> None:
    for overlay in ("dev", "production"):
        docs = render(kubectl, overlay)
        settings = by_kind(docs, "ConfigMap")["lifeboat-settings"]["data"]
        # Every setting is one Lifeboat reads; none of the secret ones is in the ConfigMap.
        known = {f"LIFEBOAT_{name.upper()}" for name in Settings.model_fields}
        assert set(settings) <= known - SECRET_KEYS, set(settings) - known
        assert known >= SECRET_KEYS
        # The only Secret is the protector's token, which the API server fills in.
        secrets = by_kind(docs, "Secret").values()
        assert [(s["metadata"]["name"], "data" in s) for s in secrets] == [
            ("lifeboat-protector-token", False)
        ]
        installed = workloads(docs)
        assert set(installed) == {"lifeboat-api", "lifeboat-worker", "lifeboat-migrate"}
        for name, workload in installed.items():
            assert workload["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"], name
            for container in containers(workload):
                context = container["securityContext"]
                assert context["readOnlyRootFilesystem"] is True, name
                assert context["allowPrivilegeEscalation"] is False, name
                assert set(container["resources"]) == {"requests", "limits"}, name
                assert {"name": "lifeboat-secrets"} in [
                    e.get("secretRef") for e in container["envFrom"]
                ], name
        api = installed["lifeboat-api"]["spec"]
        assert api["template"]["spec"]["containers"][0]["readinessProbe"]["httpGet"]["path"] == (
            "/healthz"
        )
        worker = installed["lifeboat-worker"]["spec"]["template"]["spec"]
        assert worker["terminationGracePeriodSeconds"] > GRACEFUL_SHUTDOWN.total_seconds()
        assert by_kind(docs, "PodDisruptionBudget")["lifeboat-api"]["spec"]["minAvailable"] == 1
    production = by_kind(render(kubectl, "production"), "Deployment")
    assert production["lifeboat-api"]["spec"]["replicas"] == 2


@pytest.mark.usefixtures("operator_prepared")
def test_the_dev_overlay_applies_for_real(kubectl: str, stack: Stack, kube: Kube) -> None:
    out = kube_run(kubectl, stack, "apply", input=for_this_server(render(kubectl, "dev")))
    assert "deployment.apps/lifeboat-api created" in out, out
    api = kube.read("apps/v1", "Deployment", "lifeboat-api", "lifeboat")
    assert api["spec"]["replicas"] == 1
    account = kube.read("v1", "ServiceAccount", "lifeboat-worker", "lifeboat")
    assert account["automountServiceAccountToken"] is False
    assert kube.read("v1", "Service", "lifeboat-api", "lifeboat")["spec"]["ports"][0]["port"] == 80
    settings = kube.read("v1", "ConfigMap", "lifeboat-settings", "lifeboat")["data"]
    assert settings["LIFEBOAT_ENVIRONMENT"] == "development"
    # The API server filled the protector's token in: a kubeconfig for this cluster can use it.
    token = eventually(
        lambda: kube.read("v1", "Secret", "lifeboat-protector-token", "lifeboat"),
        lambda secret: bool((secret.get("data") or {}).get("token")),
    )
    assert token["data"]["token"]
    # The controllers made the pods from the templates; with no scheduler here they stay
    # Pending on no node: pods cannot run in the test cluster.
    apps = {"lifeboat-api", "lifeboat-worker", "lifeboat-migrate"}
    pods = eventually(
        lambda: (
            kube.dyn.resources.get(api_version="v1", kind="Pod").get(namespace="lifeboat").items
        ),
        lambda pods: apps <= {p.metadata.labels.get("app.kubernetes.io/name") for p in pods},
    )
    assert apps <= {p.metadata.labels.get("app.kubernetes.io/name") for p in pods}
    assert {(p.status.phase, p.spec.nodeName) for p in pods} == {("Pending", None)}


def eventually(read: Callable[[], T], done: Callable[[T], bool], seconds: float = 90) -> T:
    """What `read` returns once `done` holds for it, or when the time is up."""
    deadline = time.monotonic() + seconds
    while not done(found := read()) and time.monotonic() < deadline:
        time.sleep(1)
    return found


def test_the_schema_wait_sees_a_migrated_catalog(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'catalog.db'}"
    assert not is_current(url)
    upgrade(url)
    assert is_current(url)
