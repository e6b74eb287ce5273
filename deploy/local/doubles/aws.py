"""A local AWS API for the tests: moto's server mode (PyPI `moto[server]`), on 127.0.0.1.

moto answers the AWS APIs from memory (EKS among them) and checks no signatures: a stand-in
for listing and describing EKS clusters, nothing more; the clusters it describes have no API
server behind their endpoints. `make up` does not start it; the test stack does, and points
the worker at it through `LIFEBOAT_AWS_ENDPOINT_URL`.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from importlib.metadata import version
from pathlib import Path

from deploy.local.servers.procs import HOST, ManagedProcess, free_port, http_ok, installed_binary


@dataclass(frozen=True)
class AwsServer:
    endpoint: str  # http://127.0.0.1:port
    version: str


def start_aws(home: Path, *, port: int | None = None) -> AwsServer:
    """Start moto's server on `port` (a free one when None)."""
    binary = installed_binary("moto_server", "moto[server]")
    port = port or free_port()
    endpoint = f"http://{HOST}:{port}"
    ManagedProcess("aws", home).start(
        [binary, "--host", HOST, "--port", str(port)],
        healthy=lambda: http_ok(f"{endpoint}/moto-api/"),
    )
    server = AwsServer(endpoint, f"moto {version('moto')}")
    (home / "info.json").write_text(json.dumps(asdict(server)))
    return server


def running_aws(home: Path) -> AwsServer | None:
    if ManagedProcess("aws", home).pid() is None:
        return None
    return AwsServer(**json.loads((home / "info.json").read_text()))


def stop_aws(home: Path) -> None:
    ManagedProcess("aws", home).stop()
