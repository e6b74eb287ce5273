"""Federated mode backs up and restores: its locations carry their own S3 keys.

Federated mode has no cloud accounts (seeds/001), so a backup location there holds its own
access key pair: write-only, stored encrypted, read only by the worker's activities. A second
api and worker run in federated mode on the test stack, on a task queue of their own, moving
volume data with mover Jobs in the protected cluster, as a federated deployment does.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from deploy.local.demo import DEMO_LOCATION, show_working
from deploy.local.sample_app import NAMESPACE, deploy_sample_app
from deploy.local.servers.oidc import OidcProvider
from deploy.local.stack import Stack
from lifeboat.catalog.models import BackupLocation, LocationCredentials
from tests.api.helpers import platform_users, unique, wait_for_sync, workflow_histories
from tests.api.test_locations import _refused
from tests.conftest import Users
from tests.e2e.conftest import Kube
from tests.e2e.test_backup_restore import _bound_dir, _delete_namespace, _wait
from tests.e2e.test_mover_job import _restored, _runs, _s3


@pytest.fixture(scope="module")
def federated_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the federated api and worker keep their logs."""
    return tmp_path_factory.mktemp("federated")


@pytest.fixture(scope="module")
def federated(stack: Stack, provider: OidcProvider, federated_home: Path) -> Iterator[Users]:
    """Signed-in users of an api and a worker with LIFEBOAT_MODE=federated."""
    settings = {
        "LIFEBOAT_MODE": "federated",
        "LIFEBOAT_TASK_QUEUE": unique("lifeboat-federated"),
        "LIFEBOAT_MOVER_RUNNER": "job",
        "LIFEBOAT_MOVER_IMAGE": "lifeboat:e2e-never-pulled",
    }
    with platform_users(stack, provider, federated_home, settings) as users:
        yield users


class Responses:
    """Every response body a client received, to look for secrets in."""

    def __init__(self, client: httpx.Client) -> None:
        self.texts: list[str] = []
        client.event_hooks["response"].append(self._record)

    def _record(self, response: httpx.Response) -> None:
        response.read()
        self.texts.append(response.text)


def _unused_credentials(catalog: sessionmaker[Session]) -> int:
    """Stored location keys that no location uses (refused keys must not stay behind)."""
    with catalog() as session:
        used = select(BackupLocation.credentials_uid).where(
            BackupLocation.credentials_uid.is_not(None)
        )
        return int(
            session.scalar(
                select(func.count())
                .select_from(LocationCredentials)
                .where(LocationCredentials.uid.not_in(used))
            )
            or 0
        )


def _orders(stack: Stack) -> str:
    """The sample shop's orders, as its volume holds them."""
    data = _bound_dir(stack, NAMESPACE, "orders")
    return hashlib.sha256((data / "orders.csv").read_bytes()).hexdigest()


