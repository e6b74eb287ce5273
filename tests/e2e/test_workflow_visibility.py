"""An operator finds every workflow in Temporal from the object it acts on.

After each operation the test lists workflows with a visibility query on the search
attributes the Temporal UI filters by (`LifeboatOwner`, `LifeboatCluster`, `LifeboatKind`)
and finds the workflow by its id, made from the object's uid.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from temporalio.client import Client

from deploy.local.stack import Stack
from tests.api.helpers import remove_cluster, unique, wait_for_sync
from tests.conftest import Users
from tests.e2e.conftest import Kube
from tests.e2e.test_backup_restore import _wait


def _listed(stack: Stack, query: str) -> list[str]:
    async def ids() -> list[str]:
        client = await Client.connect(stack.temporal_address)
        return [execution.id async for execution in client.list_workflows(query)]

    return asyncio.run(ids())


def _find(stack: Stack, *, owner: str, cluster: str, kind: str, workflow_id: str) -> str:
    """The id of the workflow the query on the three attributes finds, `workflow_id` or the
    first starting with it followed by '-' (a schedule's runs); visibility lags a little."""
    query = (
        f'LifeboatOwner = "{owner}" AND LifeboatCluster = "{cluster}" AND LifeboatKind = "{kind}"'
    )
    deadline = time.monotonic() + 30
    while True:
        found = _listed(stack, query)
        matching = [i for i in found if i == workflow_id or i.startswith(f"{workflow_id}-")]
        if matching:
            return matching[0]
        assert time.monotonic() < deadline, f"{query} lists {found}, not {workflow_id}"
        time.sleep(0.5)


def _namespace(kube: Kube) -> str:
    name = unique("seen")
    kube.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    settings = {"name": "settings", "namespace": name}
    kube.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": settings, "data": {"a": "1"}})
    return name


def test_restore_preview_and_backup_deletion_workflows_are_found_from_their_objects(
    as_user: Users, target: dict[str, str], kube: Kube, stack: Stack
) -> None:
    api = as_user("infraadmin")
    namespace = _namespace(kube)
    started = api.post("/api/v1/backups", json={
        "cluster_uid": target["cluster"], "location_uid": target["location"],
        "namespaces": [namespace],
    })  # fmt: skip
    assert started.status_code == 201, started.text
    backup = _wait(api, f"/api/v1/backups/{started.json()['uid']}")
    assert backup["status"] == "Success", backup["reason"]
    owner, cluster = backup["owner_id"], target["cluster"]
    _find(stack, owner=owner, cluster=cluster, kind="backup", workflow_id=f"backup-{backup['uid']}")

    restore_body = {"backup_uid": backup["uid"], "namespace_mapping": {namespace: f"{namespace}-r"}}
    preview = api.post("/api/v1/restores/preview", json=restore_body)
    assert preview.status_code == 200, preview.text
    _find(
        stack,
        owner=owner,
        cluster=cluster,
        kind="restore-preview",
        workflow_id=f"restore-{preview.json()['uid']}",
    )
    restore = api.post("/api/v1/restores", json=restore_body)
    assert restore.status_code == 201, restore.text
    restore_uid = restore.json()["uid"]
    _find(stack, owner=owner, cluster=cluster, kind="restore", workflow_id=f"restore-{restore_uid}")
    assert _wait(api, f"/api/v1/restores/{restore_uid}")["status"] == "Success"

    deleted = api.delete(f"/api/v1/backups/{backup['uid']}")
    assert deleted.status_code == 202, deleted.text
    _find(
        stack,
        owner=owner,
        cluster=cluster,
        kind="backup-deletion",
        workflow_id=f"delete-backup-{backup['uid']}",
    )


def test_location_check_and_cluster_deletion_workflows_are_found_from_their_objects(
    as_user: Users, target: dict[str, str], stack: Stack, kubeconfig_text: str
) -> None:
    api = as_user("infraadmin")
    # Another prefix of the target's bucket, reached with the same account.
    account = api.get(f"/api/v1/backup-locations/{target['location']}").json()["cloud_account_uid"]
    location = api.post("/api/v1/backup-locations", json={
        "name": unique("loc"), "endpoint": stack.s3_endpoint, "bucket": target["bucket"],
        "prefix": unique("seen"), "cloud_account_uid": account,
    })  # fmt: skip
    assert location.status_code == 201, location.text
    made = location.json()
    _find(
        stack,
        owner=made["owner_id"],
        cluster="",
        kind="location-check",
        workflow_id=f"location-check-{made['uid']}",
    )

    cluster = api.post(
        "/api/v1/clusters", json={"name": unique("gone"), "kubeconfig": kubeconfig_text}
    ).json()
    wait_for_sync(api, cluster["uid"])
    remove_cluster(api, cluster["uid"])
    _find(
        stack,
        owner=cluster["owner_id"],
        cluster=cluster["uid"],
        kind="cluster-deletion",
        workflow_id=f"delete-cluster-{cluster['uid']}",
    )


def test_scheduled_backup_runs_and_their_backups_are_found_from_the_schedule(
    as_user: Users, target: dict[str, str], kube: Kube, stack: Stack
) -> None:
    api = as_user("infraadmin")
    policy = api.post("/api/v1/schedule-policies", json={
        "name": unique("monthly"),
        "schedule": {"type": "monthly", "day_of_month": 1, "time": "03:00"},
    })  # fmt: skip
    assert policy.status_code == 201, policy.text
    schedule = api.post("/api/v1/backup-schedules", json={
        "name": unique("seen"), "policy_uid": policy.json()["uid"],
        "backup": {"cluster_uid": target["cluster"], "location_uid": target["location"],
                   "namespaces": [_namespace(kube)]},
    })  # fmt: skip
    assert schedule.status_code == 201, schedule.text
    uid, owner, cluster = schedule.json()["uid"], schedule.json()["owner_id"], target["cluster"]

    # The Temporal Schedule's runs carry the attributes, as run-now's does.
    async def action_attributes() -> list[tuple[str, Any]]:
        client = await Client.connect(stack.temporal_address)
        described = await client.get_schedule_handle(f"backup-schedule-{uid}").describe()
        attributes = getattr(described.schedule.action, "typed_search_attributes", None)
        assert attributes is not None
        return sorted((pair.key.name, pair.value) for pair in attributes)

    assert asyncio.run(action_attributes()) == [
        ("LifeboatCluster", cluster),
        ("LifeboatKind", "scheduled-backup"),
        ("LifeboatOwner", owner),
    ]
    assert api.post(f"/api/v1/backup-schedules/{uid}/run-now").status_code == 202
    run = _find(
        stack,
        owner=owner,
        cluster=cluster,
        kind="scheduled-backup",
        workflow_id=f"scheduled-backup-{uid}",
    )
    assert run.startswith(f"scheduled-backup-{uid}-now-"), run

    # The backup the run made is a child with the schedule's owner and cluster.
    deadline = time.monotonic() + 60
    while not (made := [b for b in api.get("/api/v1/backups").json()["items"]
                        if b["schedule_uid"] == uid]):  # fmt: skip
        assert time.monotonic() < deadline, "run-now made no backup"
        time.sleep(0.5)
    _find(
        stack, owner=owner, cluster=cluster, kind="backup", workflow_id=f"backup-{made[0]['uid']}"
    )
    _wait(api, f"/api/v1/backups/{made[0]['uid']}")
    deleted = api.delete(f"/api/v1/backup-schedules/{uid}", params={"backups": "delete"})
    assert deleted.status_code == 204
    _find(
        stack,
        owner=owner,
        cluster=cluster,
        kind="backup-deletion",
        workflow_id=f"delete-backup-{made[0]['uid']}",
    )
