"""Show a freshly started dev stack working, through the public API as a user would."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
from minio import Minio

from deploy.local.sample_app import NAMESPACE, deploy_sample_app
from deploy.local.servers.oidc import CLIENT_ID, CLIENT_SECRET, OidcProvider, password_token

if TYPE_CHECKING:
    from deploy.local.stack import Stack

DEMO_USER = "infraadmin"
DEMO_CLUSTER = "dev"
DEMO_BUCKET = "lifeboat-backups"
DEMO_ACCOUNT = "dev-s3"
DEMO_LOCATION = "dev-bucket"


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
    data = deploy_sample_app(Path(stack.kubeconfig), Path(stack.csi_home))
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
        location = _location(api, stack)

    status_lines = "\n".join(
        f"    {s['name']:<18} {s['status']:<5} {s['version'] or ''}" for s in services
    )
    return f"""Working: signed in as {DEMO_USER}; cluster {cluster["name"]!r} is {cluster["status"]}
    Kubernetes {cluster["kubernetes_version"]}, {len(cluster["namespaces"])} namespaces, \
{cluster["application_count"]} applications, {cluster["pvc_count"]} PVCs
  Service status:
{status_lines}
  Sample application: namespace {NAMESPACE} (Deployment, Service, ConfigMap, Secret, a volume
    whose data is in {data})
  Backup location {location["name"]!r} ({location["uid"]}) on bucket {DEMO_BUCKET}
  Back it up and restore it (README.md, "Try it"); first paste these lines into your shell:
    API={stack.api_url}/api/v1 ISSUER={stack.oidc_issuer}
    KUBE="kubectl --kubeconfig {stack.kubeconfig}"
    CLUSTER={cluster["uid"]} LOCATION={location["uid"]}"""


def _location(api: httpx.Client, stack: Stack) -> dict[str, Any]:
    """The dev bucket as a backup location of the demo user's (made once)."""
    existing = api.get("/api/v1/backup-locations").raise_for_status().json()["items"]
    for location in existing:
        if location["name"] == DEMO_LOCATION:
            found: dict[str, Any] = location
            return found
    s3 = Minio(
        stack.s3_endpoint.removeprefix("http://"),
        stack.s3_access_key,
        stack.s3_secret_key,
        secure=False,
    )
    if not s3.bucket_exists(DEMO_BUCKET):
        s3.make_bucket(DEMO_BUCKET)
    keys = {"access_key_id": stack.s3_access_key, "secret_access_key": stack.s3_secret_key}
    # Federated mode has no cloud accounts: its locations carry their own keys.
    reach: dict[str, Any] = {"credentials": keys}
    if api.get("/api/v1/me").raise_for_status().json()["mode"] != "federated":
        account = api.post(
            "/api/v1/cloud-accounts",
            json={"name": DEMO_ACCOUNT, "provider": "s3-compatible", "credentials": keys},
        ).raise_for_status()
        reach = {"cloud_account_uid": account.json()["uid"]}
    created: dict[str, Any] = (
        api.post(
            "/api/v1/backup-locations",
            json={
                "name": DEMO_LOCATION,
                "endpoint": stack.s3_endpoint,
                "bucket": DEMO_BUCKET,
                **reach,
            },
        )
        .raise_for_status()
        .json()
    )
    return created
