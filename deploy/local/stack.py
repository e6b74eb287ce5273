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
import shutil
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import sqlalchemy
from sqlalchemy.engine import make_url

from deploy.local.doubles.aws import running_aws, start_aws, stop_aws
from deploy.local.doubles.csi.driver import running_csi, start_csi, stop_csi
from deploy.local.doubles.kubelet import start_kubelet, stop_kubelet
from deploy.local.servers import postgres
from deploy.local.servers.kube import running_kube, start_kube, stop_kube
from deploy.local.servers.oidc import (
    CLIENT_ID,
    CONSOLE_CLIENT_ID,
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
from deploy.local.servers.procs import (
    HOST,
    ManagedProcess,
    free_port,
    http_ok,
    port_is_free,
    reserve_ports,
)
from deploy.local.servers.s3 import running_s3, start_s3, stop_s3
from deploy.local.servers.temporal import running_temporal, start_temporal, stop_temporal
from lifeboat.catalog.migrate import upgrade
from lifeboat.catalog.session import sync_url
from lifeboat.secrets import SecretBox, SecretDecryptError

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
    "worker_metrics": 9464,
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
    # The worker's /metrics.
    worker_metrics_url: str = ""

    def settings_env(self) -> dict[str, str]:
        """The LIFEBOAT_ environment that points the api and worker at this stack."""
        return {
            "LIFEBOAT_DATABASE_URL": self.database_url,
            "LIFEBOAT_SECRET_KEY": self.secret_key,
            "LIFEBOAT_TEMPORAL_ADDRESS": self.temporal_address,
            "LIFEBOAT_TEMPORAL_UI_URL": self.temporal_ui,
            "LIFEBOAT_OIDC_ISSUER": self.oidc_issuer,
            "LIFEBOAT_OIDC_AUDIENCE": CLIENT_ID,
            "LIFEBOAT_OIDC_CONSOLE_CLIENT_ID": CONSOLE_CLIENT_ID,
            "LIFEBOAT_DIRECTORY_SCIM_URL": self.oidc_issuer + SCIM_PATH,
            "LIFEBOAT_DIRECTORY_CLIENT_ID": DIRECTORY_CLIENT_ID,
            "LIFEBOAT_DIRECTORY_CLIENT_SECRET": DIRECTORY_CLIENT_SECRET,
            "LIFEBOAT_S3_ENDPOINT": self.s3_endpoint,
            "LIFEBOAT_MOVER_RUNNER": "local",  # the dev cluster's volumes are hostPath ones
            # Progress bars move every half second (the mover reports that often), not every 2 s.
            "LIFEBOAT_PROGRESS_INTERVAL_SECONDS": "0.5",
            **({"LIFEBOAT_AWS_ENDPOINT_URL": self.aws_endpoint} if self.aws_endpoint else {}),
            # Each seeded role group carries its built-in role.
            "LIFEBOAT_ROLE_MAPPING": json.dumps(
                {group: f"lifeboat.{role}" for role, group in ROLE_GROUPS.items()}
            ),
        }


class _Ports:
    """The ports of one state directory, remembered in its ports.json.

    A port once chosen is kept: a server started again gets the port it had, so URLs and
    kubeconfigs handed out (the dev cluster's, stored in the catalog) stay valid, and the
    api and worker find Temporal where they left it. Only a server that is about to start
    asks for its port, so nothing running ever has its entry rewritten.
    """

    def __init__(self, state: Path, *, fixed: bool) -> None:
        self._file = state / "ports.json"
        self._fixed = fixed
        self._ports: dict[str, int] = (
            json.loads(self._file.read_text()) if self._file.exists() else {}
        )
        # Servers started meanwhile (and their helper ports) must not take a remembered port.
        reserve_ports(self._ports.values())

    def remembered(self, name: str) -> int:
        """The port of a server that runs."""
        return self._ports[name]

    def remembered_or_none(self, name: str) -> int | None:
        return self._ports.get(name)

    def for_start(self, name: str) -> int:
        """The port for a server about to start: its remembered one when free; the first
        time (or when another program took it) the preferred one when `fixed` and free,
        else any free port, remembered from then on."""
        remembered = self._ports.get(name)
        if remembered is not None and port_is_free(remembered):
            return remembered
        preferred = PREFERRED_PORTS[name]
        port = preferred if self._fixed and port_is_free(preferred) else free_port()
        if remembered is not None:
            print(
                f"port {remembered} of {name} is taken by another program; {name} moves to "
                f"{port} (URLs and kubeconfigs naming {remembered} stop working)",
                file=sys.stderr,
            )
        self._ports[name] = port
        self._file.write_text(json.dumps(self._ports, indent=2))
        return port


def _database(state: Path, database: str | None) -> str:
    """The catalog: the one asked for, else `LIFEBOAT_DATABASE_URL`, else PostgreSQL's
    `lifeboat` database when reachable, else SQLite in the state directory."""
    database = database or os.environ.get("LIFEBOAT_DATABASE_URL")
    if database:
        return database
    if postgres.reachable():
        return postgres.ensure_database("lifeboat")
    return f"sqlite:///{state / 'lifeboat.db'}"


def _refuse_a_foreign_catalog(database_url: str, secret_key: str, state: Path) -> None:
    """Stop, saying what to do, when the catalog holds secrets this state's key does not
    decrypt: the catalog of another dev stack (another state directory, or one removed while
    the database stayed). Its clusters would never sync."""
    engine = sqlalchemy.create_engine(sync_url(database_url))
    try:
        with engine.connect() as connection:
            if not sqlalchemy.inspect(connection).has_table("clusters"):
                return  # a new catalog
            stored = connection.execute(
                sqlalchemy.text("select kubeconfig_ciphertext from clusters limit 1")
            ).scalar()
    finally:
        engine.dispose()
    if stored is None:
        return
    try:
        SecretBox(secret_key).decrypt(stored)
    except SecretDecryptError:
        shown = make_url(database_url).render_as_string(hide_password=True)
        raise SystemExit(
            f"the catalog in {shown} holds secrets that {state / 'secret-key'} does not "
            "decrypt: another dev stack made it. Use that stack's state directory "
            "(LIFEBOAT_STATE_DIR), set LIFEBOAT_DATABASE_URL to another database, or run "
            "`make clean` to remove the dev catalog and the state and start over"
        ) from None


def clean(state: Path) -> None:
    """Stop the stack and remove its state and, unless LIFEBOAT_DATABASE_URL names one, the
    dev catalog database that goes with it (its secrets are sealed with the state's key)."""
    down(state)
    if not os.environ.get("LIFEBOAT_DATABASE_URL") and postgres.reachable():
        postgres.drop_database("lifeboat")
    shutil.rmtree(state, ignore_errors=True)


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
    database_url = _database(state, database_url)
    # Before anything starts: a catalog another stack's key sealed stops `up` at once.
    _refuse_a_foreign_catalog(database_url, _secret_key(state), state)
    ports = _Ports(state, fixed=fixed_ports)
    temporal = running_temporal(state / "temporal") or start_temporal(
        state / "temporal", port=ports.for_start("temporal"), ui_port=ports.for_start("temporal_ui")
    )
    s3 = running_s3(state / "s3") or start_s3(state / "s3", port=ports.for_start("s3"))
    kube = running_kube(state / "kube")
    if kube is None:
        stop_kube(state / "kube")  # what is left of a half-running cluster holds its port
        kube = start_kube(state / "kube", port=ports.for_start("kube"))
    api = ManagedProcess("api", state / "api")
    api_port = ports.for_start("api") if api.pid() is None else ports.remembered("api")
    # The provider knows the console (served by the api) as a client: its URL goes first.
    oidc = running_oidc(state / "oidc") or start_oidc(
        state / "oidc", port=ports.for_start("oidc"), console_url=f"http://{HOST}:{api_port}"
    )
    aws = (running_aws(state / "aws") or start_aws(state / "aws")) if local_aws else None
    # The test doubles for what the test cluster lacks: a node to exec into, a CSI driver.
    start_kubelet(state / "kubelet", kube.kubeconfig)
    running_csi(state / "csi") or start_csi(state / "csi", kube.kubeconfig)
    worker = ManagedProcess("worker", state / "worker")
    # A worker started before the metrics port existed has none remembered: it serves none.
    metrics_port = (
        ports.for_start("worker_metrics")
        if worker.pid() is None
        else ports.remembered_or_none("worker_metrics")
    )
    stack = Stack(
        state=str(state),
        database_url=database_url,
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
        api_url=f"http://{HOST}:{api_port}",
        secret_key=_secret_key(state),
        aws_endpoint=aws.endpoint if aws else "",
        worker_metrics_url=f"http://{HOST}:{metrics_port}/metrics" if metrics_port else "",
    )
    upgrade(stack.database_url)
    env = {**stack.settings_env(), "PYTHONPATH": str(REPO_ROOT)}
    bin_dir = str(Path(sys.executable).parent)
    env["PATH"] = f"{bin_dir}:{os.environ.get('PATH', '')}"
    if api.pid() is None:
        api.start(
            [sys.executable, "-m", "uvicorn", "--factory", "api.app:create_app",
             "--host", HOST, "--port", str(api_port), "--no-access-log",
             # Answers an oversized request head with 431 instead of resetting the connection.
             "--http", "api.app:BoundedH11Protocol",
             # Longer than a load balancer's idle timeout (60 s), so the server never closes
             # a kept-alive connection just as a client reuses it.
             "--timeout-keep-alive", "75"],
            env=env,
            healthy=lambda: http_ok(f"{stack.api_url}/healthz"),
        )  # fmt: skip
    if worker.pid() is None:
        offset = worker.log_file.stat().st_size if worker.log_file.exists() else 0
        worker.start(
            [sys.executable, "-m", "worker.main"],
            env={**env, "LIFEBOAT_WORKER_METRICS_PORT": str(metrics_port)},
            healthy=lambda: WORKER_READY in _read_from(worker.log_file, offset),
        )
    (state / "stack.json").write_text(json.dumps(asdict(stack), indent=2))
    return stack


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
  Console       {stack.api_url}/   (sign in as a seeded user below)
  API docs      {stack.api_url}/docs
  API           {stack.api_url}/api/v1   (health: {stack.api_url}/healthz)
  Metrics       {stack.api_url}/metrics   (worker: {stack.worker_metrics_url or "not served"})
  Temporal UI   {stack.temporal_ui}   (gRPC {stack.temporal_address})
  S3            {stack.s3_endpoint}   (access key {stack.s3_access_key})
  Kubernetes    {stack.kube_server}   (kubeconfig {stack.kubeconfig})
  OIDC issuer   {stack.oidc_issuer}   (client {CLIENT_ID})
  Catalog       {stack.database_url}
  Seeded users:
{users}"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="deploy.local.stack", description=__doc__.split("\n")[0])
    parser.add_argument("command", choices=["up", "down", "status", "clean"])
    parser.add_argument(
        "--state", type=Path, default=Path(os.environ.get("LIFEBOAT_STATE_DIR", DEFAULT_STATE))
    )
    args = parser.parse_args(argv)
    state = args.state.resolve()
    if args.command == "down":
        down(state)
        print(f"stopped the dev stack in {state} (data kept)")
        return 0
    if args.command == "clean":
        clean(state)
        print(f"removed the dev stack in {state} and its catalog")
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
