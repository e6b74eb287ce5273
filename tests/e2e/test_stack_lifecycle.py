"""`make up`, `make down`, `make up`: a whole second stack, on a SQLite catalog, keeps its data,
its ports and its registered cluster; the worker waits for a Temporal that is not up yet."""

from __future__ import annotations

import json
import sqlite3
import sys
import time
from pathlib import Path

import httpx
import pytest

from deploy.local.servers.oidc import CLIENT_ID, CLIENT_SECRET, OidcProvider, password_token
from deploy.local.servers.procs import ManagedProcess, free_port, pid_alive
from deploy.local.servers.temporal import start_temporal, stop_temporal
from deploy.local.stack import REPO_ROOT, WORKER_READY, Stack, down, up
from tests.api.helpers import unique, wait_for_sync

pytestmark = pytest.mark.slow

PROCESSES = (
    "api", "worker", "temporal", "s3", "oidc",
    "kube/etcd", "kube/kube-apiserver", "kube/kube-controller-manager",
)  # fmt: skip


def _pids(state: Path) -> dict[str, int | None]:
    return {name: ManagedProcess(name, state / name).pid() for name in PROCESSES}


def _signed_in(stack: Stack, username: str = "appuser") -> httpx.Client:
    provider = OidcProvider(stack.oidc_issuer, CLIENT_ID, CLIENT_SECRET, 0)
    headers = {"Authorization": f"Bearer {password_token(provider, username)}"}
    return httpx.Client(base_url=stack.api_url, headers=headers, timeout=30)


def _ports(state: Path) -> dict[str, int]:
    ports: dict[str, int] = json.loads((state / "ports.json").read_text())
    return ports


def test_a_second_up_keeps_every_port(tmp_path: Path) -> None:
    catalog = f"sqlite:///{tmp_path / 'catalog.db'}"
    stack = up(tmp_path, fixed_ports=False, database_url=catalog)
    try:
        ports = _ports(tmp_path)
        servers = {"temporal", "temporal_ui", "s3", "kube", "oidc", "api", "worker_metrics"}
        assert set(ports) == servers
        again = up(tmp_path, fixed_ports=False, database_url=catalog)
        assert _ports(tmp_path) == ports
        assert again == stack
    finally:
        down(tmp_path)


def test_down_stops_everything_and_up_brings_back_the_data_and_the_cluster_online(
    tmp_path: Path,
) -> None:
    catalog = f"sqlite:///{tmp_path / 'catalog.db'}"
    stack = up(tmp_path, fixed_ports=False, database_url=catalog)
    try:
        with _signed_in(stack) as api:
            created = api.post(
                "/api/v1/clusters",
                json={"name": "kept", "kubeconfig": Path(stack.kubeconfig).read_text()},
            )
            assert created.status_code == 201, created.text
            uid = created.json()["uid"]
            assert wait_for_sync(api, uid)["status"] == "Online"
        # `make up` again while everything runs (it starts nothing and must move nothing).
        up(tmp_path, fixed_ports=False, database_url=catalog)
        pids = _pids(tmp_path)
        assert all(pids.values()), pids
    finally:
        down(tmp_path)
    assert not any(pid_alive(pid) for pid in pids.values() if pid)
    worker_log = (tmp_path / "worker" / "log").read_text()
    assert "draining" in worker_log and "worker stopped" in worker_log

    again = up(tmp_path, fixed_ports=False, database_url=catalog)
    try:
        with _signed_in(again) as api:
            clusters = api.get("/api/v1/clusters").json()["items"]
            assert [c["name"] for c in clusters] == ["kept"]
            # The kubeconfig stored at registration still reaches the restarted API server.
            before = clusters[0]["last_synced_at"]
            assert api.post(f"/api/v1/clusters/{uid}/sync").status_code == 202
            synced = wait_for_sync(api, uid, after=before, timeout=120)
        assert synced["status"] == "Online", synced["status_reason"]
    finally:
        down(tmp_path)

    # Another stack (a new state directory, so a new secret key) on the same catalog could
    # never decrypt its kubeconfigs: it stops before starting anything, saying what to do.
    other = tmp_path / "other"
    with pytest.raises(SystemExit, match=r"another dev stack made it.*make clean"):
        up(other, fixed_ports=False, database_url=catalog)
    assert not any(_pids(other).values())


def test_up_keeps_the_catalog_in_lifeboat_database_url(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    database = tmp_path / "chosen.db"
    monkeypatch.setenv("LIFEBOAT_DATABASE_URL", f"sqlite:///{database}")
    stack = up(tmp_path, fixed_ports=False)
    try:
        assert stack.database_url == f"sqlite:///{database}"
        name = unique("policy")
        with _signed_in(stack, "infraadmin") as api:
            created = api.post("/api/v1/schedule-policies", json={
                "name": name, "schedule": {"type": "interval", "every_minutes": 60},
                "retention": {"keep_last": 3},
            })  # fmt: skip
            assert created.status_code == 201, created.text
    finally:
        down(tmp_path)
    with sqlite3.connect(database) as db:
        rows = db.execute("select name from schedule_policies").fetchall()
    assert rows == [(name,)]


def _read_log(process: ManagedProcess) -> bytes:
    return process.log_file.read_bytes() if process.log_file.exists() else b""


def test_a_worker_started_before_temporal_connects_once_it_is_up(tmp_path: Path) -> None:
    port = free_port()
    worker = ManagedProcess("worker", tmp_path / "worker")
    env = {
        "PYTHONPATH": str(REPO_ROOT),
        "LIFEBOAT_TEMPORAL_ADDRESS": f"127.0.0.1:{port}",
        "LIFEBOAT_DATABASE_URL": f"sqlite:///{tmp_path / 'catalog.db'}",
    }
    try:
        # Healthy here means: running, and saying it waits for the workflow service.
        worker.start(
            [sys.executable, "-m", "worker.main"],
            env=env,
            healthy=lambda: b"unreachable" in _read_log(worker),
        )
        start_temporal(tmp_path / "temporal", port=port)
        deadline = time.monotonic() + 120
        while WORKER_READY not in _read_log(worker):
            assert worker.pid() is not None, worker.log_tail()
            assert time.monotonic() < deadline, worker.log_tail()
            time.sleep(0.5)
    finally:
        worker.stop()
        stop_temporal(tmp_path / "temporal")
