"""The dev stack: every server Lifeboat needs, on 127.0.0.1, under one state directory.

    python -m deploy.local.stack up      start (or keep) everything, show it working
    python -m deploy.local.stack down    stop everything this state directory started
    python -m deploy.local.stack status  what runs where

The tests start the same stack in a temporary directory on free ports. `up` after `down`
keeps the data: Temporal's SQLite file, the S3 data, etcd, the catalog database.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from deploy.local import postgres
from deploy.local.aws import running_aws, start_aws, stop_aws
from deploy.local.csi import running_csi, start_csi, stop_csi
from deploy.local.kube import running_kube, start_kube, stop_kube
from deploy.local.kubelet import start_kubelet, stop_kubelet
from deploy.local.oidc import (
    CLIENT_ID,
    DEV_PASSWORD,
    DIRECTORY_CLIENT_ID,
    DIRECTORY_CLIENT_SECRET,
    ROLE_GROUPS,
    SCIM_PATH,
    SEEDED_USERS,
    running_oidc,
    start_oidc,
    stop_oidc,
)
from deploy.local.procs import HOST, ManagedProcess, free_port, http_ok, port_is_free
from deploy.local.s3 import running_s3, start_s3, stop_s3
from deploy.local.temporal import running_temporal, start_temporal, stop_temporal
from lifeboat.catalog.migrate import upgrade

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_STATE = REPO_ROOT / ".state"
# Ports `make up` prefers, so URLs stay the same from one run to the next.
PREFERRED_PORTS = {
    "temporal": 7233,
    "temporal_ui": 8233,
    "s3": 8333,
    "kube": 6443,
    "oidc": 5556,
    "api": 8000,
}
WORKER_READY = b"worker polling task queue"


@dataclass(frozen=True)
class Stack:
    """Where each part of a running stack answers."""

    state: str
    database_url: str
    temporal_address: str
    temporal_ui: str
    s3_endpoint: str
    s3_access_key: str
    s3_secret_key: str
    kube_server: str
    kubeconfig: str
    kubelet_home: str
    csi_home: str
    oidc_issuer: str
    api_url: str
    secret_key: str
    # The local AWS API the worker calls instead of AWS ("": AWS itself); the tests start one.
    aws_endpoint: str = ""

    def settings_env(self) -> dict[str, str]:
        """The LIFEBOAT_ environment that points the api and worker at this stack."""
        return {
            "LIFEBOAT_DATABASE_URL": self.database_url,
            "LIFEBOAT_SECRET_KEY": self.secret_key,
            "LIFEBOAT_TEMPORAL_ADDRESS": self.temporal_address,
            "LIFEBOAT_TEMPORAL_UI_URL": self.temporal_ui,
            "LIFEBOAT_OIDC_ISSUER": self.oidc_issuer,
            "LIFEBOAT_OIDC_AUDIENCE": CLIENT_ID,
            "LIFEBOAT_DIRECTORY_SCIM_URL": self.oidc_issuer + SCIM_PATH,
            "LIFEBOAT_DIRECTORY_CLIENT_ID": DIRECTORY_CLIENT_ID,
            "LIFEBOAT_DIRECTORY_CLIENT_SECRET": DIRECTORY_CLIENT_SECRET,
            "LIFEBOAT_S3_ENDPOINT": self.s3_endpoint,
            **({"LIFEBOAT_AWS_ENDPOINT_URL": self.aws_endpoint} if self.aws_endpoint else {}),
            # Each seeded role group carries its built-in role.
            "LIFEBOAT_ROLE_MAPPING": json.dumps(
                {group: f"lifeboat.{role}" for role, group in ROLE_GROUPS.items()}
            ),
        }


def _ports(state: Path, fixed: bool) -> dict[str, int]:
    """Ports for this run: remembered (or preferred) ones when free, else any free port."""
    remembered_file = state / "ports.json"
    remembered = json.loads(remembered_file.read_text()) if remembered_file.exists() else {}
    ports = {}
    for name, preferred in PREFERRED_PORTS.items():
        # A restart keeps its ports (kubeconfigs and URLs handed out stay valid); `make up`
        # also prefers the well-known ones.
        candidates = [remembered.get(name), preferred] if fixed else [remembered.get(name)]
        ports[name] = next((p for p in candidates if p and port_is_free(p)), None) or free_port()
    remembered_file.write_text(json.dumps(ports))
    return ports


def _database(state: Path, database: str | None) -> str:
    if database:
        return database
    if postgres.reachable():
        return postgres.ensure_database("lifeboat")
    return f"sqlite:///{state / 'lifeboat.db'}"


def _secret_key(state: Path) -> str:
    """A random per-state-directory key: the catalog's secrets stay readable across restarts."""
    path = state / "secret-key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(32))
        path.chmod(0o600)
    return path.read_text().strip()


