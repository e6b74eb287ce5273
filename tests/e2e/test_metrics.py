"""/metrics of the api and the worker after a scheduled backup: the domain series carry the
values the catalog recorded for it, and the alerts and the dashboard (deploy/kubernetes/
monitoring) name only series these endpoints export.

An api and a worker of their own (a task queue of their own) start with fresh counters, so
the counts are exact whatever other tests run on the shared stack.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from deploy.local.servers.oidc import OidcProvider
from deploy.local.servers.procs import HOST, free_port
from deploy.local.stack import Stack
from lifeboat.catalog.models import LicenseUsage
from tests.api.helpers import platform_users, unique
from tests.e2e.conftest import Kube
from tests.e2e.test_backup_restore import _bound_dir, _claim

MONITORING = Path(__file__).resolve().parents[2] / "deploy" / "kubernetes" / "monitoring"
# Series of the Temporal SDK that appear only once what they count has happened.
SDK_ONLY_ON_FAILURE = {"temporal_long_request_failure"}
SERIES = re.compile(r"\b(?:lifeboat|temporal)_[a-z0-9_]+\b")
MATCHERS = re.compile(r"\b((?:lifeboat|temporal)_[a-z0-9_]+)\{([^}]*)\}")
LABEL = re.compile(r"([a-z_]+)\s*(?:=~|!~|!=|=)")


@dataclass
class Sample:
    name: str
    labels: dict[str, str]
    value: float


@dataclass
class Page:
    """A scraped /metrics page: its samples, and every series name it declares
    (`lifeboat_restores_finished_total` is declared before any restore has ended)."""

    samples: list[Sample]
    names: set[str]

    def value(self, name: str, **labels: str) -> float:
        found = [s.value for s in self.samples if s.name == name and s.labels == labels]
        assert len(found) == 1, f"{name}{labels}: {len(found)} samples"
        return found[0]

    def labels_of(self, name: str) -> set[str] | None:
        """The label names of a series, None when it has no sample yet."""
        seen = [set(s.labels) for s in self.samples if s.name == name]
        return set().union(*seen) if seen else None


# Read as Prometheus reads it: prometheus-client's own parser renames counters to `_total`.
TYPE_LINE = re.compile(r"^# TYPE (\S+) (\S+)$")
SAMPLE_LINE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)(?: \d+)?$")
LABEL_PAIR = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def scrape(url: str) -> Page:
    text = httpx.get(url, timeout=30).raise_for_status().text
    samples, names = [], set()
    for line in text.splitlines():
        if declared := TYPE_LINE.match(line):
            name, kind = declared.groups()
            suffixes = ["_bucket", "_count", "_sum"] if kind == "histogram" else [""]
            names |= {name + suffix for suffix in suffixes}
        elif line and not line.startswith("#"):
            sample = SAMPLE_LINE.match(line)
            assert sample, f"not a sample: {line}"
            name, labels, value = sample.groups()
            samples.append(Sample(name, dict(LABEL_PAIR.findall(labels or "")), float(value)))
            names.add(name)
    return Page(samples, names)


@dataclass
class AfterBackup:
    """Both pages, scraped after the schedule's backup ended, and what the API says of it."""

    worker: Page
    api: Page
    backup: dict[str, Any]
    schedule: dict[str, Any]
    cluster: dict[str, Any]
    # The api's and the worker's logs (LIFEBOAT_LOG_FORMAT=json), and the caller's token.
    logs: dict[str, str]
    token: str


def _ended_backups(api: httpx.Client, schedule_uid: str) -> list[dict[str, Any]]:
    made = api.get("/api/v1/backups", params={"schedule_uid": schedule_uid}).json()["items"]
    return [b for b in made if b["status"] not in ("Pending", "InProgress")]


