"""Show a freshly started dev stack working, through the public API as a user would."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from deploy.local.oidc import CLIENT_ID, CLIENT_SECRET, OidcProvider, password_token

if TYPE_CHECKING:
    from deploy.local.stack import Stack

DEMO_USER = "infraadmin"
DEMO_CLUSTER = "dev"


def _wait_for_sync(
    api: httpx.Client, uid: str, after: str | None, timeout: float = 60
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        cluster: dict[str, Any] = api.get(f"/api/v1/clusters/{uid}").raise_for_status().json()
        if cluster["last_synced_at"] and cluster["last_synced_at"] != after:
            return cluster
        if time.monotonic() > deadline:
            raise TimeoutError(f"cluster {uid} was not synced within {timeout:.0f}s")
        time.sleep(0.5)


def show_working(stack: Stack) -> str:
    """Sign in as a seeded user, register the dev cluster, sync it, read the service status."""
    provider = OidcProvider(stack.oidc_issuer, CLIENT_ID, CLIENT_SECRET, 0)
    token = password_token(provider, DEMO_USER)
    with httpx.Client(
        base_url=stack.api_url, headers={"Authorization": f"Bearer {token}"}, timeout=30
    ) as api:
        created = api.post(
            "/api/v1/clusters",
            json={"name": DEMO_CLUSTER, "kubeconfig": Path(stack.kubeconfig).read_text()},
        )
        if created.status_code == 409:
            existing = api.get("/api/v1/clusters").raise_for_status().json()["items"]
            cluster = next(c for c in existing if c["name"] == DEMO_CLUSTER)
            api.post(f"/api/v1/clusters/{cluster['uid']}/sync").raise_for_status()
        else:
            cluster = created.raise_for_status().json()
        cluster = _wait_for_sync(api, cluster["uid"], cluster["last_synced_at"])
        services = api.get("/api/v1/service-status").raise_for_status().json()["items"]
    status_lines = "\n".join(
        f"    {s['name']:<18} {s['status']:<5} {s['version'] or ''}" for s in services
    )
    return f"""Working: signed in as {DEMO_USER}; cluster {cluster["name"]!r} is {cluster["status"]}
    Kubernetes {cluster["kubernetes_version"]}, {len(cluster["namespaces"])} namespaces, \
{cluster["application_count"]} applications, {cluster["pvc_count"]} PVCs
  Service status:
{status_lines}"""
