"""The test cluster as a Gardener garden: the Shoot API, projects, shoots and their kubeconfigs.

A real garden gets the `core.gardener.cloud` API from the Gardener API server; the test cluster
gets the `Shoot` kind as a CRD of the same group, version, kind and scope, with a status
subresource and a schema that keeps every field, so discovery code reads it as it would read
the real one. Each shoot gets a kubeconfig the way Gardener hands one out: a secret
`<shoot>.kubeconfig` in the project namespace `garden-<project>` with the key `kubeconfig`.
Here that kubeconfig reaches the test API server itself with a real bearer token: a
service-account token (a JWT with an expiry) of a service account bound to cluster-admin,
like the admin kubeconfig of a shoot.
"""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from deploy.local.doubles.snapshot_crds import (
    ESTABLISH_TIMEOUT,
    create_or_replace_crd,
    wait_established,
)

GROUP = "core.gardener.cloud"
VERSION = "v1beta1"
API_VERSION = f"{GROUP}/{VERSION}"
SHOOTS = "shoots"
KUBECONFIG_KEY = "kubeconfig"
TOKEN_SECONDS = 3600

Obj = dict[str, Any]

_KEEP_FIELDS: Obj = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}

SHOOT_CRD: Obj = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": f"{SHOOTS}.{GROUP}"},
    "spec": {
        "group": GROUP,
        "scope": "Namespaced",
        "names": {
            "kind": "Shoot",
            "listKind": "ShootList",
            "plural": SHOOTS,
            "singular": "shoot",
            "categories": ["all"],
        },
        "versions": [
            {
                "name": VERSION,
                "served": True,
                "storage": True,
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "properties": {
                            "apiVersion": {"type": "string"},
                            "kind": {"type": "string"},
                            "metadata": {"type": "object"},
                            "spec": _KEEP_FIELDS,
                            "status": _KEEP_FIELDS,
                        },
                    }
                },
                "subresources": {"status": {}},
                "additionalPrinterColumns": [
                    {"name": "Version", "type": "string", "jsonPath": ".spec.kubernetes.version"},
                    {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
                ],
            }
        ],
    },
}


@dataclass(frozen=True)
class Shoot:
    """A shoot in the test garden."""

    project: str
    name: str
    uid: str

    @property
    def namespace(self) -> str:
        return project_namespace(self.project)

    @property
    def secret_name(self) -> str:
        return f"{self.name}.kubeconfig"

    @property
    def account(self) -> str:
        """The service account whose token the shoot's kubeconfig carries."""
        return f"shoot-{self.name}"


def project_namespace(project: str) -> str:
    """Gardener's namespace of a project: `garden-<project>`."""
    return f"garden-{project}"


def install_shoot_api(api: client.ApiClient, *, timeout: float = ESTABLISH_TIMEOUT) -> None:
    """Install the Shoot CRD and wait until it serves; safe to repeat."""
    extensions = client.ApiextensionsV1Api(api)
    create_or_replace_crd(extensions, SHOOT_CRD)
    wait_established(extensions, SHOOT_CRD["metadata"]["name"], time.monotonic() + timeout)


def _ignore_exists(call: Any, *args: Any) -> None:
    try:
        call(*args)
    except ApiException as error:
        if error.status != 409:
            raise


def create_project(api: client.ApiClient, project: str) -> str:
    """The project's namespace, labelled as Gardener labels it; safe to repeat."""
    name = project_namespace(project)
    namespace = client.V1Namespace(
        metadata=client.V1ObjectMeta(
            name=name,
            labels={"gardener.cloud/role": "project", "project.gardener.cloud/name": project},
        )
    )
    _ignore_exists(client.CoreV1Api(api).create_namespace, namespace)
    return name


