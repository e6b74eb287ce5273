"""Azurite (npm `azurite`, pinned by the package-lock.json beside this file): the Azure Storage
emulator the Azure Blob location tests run against.

Installed once per lock file with `npm ci` into `~/.cache/lifeboat/azurite-<digest>` (never into
the repository), then started on a free port: the blob service only, in memory, with an account
and key of its own.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from deploy.local.servers.procs import HOST, ManagedProcess, free_port, tcp_open

HERE = Path(__file__).resolve().parent
PINNED = ("package.json", "package-lock.json", ".npmrc")
ACCOUNT = "lifeboattests"


@dataclass(frozen=True)
class AzuriteServer:
    endpoint: str  # http://127.0.0.1:port; the account follows it (path-style)
    account_name: str
    account_key: str = field(repr=False)


def installed() -> Path:
    """`azurite-blob`, installed from the lock file when not yet in the cache."""
    digest = hashlib.sha256(b"".join((HERE / name).read_bytes() for name in PINNED)).hexdigest()
    home = Path.home() / ".cache" / "lifeboat" / f"azurite-{digest[:12]}"
    binary = home / "node_modules" / ".bin" / "azurite-blob"
    if not binary.exists():
        home.mkdir(parents=True, exist_ok=True)
        for name in PINNED:
            shutil.copy(HERE / name, home / name)
        subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=home,
            check=True,
            timeout=600,
        )
    return binary


def start_azurite(home: Path) -> AzuriteServer:
    """Start Azurite's blob service on a free port with a fresh account."""
    binary = installed()
    port = free_port()
    key = base64.b64encode(secrets.token_bytes(64)).decode()
    cmd = [
        str(binary), "--blobHost", HOST, "--blobPort", str(port), "--inMemoryPersistence",
        "--silent", "--skipApiVersionCheck", "--disableTelemetry",
    ]  # fmt: skip
    ManagedProcess("azurite", home).start(
        cmd,
        env={"AZURITE_ACCOUNTS": f"{ACCOUNT}:{key}"},
        healthy=lambda: tcp_open(port),
        timeout=120,
    )
    return AzuriteServer(f"http://{HOST}:{port}", ACCOUNT, key)


@contextlib.contextmanager
def running_azurite(home: Path) -> Iterator[AzuriteServer]:
    """Azurite, started in `home` and stopped (by its PID) when done."""
    server = start_azurite(home)
    try:
        yield server
    finally:
        ManagedProcess("azurite", home).stop()