def _gone(api: httpx.Client, path: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while (response := api.get(path)).status_code != 404:
        assert time.monotonic() < deadline, f"{path} still there: {response.text}"
        time.sleep(0.5)


def test_a_federated_location_with_its_own_keys_backs_up_and_restores(
    federated: Users,
    stack: Stack,
    kube: Kube,
    kubeconfig_text: str,
    catalog: sessionmaker[Session],
    federated_home: Path,
) -> None:
    api = federated("infraadmin")
    responses = Responses(api)
    bucket = unique("federated")
    _s3(stack).make_bucket(bucket)
    keys = {"access_key_id": stack.s3_access_key, "secret_access_key": stack.s3_secret_key}
    location_key = secrets.token_urlsafe(32)
    body: dict[str, Any] = {
        "name": unique("loc"), "endpoint": stack.s3_endpoint, "bucket": bucket,
        "encryption_key": location_key,
    }  # fmt: skip
    locations = "/api/v1/backup-locations"
    before = api.get(locations).json()["count"]

    # No keys, a cloud account, or keys the bucket refuses: 422 naming the field, nothing kept.
    assert "credentials" in _refused(api.post(locations, json=body), "credentials")
    with_account = {**body, "cloud_account_uid": "any"}
    assert "federated mode" in _refused(api.post(locations, json=with_account), "cloud_account_uid")
    wrong = {**keys, "secret_access_key": "not-the-secret-key"}
    refused = api.post(locations, json={**body, "credentials": wrong})
    assert "location's credentials" in _refused(refused, "credentials")
    assert "not-the-secret-key" not in refused.text
    assert api.get(locations).json()["count"] == before
    assert _unused_credentials(catalog) == 0

    created = api.post(locations, json={**body, "credentials": keys})
    assert created.status_code == 201, created.text
    location = created.json()
    assert location["cloud_account_uid"] is None
    assert location["access_key_id"] == stack.s3_access_key
    assert "credentials" not in location and "encryption_key" not in location
    # Replacing the keys with refused ones keeps the location's own; a rename keeps them too.
    path = f"{locations}/{location['uid']}"
    update = {k: v for k, v in body.items() if k != "encryption_key"}
    refused = api.put(path, json={**update, "credentials": wrong})
    assert "location's credentials" in _refused(refused, "credentials")
    renamed = api.put(path, json={**update, "name": unique("renamed")})
    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["access_key_id"] == stack.s3_access_key
    assert _unused_credentials(catalog) == 0

    cluster = api.post(
        "/api/v1/clusters", json={"name": unique("shoot"), "kubeconfig": kubeconfig_text}
    )
    assert cluster.status_code == 201, cluster.text
    wait_for_sync(api, cluster.json()["uid"])
    deploy_sample_app(Path(stack.kubeconfig), Path(stack.csi_home))
    orders = _orders(stack)

    started = api.post("/api/v1/backups", json={
        "cluster_uid": cluster.json()["uid"], "location_uid": location["uid"],
        "namespaces": [NAMESPACE],
    })  # fmt: skip
    assert started.status_code == 201, started.text
    backup = _wait(api, f"/api/v1/backups/{started.json()['uid']}")
    assert backup["status"] == "Success", (backup["reason"], backup["volumes"])
    assert backup["volume_count"] == 1 and backup["size_bytes"] > 0
    # The data went to the location's bucket.
    stored = [str(o.object_name) for o in _s3(stack).list_objects(bucket, recursive=True)]
    assert [name for name in stored if "lifeboat-data/" in name], stored

    _delete_namespace(kube, NAMESPACE)
    restored = api.post("/api/v1/restores", json={"backup_uid": backup["uid"]})
    assert restored.status_code == 201, restored.text
    restore = _restored(api, restored.json()["uid"])
    assert restore["status"] == "Success", (restore["reason"], restore["volumes"])
    assert kube.read("v1", "ConfigMap", "shop-settings", NAMESPACE)["data"] == {"currency": "EUR"}
    assert kube.read("v1", "Secret", "shop-db", NAMESPACE)["data"]["password"]
    assert _orders(stack) == orders
    # The data moved in mover Jobs, which got the keys through a Secret only.
    jobs = _runs(stack, "backup.lifeboat.dev/uid", backup["uid"])
    jobs += _runs(stack, "restore.lifeboat.dev/uid", restore["uid"])
    assert [r["exit_code"] for r in jobs] == [0, 0]
    for secret in (stack.s3_secret_key, location_key):
        assert not [r for r in jobs if secret in json.dumps(r["spec"]) + " ".join(r["command"])]

    # The keys and the location's key are in no workflow history: not the checks' (two
    # refused, one passed), the backup's nor the restore's.
    checks = workflow_histories(
        stack.temporal_address, 'WorkflowType = "LocationCheckWorkflow"', mentioning=bucket
    )
    runs = workflow_histories(
        stack.temporal_address,
        f'WorkflowId = "backup-{backup["uid"]}" OR WorkflowId = "restore-{restore["uid"]}"',
        mentioning=restore["uid"],
    )
    assert sum(bucket in h for h in checks) == 3 and len(runs) == 2
    for secret in (stack.s3_secret_key, location_key):
        assert not [h for h in checks + runs if secret in h]

    # Deleting the backup prunes the location with its own keys; then the location goes, and
    # its keys with it.
    assert api.delete(f"/api/v1/backups/{backup['uid']}").status_code == 202
    _gone(api, f"/api/v1/backups/{backup['uid']}")
    with catalog() as session:
        stored_keys = session.scalar(
            select(BackupLocation.credentials_uid).where(BackupLocation.uid == location["uid"])
        )
    assert stored_keys is not None
    assert api.delete(path).status_code == 204
    with catalog() as session:
        assert session.get(LocationCredentials, stored_keys) is None
    # No response ever carried a secret, and neither the api nor the worker logged one.
    logs = [path.read_text(errors="replace") for path in federated_home.rglob("log")]
    assert responses.texts and len(logs) == 2
    for secret in (stack.s3_secret_key, location_key, "not-the-secret-key"):
        assert not [t for t in responses.texts + logs if secret in t]


def test_make_up_shows_a_federated_platform_working(federated: Users, stack: Stack) -> None:
    """`LIFEBOAT_MODE=federated make up` sets up its demo location with the location's keys."""
    api = federated("infraadmin")
    shown = show_working(dataclasses.replace(stack, api_url=str(api.base_url).rstrip("/")))
    assert f"Backup location {DEMO_LOCATION!r}" in shown
    [location] = [
        loc
        for loc in api.get("/api/v1/backup-locations").json()["items"]
        if loc["name"] == DEMO_LOCATION
    ]
    assert location["cloud_account_uid"] is None
    assert location["access_key_id"] == stack.s3_access_key