def create_shoot(
    api: client.ApiClient,
    project: str,
    name: str,
    labels: dict[str, str],
    *,
    token_seconds: int = TOKEN_SECONDS,
) -> Shoot:
    """A shoot in the project (made when missing) with its `<shoot>.kubeconfig` secret."""
    namespace = create_project(api, project)
    body: Obj = {
        "apiVersion": API_VERSION,
        "kind": "Shoot",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {
            "cloudProfileName": "local",
            "region": "local",
            "provider": {"type": "local", "workers": []},
            "kubernetes": {"version": "1.20.2"},
            "networking": {"type": "calico"},
        },
    }
    created = client.CustomObjectsApi(api).create_namespaced_custom_object(
        GROUP, VERSION, namespace, SHOOTS, body
    )
    assert isinstance(created, dict)
    shoot = Shoot(project=project, name=name, uid=created["metadata"]["uid"])
    core = client.CoreV1Api(api)
    _ignore_exists(
        core.create_namespaced_service_account,
        namespace,
        client.V1ServiceAccount(metadata=client.V1ObjectMeta(name=shoot.account)),
    )
    _ignore_exists(
        client.RbacAuthorizationV1Api(api).create_cluster_role_binding,
        client.V1ClusterRoleBinding(
            metadata=client.V1ObjectMeta(name=_binding_name(shoot)),
            role_ref=client.V1RoleRef(
                api_group="rbac.authorization.k8s.io", kind="ClusterRole", name="cluster-admin"
            ),
            subjects=[
                client.RbacV1Subject(kind="ServiceAccount", name=shoot.account, namespace=namespace)
            ],
        ),
    )
    kubeconfig = shoot_kubeconfig(api, shoot, token_seconds=token_seconds)
    secret = client.V1Secret(
        metadata=client.V1ObjectMeta(name=shoot.secret_name, namespace=namespace),
        type="Opaque",
        data=_secret_data(kubeconfig),
    )
    core.create_namespaced_secret(namespace, secret)
    return shoot


def _secret_data(kubeconfig: str) -> dict[str, bytes | str]:
    """The data of a shoot's `<shoot>.kubeconfig` secret, as Gardener writes it."""
    return {KUBECONFIG_KEY: base64.b64encode(kubeconfig.encode()).decode()}


def _binding_name(shoot: Shoot) -> str:
    return f"lifeboat-shoot-{shoot.project}-{shoot.name}"


def shoot_kubeconfig(
    api: client.ApiClient, shoot: Shoot, *, token_seconds: int = TOKEN_SECONDS
) -> str:
    """A kubeconfig for the shoot: the test API server, with a new service-account token."""
    request = client.AuthenticationV1TokenRequest(
        spec=client.V1TokenRequestSpec(audiences=[], expiration_seconds=token_seconds)
    )
    issued = client.CoreV1Api(api).create_namespaced_service_account_token(
        shoot.account, shoot.namespace, request
    )
    assert issued.status is not None, "the API server issued no token"
    ca_file = api.configuration.ssl_ca_cert
    ca_data = base64.b64encode(Path(ca_file).read_bytes()).decode() if ca_file else None
    cluster: Obj = {"server": api.configuration.host}
    if ca_data:
        cluster["certificate-authority-data"] = ca_data
    context = f"{shoot.namespace}--{shoot.name}"
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": context, "cluster": cluster}],
        "users": [{"name": f"{context}-token", "user": {"token": issued.status.token}}],
        "contexts": [
            {"name": context, "context": {"cluster": context, "user": f"{context}-token"}}
        ],
        "current-context": context,
    }
    return yaml.safe_dump(config, sort_keys=False)


def rotate_shoot_kubeconfig(
    api: client.ApiClient, shoot: Shoot, *, token_seconds: int = TOKEN_SECONDS
) -> str:
    """Put a kubeconfig with a new token into the shoot's secret, as Gardener rotates it."""
    kubeconfig = shoot_kubeconfig(api, shoot, token_seconds=token_seconds)
    client.CoreV1Api(api).patch_namespaced_secret(
        shoot.secret_name,
        shoot.namespace,
        {"data": _secret_data(kubeconfig)},
    )
    return kubeconfig


def delete_shoot(api: client.ApiClient, shoot: Shoot) -> None:
    """Delete the shoot and what it came with: its secret, service account and binding."""
    client.CustomObjectsApi(api).delete_namespaced_custom_object(
        GROUP, VERSION, shoot.namespace, SHOOTS, shoot.name
    )
    core = client.CoreV1Api(api)
    for call, args in (
        (core.delete_namespaced_secret, (shoot.secret_name, shoot.namespace)),
        (core.delete_namespaced_service_account, (shoot.account, shoot.namespace)),
        (client.RbacAuthorizationV1Api(api).delete_cluster_role_binding, (_binding_name(shoot),)),
    ):
        try:
            call(*args)
        except ApiException as error:
            if error.status != 404:
                raise
