"""`make up`, `make down`, `make up`: a whole second stack, on a SQLite catalog, keeps its data."""

from __future__ import annotations

from pathlib import Path

import httpx

from deploy.local.oidc import CLIENT_ID, CLIENT_SECRET, OidcProvider, password_token
from deploy.local.procs import ManagedProcess, pid_alive
from deploy.local.stack import down, up
from tests.api.helpers import wait_for_sync

PROCESSES = (
    "api", "worker", "temporal", "s3", "oidc",
    "kube/etcd", "kube/kube-apiserver", "kube/kube-controller-manager",
)  # fmt: skip


def _pids(state: Path) -> dict[str, int | None]:
    return {name: ManagedProcess(name, state / name).pid() for name in PROCESSES}


def test_down_stops_everything_and_up_keeps_the_data(tmp_path: Path) -> None:
    catalog = f"sqlite:///{tmp_path / 'catalog.db'}"
    stack = up(tmp_path, fixed_ports=False, database_url=catalog)
    try:
        pids = _pids(tmp_path)
        assert all(pids.values()), pids
        provider = OidcProvider(stack.oidc_issuer, CLIENT_ID, CLIENT_SECRET, 0)
        headers = {"Authorization": f"Bearer {password_token(provider, 'appuser')}"}
        with httpx.Client(base_url=stack.api_url, headers=headers, timeout=30) as api:
            created = api.post(
                "/api/v1/clusters",
                json={"name": "kept", "kubeconfig": Path(stack.kubeconfig).read_text()},
            )
            assert created.status_code == 201, created.text
            assert wait_for_sync(api, created.json()["uid"])["status"] == "Online"
    finally:
        down(tmp_path)
    assert not any(pid_alive(pid) for pid in pids.values() if pid)
    worker_log = (tmp_path / "worker" / "log").read_text()
    assert "draining" in worker_log and "worker stopped" in worker_log

    again = up(tmp_path, fixed_ports=False, database_url=catalog)
    try:
        provider = OidcProvider(again.oidc_issuer, CLIENT_ID, CLIENT_SECRET, 0)
        headers = {"Authorization": f"Bearer {password_token(provider, 'appuser')}"}
        with httpx.Client(base_url=again.api_url, headers=headers, timeout=30) as api:
            clusters = api.get("/api/v1/clusters").json()["items"]
        assert [c["name"] for c in clusters] == ["kept"]
        assert clusters[0]["status"] == "Online"
    finally:
        down(tmp_path)