def up(
    state: Path = DEFAULT_STATE,
    *,
    fixed_ports: bool = True,
    database_url: str | None = None,
    local_aws: bool = False,
) -> Stack:
    """Start every server that is not already running; return where each answers.

    `local_aws` adds a local AWS API (moto) for the worker to call instead of AWS: tests only.
    """
    state.mkdir(parents=True, exist_ok=True)
    ports = _ports(state, fixed_ports)
    temporal = running_temporal(state / "temporal") or start_temporal(
        state / "temporal", port=ports["temporal"], ui_port=ports["temporal_ui"]
    )
    s3 = running_s3(state / "s3") or start_s3(state / "s3", port=ports["s3"])
    kube = running_kube(state / "kube") or start_kube(state / "kube", port=ports["kube"])
    oidc = running_oidc(state / "oidc") or start_oidc(state / "oidc", port=ports["oidc"])
    aws = (running_aws(state / "aws") or start_aws(state / "aws")) if local_aws else None
    # The test doubles for what the test cluster lacks: a node to exec into, a CSI driver.
    start_kubelet(state / "kubelet", kube.kubeconfig)
    running_csi(state / "csi") or start_csi(state / "csi", kube.kubeconfig)
    stack = Stack(
        state=str(state),
        database_url=_database(state, database_url),
        temporal_address=temporal.address,
        temporal_ui=temporal.ui_url,
        s3_endpoint=s3.endpoint,
        s3_access_key=s3.access_key,
        s3_secret_key=s3.secret_key,
        kube_server=kube.server,
        kubeconfig=str(kube.kubeconfig),
        kubelet_home=str(state / "kubelet"),
        csi_home=str(state / "csi"),
        oidc_issuer=oidc.issuer,
        api_url=f"http://{HOST}:{ports['api']}",
        secret_key=_secret_key(state),
        aws_endpoint=aws.endpoint if aws else "",
    )
    upgrade(stack.database_url)
    env = {**stack.settings_env(), "PYTHONPATH": str(REPO_ROOT)}
    bin_dir = str(Path(sys.executable).parent)
    env["PATH"] = f"{bin_dir}:{os.environ.get('PATH', '')}"
    api = ManagedProcess("api", state / "api")
    if api.pid() is None:
        api.start(
            [sys.executable, "-m", "uvicorn", "--factory", "api.app:create_app",
             "--host", HOST, "--port", str(ports["api"]), "--no-access-log",
             # Longer than a load balancer's idle timeout (60 s), so the server never closes
             # a kept-alive connection just as a client reuses it.
             "--timeout-keep-alive", "75"],
            env=env,
            healthy=lambda: http_ok(f"{stack.api_url}/healthz"),
        )  # fmt: skip
    else:
        stack = _with_api_url(stack, state)
    worker = ManagedProcess("worker", state / "worker")
    if worker.pid() is None:
        offset = worker.log_file.stat().st_size if worker.log_file.exists() else 0
        worker.start(
            [sys.executable, "-m", "worker.main"],
            env=env,
            healthy=lambda: WORKER_READY in _read_from(worker.log_file, offset),
        )
    (state / "stack.json").write_text(json.dumps(asdict(stack), indent=2))
    return stack


def _with_api_url(stack: Stack, state: Path) -> Stack:
    """The API already runs: keep the URL it was started with."""
    previous = json.loads((state / "stack.json").read_text())
    return Stack(**{**asdict(stack), "api_url": previous["api_url"]})


def _read_from(path: Path, offset: int) -> bytes:
    with path.open("rb") as f:
        f.seek(offset)
        return f.read()


def down(state: Path = DEFAULT_STATE) -> None:
    """Stop everything this state directory started, clients first; keep all data."""
    ManagedProcess("worker", state / "worker").stop()
    ManagedProcess("api", state / "api").stop()
    stop_oidc(state / "oidc")
    stop_aws(state / "aws")
    stop_kubelet(state / "kubelet")
    stop_csi(state / "csi")
    stop_kube(state / "kube")
    stop_s3(state / "s3")
    stop_temporal(state / "temporal")


def describe(stack: Stack) -> str:
    users = "\n".join(
        f"    {u.username:<11} password {DEV_PASSWORD}  groups {', '.join(u.groups) or '-'}"
        for u in SEEDED_USERS
    )
    return f"""Lifeboat dev stack is up (state in {stack.state})
  API docs      {stack.api_url}/docs
  API           {stack.api_url}/api/v1   (health: {stack.api_url}/healthz)
  Temporal UI   {stack.temporal_ui}   (gRPC {stack.temporal_address})
  S3            {stack.s3_endpoint}   (access key {stack.s3_access_key})
  Kubernetes    {stack.kube_server}   (kubeconfig {stack.kubeconfig})
  OIDC issuer   {stack.oidc_issuer}   (client {CLIENT_ID})
  Catalog       {stack.database_url}
  Seeded users:
{users}"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="deploy.local.stack", description=__doc__.split("\n")[0])
    parser.add_argument("command", choices=["up", "down", "status"])
    parser.add_argument(
        "--state", type=Path, default=Path(os.environ.get("LIFEBOAT_STATE_DIR", DEFAULT_STATE))
    )
    args = parser.parse_args(argv)
    state = args.state.resolve()
    if args.command == "down":
        down(state)
        print(f"stopped the dev stack in {state} (data kept)")
        return 0
    if args.command == "status":
        info = state / "stack.json"
        print(info.read_text() if info.exists() else "not started")
        return 0
    started = time.monotonic()
    stack = up(state)
    print(describe(stack))
    from deploy.local.demo import show_working

    print(show_working(stack))
    print(f"(ready in {time.monotonic() - started:.1f}s; `make down` stops it)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