@pytest.fixture(scope="module")
def after_backup(
    stack: Stack,
    provider: OidcProvider,
    tmp_path_factory: pytest.TempPathFactory,
    target: dict[str, str],
    kube: Kube,
) -> Iterator[AfterBackup]:
    """An api and a worker of their own (the worker's /metrics on a free port) run a daily
    schedule now, on a volume holding the same 1 MiB twice."""
    port = free_port()
    settings = {
        "LIFEBOAT_TASK_QUEUE": unique("lifeboat-metrics"),
        "LIFEBOAT_WORKER_METRICS_PORT": str(port),
        "LIFEBOAT_LOG_FORMAT": "json",
    }
    home = tmp_path_factory.mktemp("metrics")
    with platform_users(stack, provider, home, settings) as users:
        api = users("infraadmin")
        namespace = unique("metered")
        kube.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
        _claim(kube, namespace, "data")
        volume = _bound_dir(stack, namespace, "data")
        block = os.urandom(1024 * 1024)  # the second copy dedupes
        (volume / "a.bin").write_bytes(block)
        (volume / "b.bin").write_bytes(block)
        # Half a day away: only run-now makes a backup during the test.
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
        while not (ended := _ended_backups(api, uid)):
            assert time.monotonic() < deadline, "the schedule's backup did not end"
            time.sleep(1)
        # Outside /api/ every path is the console's (index.html): unknown API paths are 404s.
        for path in ("/api/v1/nothing/1", "/api/v1/nothing/2"):
            assert api.get(path).status_code == 404
        yield AfterBackup(
            worker=scrape(f"http://{HOST}:{port}/metrics"),
            api=scrape(f"{str(api.base_url).rstrip('/')}/metrics"),
            backup=api.get(f"/api/v1/backups/{ended[0]['uid']}").json(),
            schedule=schedule.json(),
            cluster=api.get(f"/api/v1/clusters/{target['cluster']}").json(),
            logs={p: (home / p / "log").read_text() for p in ("api", "worker")},
            token=api.headers["Authorization"].removeprefix("Bearer "),
        )


def test_the_worker_exports_what_the_catalog_recorded_for_the_backup(
    after_backup: AfterBackup, catalog: sessionmaker[Session]
) -> None:
    backup, worker = after_backup.backup, after_backup.worker
    assert backup["status"] == "Success", backup["reason"]
    read = sum(v["bytes_total"] for v in backup["volumes"])
    uploaded = sum(v["bytes_uploaded"] for v in backup["volumes"])
    assert read == 2 * 1024 * 1024
    assert 0 < uploaded < read, "the second copy was deduplicated"

    assert worker.value("lifeboat_backups_finished_total", status="Success") == 1
    assert worker.value("lifeboat_backup_duration_seconds_count", status="Success") == 1
    assert worker.value("lifeboat_backup_read_bytes_total") == read
    assert worker.value("lifeboat_backup_uploaded_bytes_total") == uploaded
    assert worker.value("lifeboat_backup_dedup_ratio_sum") == pytest.approx(read / uploaded)
    schedule = {
        "schedule": after_backup.schedule["name"],
        "owner": after_backup.schedule["owner_id"],
    }
    finished = datetime.fromisoformat(backup["finished_at"]).timestamp()
    last = worker.value("lifeboat_schedule_last_success_timestamp_seconds", **schedule)
    assert last == pytest.approx(finished, abs=1e-3)
    interval = worker.value("lifeboat_schedule_interval_seconds", **schedule)
    assert interval == timedelta(days=1).total_seconds()
    cluster = {"cluster": after_backup.cluster["name"], "owner": after_backup.cluster["owner_id"]}
    assert worker.value("lifeboat_cluster_status", **cluster, status="Online") == 1
    assert worker.value("lifeboat_cluster_status", **cluster, status="Offline") == 0
    assert worker.value("lifeboat_catalog_up") == 1
    # License usage as the last license check recorded it (none yet: no sample).
    with catalog() as session:
        nodes = session.scalar(select(LicenseUsage.nodes).order_by(LicenseUsage.id.desc()).limit(1))
    assert "lifeboat_license_nodes_used" in worker.names
    used = [s.value for s in worker.samples if s.name == "lifeboat_license_nodes_used"]
    assert used == ([] if nodes is None else [nodes])
    # The Temporal SDK's own series, from the same port.
    assert worker.labels_of("temporal_long_request") is not None, sorted(worker.names)


