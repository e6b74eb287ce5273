"""Small helpers for API tests."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import dataclasses
import json
import os
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
from minio import Minio
from temporalio.client import Client, WorkflowHistory

from deploy.local.servers.oidc import OidcProvider
from deploy.local.servers.procs import HOST, ManagedProcess, free_port, http_ok
from deploy.local.stack import REPO_ROOT, WORKER_READY, Stack
from tests.conftest import Users


def dev_s3(stack: Stack) -> Minio:
    """The dev stack's S3 server, as its administrator (to make or remove buckets)."""
    return Minio(
        stack.s3_endpoint.removeprefix("http://"),
        stack.s3_access_key,
        stack.s3_secret_key,
        secure=False,
    )


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def dev_location(api: httpx.Client, stack: Stack) -> dict[str, str]:
    """A backup location of the caller's on a fresh bucket of the dev S3 server, reached
    through an s3-compatible cloud account of theirs (classic mode)."""
    bucket = unique("backups")
    dev_s3(stack).make_bucket(bucket)
    keys = {"access_key_id": stack.s3_access_key, "secret_access_key": stack.s3_secret_key}
    account = api.post(
        "/api/v1/cloud-accounts",
        json={"name": unique("acct"), "provider": "s3-compatible", "credentials": keys},
    )
    assert account.status_code == 201, account.text
    location = api.post(
        "/api/v1/backup-locations",
        json={
            "name": unique("loc"),
            "endpoint": stack.s3_endpoint,
            "bucket": bucket,
            "cloud_account_uid": account.json()["uid"],
        },
    )
    assert location.status_code == 201, location.text
    return {"location": location.json()["uid"], "bucket": bucket}


def wait_for_sync(
    api: httpx.Client, uid: str, *, after: str | None = None, timeout: float = 60
) -> dict[str, Any]:
    """The cluster once a sync newer than `after` has been recorded."""
    deadline = time.monotonic() + timeout
    while True:
        response = api.get(f"/api/v1/clusters/{uid}")
        assert response.status_code == 200, response.text
        cluster: dict[str, Any] = response.json()
        if cluster["last_synced_at"] and cluster["last_synced_at"] != after:
            return cluster
        assert time.monotonic() < deadline, f"no sync recorded within {timeout}s: {cluster}"
        time.sleep(0.3)


def remove_cluster(api: httpx.Client, uid: str, *, timeout: float = 60) -> None:
    """Remove a cluster from Lifeboat: `DeletePending` until its removal workflow is done."""
    response = api.delete(f"/api/v1/clusters/{uid}")
    assert response.status_code == 202, response.text
    deadline = time.monotonic() + timeout
    while (found := api.get(f"/api/v1/clusters/{uid}")).status_code == 200:
        assert found.json()["status"] == "DeletePending", found.json()
        assert time.monotonic() < deadline, f"cluster {uid} still there after {timeout}s"
        time.sleep(0.3)
    assert found.status_code == 404, found.text


def decoded(history: WorkflowHistory) -> str:
    """A history with its payloads decoded: they are base64 in its JSON form."""
    texts = [history.to_json()]

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("data"), str) and "metadata" in node:
                texts.append(base64.b64decode(node["data"]).decode(errors="replace"))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(json.loads(history.to_json()))
    return "\n".join(texts)


def workflow_histories(temporal_address: str, query: str, *, mentioning: str) -> list[str]:
    """The decoded histories of the workflows the visibility query finds, once one of them
    mentions `mentioning` (visibility lags a little behind the workflows)."""

    async def fetch() -> list[str]:
        client = await Client.connect(temporal_address)
        return [
            decoded(await client.get_workflow_handle(e.id, run_id=e.run_id).fetch_history())
            async for e in client.list_workflows(query)
        ]

    deadline = time.monotonic() + 20
    while True:
        recorded = asyncio.run(fetch())
        if any(mentioning in h for h in recorded):
            return recorded
        assert time.monotonic() < deadline, f"no workflow history mentions {mentioning}"
        time.sleep(0.2)


@contextlib.contextmanager
def platform(stack: Stack, home: Path, settings: dict[str, str], *, worker: bool) -> Iterator[str]:
    """A second api (and worker) on the test stack, started as `make up` starts them but with
    other settings (a mode, a task queue of its own, a mover runner); the api's URL."""
    url = f"http://{HOST}:{free_port()}"
    env = {
        **stack.settings_env(),
        # The stack's own worker keeps the user directory; a second platform would add a
        # schedule of its own.
        "LIFEBOAT_DIRECTORY_SCIM_URL": "",
        **settings,
        "PYTHONPATH": str(REPO_ROOT),
        "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}",
    }
    processes = []
    try:
        if worker:
            work = ManagedProcess("worker", home / "worker")
            processes.append(work)
            work.start(
                [sys.executable, "-m", "worker.main"],
                env=env,
                healthy=lambda: WORKER_READY in work.log_file.read_bytes(),
            )
        api = ManagedProcess("api", home / "api")
        processes.append(api)
        api.start(
            [sys.executable, "-m", "uvicorn", "--factory", "api.app:create_app",
             "--host", HOST, "--port", url.rsplit(":", 1)[1], "--no-access-log"],
            env=env,
            healthy=lambda: http_ok(f"{url}/healthz"),
        )  # fmt: skip
        yield url
    finally:
        for process in reversed(processes):
            process.stop()


@contextlib.contextmanager
def platform_users(
    stack: Stack,
    provider: OidcProvider,
    home: Path,
    settings: dict[str, str],
    *,
    worker: bool = True,
) -> Iterator[Users]:
    """Signed-in users of a second api and worker (see `platform`) with these settings."""
    with platform(stack, home, settings, worker=worker) as url:
        users = Users(dataclasses.replace(stack, api_url=url), provider)
        try:
            yield users
        finally:
            users.close()
