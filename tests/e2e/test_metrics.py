"""/metrics of the api and the worker after a scheduled backup: the domain series carry the
values the catalog recorded for it.

An api and a worker of their own (a task queue of their own) start with fresh counters, so
the counts are exact whatever other tests run on the shared stack.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from deploy.local.oidc import OidcProvider
from deploy.local.procs import HOST, free_port
from deploy.local.stack import Stack
from tests.api.helpers import platform_users, unique
from tests.conftest import Users
from tests.e2e.conftest import Kube
from tests.e2e.test_backup_restore import _bound_dir, _claim

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(url: str) -> Samples:
    """Every sample of a /metrics page, by name and labels."""
    text = httpx.get(url, timeout=30).raise_for_status().text
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, frozenset(labels.items()))]


def _ended_backups(api: httpx.Client, schedule_uid: str) -> list[dict[str, Any]]:
    return [
        b
        for b in api.get("/api/v1/backups").json()["items"]
        if b["schedule_uid"] == schedule_uid and b["status"] not in ("Pending", "InProgress")
    ]


@dataclass
class Measured:
    users: Users
    worker_metrics: str


@pytest.fixture(scope="module")
def measured(
    stack: Stack, provider: OidcProvider, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Measured]:
    """An api and a worker of their own; the worker serves /metrics on a free port."""
    port = free_port()
    settings = {
        "LIFEBOAT_TASK_QUEUE": unique("lifeboat-metrics"),
        "LIFEBOAT_WORKER_METRICS_PORT": str(port),
    }
    home = tmp_path_factory.mktemp("metrics")
    with platform_users(stack, provider, home, settings) as users:
        yield Measured(users, f"http://{HOST}:{port}/metrics")


def test_a_scheduled_backup_shows_in_both_metrics_endpoints(
    measured: Measured, target: dict[str, str], kube: Kube, stack: Stack
) -> None:
    api = measured.users("infraadmin")
    namespace = unique("metered")
    kube.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
    _claim(kube, namespace, "data")
    volume = _bound_dir(stack, namespace, "data")
    block = os.urandom(1024 * 1024)  # twice the same: the second copy dedupes
    (volume / "a.bin").write_bytes(block)
    (volume / "b.bin").write_bytes(block)
    # Daily, half a day away: only run-now makes a backup during the test.
    at = (datetime.now().astimezone() + timedelta(hours=12)).strftime("%H:%M")
    policy = api.post("/api/v1/schedule-policies", json={
        "name": unique("daily"), "schedule": {"type": "daily", "time": at},
    })  # fmt: skip
    assert policy.status_code == 201, policy.text
    schedule = api.post("/api/v1/backup-schedules", json={
        "name": unique("metered"), "policy_uid": policy.json()["uid"],
        "backup": {"cluster_uid": target["cluster"], "location_uid": target["location"],
                   "namespaces": [namespace]},
    })  # fmt: skip
    assert schedule.status_code == 201, schedule.text
    uid = schedule.json()["uid"]
    assert api.post(f"/api/v1/backup-schedules/{uid}/run-now").status_code == 202

    deadline = time.monotonic() + 180
    while not (made := _ended_backups(api, uid)):
        assert time.monotonic() < deadline, "the schedule's backup did not end"
        time.sleep(1)
    backup = api.get(f"/api/v1/backups/{made[0]['uid']}").json()
    assert backup["status"] == "Success", backup["reason"]
    read = sum(v["bytes_total"] for v in backup["volumes"])
    uploaded = sum(v["bytes_uploaded"] for v in backup["volumes"])
    assert read == 2 * len(block)
    assert 0 < uploaded < read, "the second copy was deduplicated"

    worker = scrape(measured.worker_metrics)
    assert value(worker, "lifeboat_backups_finished_total", status="Success") == 1
    assert value(worker, "lifeboat_backup_duration_seconds_count", status="Success") == 1
    assert value(worker, "lifeboat_backup_read_bytes_total") == read
    assert value(worker, "lifeboat_backup_uploaded_bytes_total") == uploaded
    assert value(worker, "lifeboat_backup_dedup_ratio_sum") == pytest.approx(read / uploaded)
    owner = schedule.json()["owner_id"]
    finished = datetime.fromisoformat(backup["finished_at"]).timestamp()
    last = value(
        worker, "lifeboat_schedule_last_success_timestamp_seconds",
        schedule=schedule.json()["name"], owner=owner,
    )  # fmt: skip
    assert last == pytest.approx(finished, abs=1e-3)
    interval = value(
        worker, "lifeboat_schedule_interval_seconds", schedule=schedule.json()["name"], owner=owner
    )
    assert interval == timedelta(days=1).total_seconds()
    cluster = api.get(f"/api/v1/clusters/{target['cluster']}").json()
    for status in ("Online", "Offline"):
        assert value(
            worker, "lifeboat_cluster_status",
            cluster=cluster["name"], owner=cluster["owner_id"], status=status,
        ) == (status == "Online")  # fmt: skip
    assert value(worker, "lifeboat_catalog_up") == 1
    # The Temporal SDK's own series, from the same port.
    assert any(name.startswith("temporal_") for name, _ in worker), sorted(worker)[:20]

    api_metrics = f"{str(api.base_url).rstrip('/')}/metrics"
    served = scrape(api_metrics)
    run_now = "/api/v1/backup-schedules/{uid}/run-now"
    assert (
        value(served, "lifeboat_api_requests_total", method="POST", route=run_now, status="202")
        == 1
    )
    assert (
        value(served, "lifeboat_api_request_duration_seconds_count", method="POST", route=run_now)
        == 1
    )
    # Paths no route has are one series, whatever was asked.
    for path in ("/nothing/1", "/nothing/2"):
        assert api.get(path).status_code == 404
    served = scrape(api_metrics)
    assert (
        value(served, "lifeboat_api_requests_total", method="GET", route="unmatched", status="404")
        >= 2
    )