def test_the_api_counts_requests_by_route_template(after_backup: AfterBackup) -> None:
    api = after_backup.api
    run_now = {"method": "POST", "route": "/api/v1/backup-schedules/{uid}/run-now"}
    assert api.value("lifeboat_api_requests_total", **run_now, status="202") == 1
    assert api.value("lifeboat_api_request_duration_seconds_count", **run_now) == 1
    # Paths no route has are one series, whatever was asked.
    unmatched = {"method": "GET", "route": "unmatched", "status": "404"}
    assert api.value("lifeboat_api_requests_total", **unmatched) == 2


def _expressions() -> list[str]:
    rule = yaml.safe_load((MONITORING / "prometheusrule.yaml").read_text())
    alerts = [r["expr"] for group in rule["spec"]["groups"] for r in group["rules"]]
    dashboard = json.loads((MONITORING / "lifeboat-dashboard.json").read_text())
    panels = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    assert alerts and panels
    return alerts + panels


def test_alerts_and_dashboard_name_only_exported_series(
    after_backup: AfterBackup, kubectl: str
) -> None:
    rendered = subprocess.run(
        [kubectl, "kustomize", str(MONITORING)], check=True, capture_output=True, text=True
    ).stdout
    kinds = sorted(d["kind"] for d in yaml.safe_load_all(rendered) if d)
    assert kinds == ["ConfigMap", "PrometheusRule", "ServiceMonitor", "ServiceMonitor"]
    pages = (after_backup.worker, after_backup.api)
    exported = set().union(*(p.names for p in pages)) | SDK_ONLY_ON_FAILURE
    rule = yaml.safe_load((MONITORING / "prometheusrule.yaml").read_text())
    alerts = {r["alert"] for group in rule["spec"]["groups"] for r in group["rules"]}
    assert {
        "LifeboatBackupFailed", "LifeboatScheduleWithoutSuccess", "LifeboatClusterOffline",
        "LifeboatWorkerNotPolling", "LifeboatLocationUnreachable",
    } <= alerts  # fmt: skip
    for expr in _expressions():
        named = set(SERIES.findall(expr))
        assert named, f"names no Lifeboat or Temporal series: {expr}"
        assert named <= exported, f"{sorted(named - exported)} are not exported: {expr}"
        for name, matchers in MATCHERS.findall(expr):
            labels = next((p.labels_of(name) for p in pages if p.labels_of(name)), None)
            if labels is not None:  # a series without samples yet has no labels to check
                wanted = set(LABEL.findall(matchers))
                assert wanted <= labels, f"{name} has no label {wanted - labels}: {expr}"


def test_the_logs_are_json_lines_about_their_workflow_and_caller_and_hold_no_secret(
    after_backup: AfterBackup, stack: Stack, kubeconfig_text: str
) -> None:
    lines = {
        # Every line but the process manager's own (`--- start ...` and a blank line).
        process: [json.loads(line) for line in text.splitlines() if line and line[0] != "-"]
        for process, text in after_backup.logs.items()
    }
    for entry in (e for entries in lines.values() for e in entries):
        assert {"time", "level", "logger", "message"} <= set(entry), entry
    # The api's line for the run-now request names its caller and the schedule.
    [run_now] = [e for e in lines["api"] if "/run-now" in e["message"]]
    assert run_now["user"] == "infraadmin"
    assert run_now["object_uid"] == after_backup.schedule["uid"]
    # The route's template, never the path the client sent.
    assert re.fullmatch(
        r"POST /api/v1/backup-schedules/\{uid\}/run-now 202 \d+ ms", run_now["message"]
    )
    assert [e for e in lines["api"] if e["logger"] == "uvicorn.error"], "uvicorn's lines too"
    # The worker's lines about the backup's workflow name it and the backup.
    backup = after_backup.backup["uid"]
    about = [e for e in lines["worker"] if e.get("workflow_id") == f"backup-{backup}"]
    assert about, lines["worker"]
    assert {e["object_uid"] for e in about} == {backup}
    assert not [e for e in about if "workflow_id" in e["message"]], "the SDK's suffix is off"
    kubeconfig = yaml.safe_load(kubeconfig_text)
    user = kubeconfig["users"][0]["user"]
    secrets = [
        stack.s3_secret_key, stack.secret_key, after_backup.token,
        *(user[k] for k in ("token", "client-key-data") if k in user),
    ]  # fmt: skip
    for process, text in after_backup.logs.items():
        assert not [s for s in secrets if s in text], f"a secret is in the {process} log"
