"""Exec through the real API server reaches the kubelet double and behaves like a kubelet's.

Every exec goes the way Lifeboat's will: the official Python client, a `pods/exec` websocket
to kube-apiserver, relayed to the fake node's endpoint.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from kubernetes import client, config
from kubernetes.stream import stream
from kubernetes.stream.ws_client import WSClient

from deploy.local.doubles.kubelet import (
    FakeNode,
    exec_records,
    run_pod,
    running_kubelet,
    start_kubelet,
    stop_kubelet,
)
from deploy.local.doubles.kubelet_server import CERT_FILE, ExecRecord
from deploy.local.servers.kube import KubeCluster, start_kube, stop_kube
from deploy.local.servers.procs import ManagedProcess, pid_alive, tcp_open

NAMESPACE, POD = "shop", "db"
T = TypeVar("T")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KubeCluster]:
    home = tmp_path_factory.mktemp("kube")
    try:
        yield start_kube(home)
    finally:
        stop_kube(home)


@pytest.fixture(scope="module")
def kubelet_home(cluster: KubeCluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    home = tmp_path_factory.mktemp("kubelet")
    started = time.monotonic()
    start_kubelet(home, cluster.kubeconfig)
    print(f"start_kubelet took {time.monotonic() - started:.2f}s")
    run_pod(
        cluster.kubeconfig,
        NAMESPACE,
        POD,
        labels={"app": "db"},
        containers=("app", "sidecar"),
    )
    try:
        yield home
    finally:
        stop_kubelet(home)


@pytest.fixture(scope="module")
def core(cluster: KubeCluster) -> Iterator[client.CoreV1Api]:
    api = config.new_client_from_config(config_file=str(cluster.kubeconfig))
    with api:
        yield client.CoreV1Api(api)


def _node(home: Path) -> FakeNode:
    node = running_kubelet(home)
    assert node is not None
    return node


def _run(core: client.CoreV1Api, command: list[str], container: str = "app") -> str:
    """Exec to the end and return stdout and stderr, as the client's default mode does."""
    output: str = stream(
        core.connect_get_namespaced_pod_exec,
        POD,
        NAMESPACE,
        command=command,
        container=container,
        stdin=False,
        stdout=True,
        stderr=True,
        tty=False,
    )
    return output


def _open(
    core: client.CoreV1Api, command: list[str], *, stdin: bool = False, container: str = "app"
) -> WSClient:
    """Start an exec and return its live websocket client."""
    ws: WSClient = stream(
        core.connect_get_namespaced_pod_exec,
        POD,
        NAMESPACE,
        command=command,
        container=container,
        stdin=stdin,
        stdout=True,
        stderr=True,
        tty=False,
        _preload_content=False,
    )
    return ws


def _finish(ws: WSClient) -> int:
    ws.run_forever(timeout=10)
    assert not ws.is_open(), "the exec did not end within 10s"
    code: int = ws.returncode
    return code


def _wait_for(what: str, check: Callable[[], T | None], timeout: float = 10.0) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"{what} did not happen within {timeout:.0f}s")


def _records(home: Path, command: list[str]) -> list[ExecRecord]:
    return [r for r in exec_records(home) if r["command"] == command]


def _pid_in(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def test_output_exit_codes_and_stderr(core: client.CoreV1Api, kubelet_home: Path) -> None:
    assert _run(core, ["echo", "hello from the pod"]) == "hello from the pod\n"

    assert _finish(_open(core, ["true"])) == 0
    assert _finish(_open(core, ["sh", "-c", "exit 3"])) == 3

    both = ["sh", "-c", "echo to-stdout; echo to-stderr >&2"]
    ws = _open(core, both)
    assert _finish(ws) == 0
    assert ws.read_stdout() == "to-stdout\n"
    assert ws.read_stderr() == "to-stderr\n"

    # A missing command fails like a container runtime's: message on stderr, code 127.
    ws = _open(core, ["no-such-command-anywhere"])
    assert _finish(ws) == 127
    assert "no-such-command-anywhere" in ws.read_stderr()

    expected = {
        ("echo", "hello from the pod"): 0,
        ("true",): 0,
        ("sh", "-c", "exit 3"): 3,
        tuple(both): 0,
        ("no-such-command-anywhere",): 127,
    }
    for command, code in expected.items():
        records = _records(kubelet_home, list(command))
        assert len(records) == 1, f"{command} ran {len(records)} times"
        assert records[0]["exit_code"] == code
        assert records[0]["ended"] == "exited"
        assert (records[0]["namespace"], records[0]["pod"]) == (NAMESPACE, POD)


def test_commands_run_in_their_containers_directory(
    core: client.CoreV1Api, kubelet_home: Path
) -> None:
    node = _node(kubelet_home)
    assert _run(core, ["sh", "-c", "echo frozen > state"]) == ""
    assert (node.container_dir(NAMESPACE, POD, "app") / "state").read_text() == "frozen\n"

    who = 'echo "$POD_NAMESPACE/$POD_NAME/$CONTAINER_NAME" > who; echo "$POD_DIR"; pwd'
    sidecar_dir = node.container_dir(NAMESPACE, POD, "sidecar")
    assert _run(core, ["sh", "-c", who], container="sidecar") == f"{sidecar_dir}\n" * 2
    assert (sidecar_dir / "who").read_text() == f"{NAMESPACE}/{POD}/sidecar\n"
    assert not (node.container_dir(NAMESPACE, POD, "app") / "who").exists()


def test_stdin_is_delivered_and_closing_it_releases_a_hold(
    core: client.CoreV1Api, kubelet_home: Path
) -> None:
    command = ["sh", "-c", "echo holding; cat; echo released"]
    ws = _open(core, command, stdin=True)
    # v5 is what lets the client close stdin; the API server relays its choice unchanged.
    assert ws.subprotocol == "v5.channel.k8s.io"
    assert ws.readline_stdout(timeout=5) == "holding"
    ws.write_stdin("lock table\n")
    assert ws.readline_stdout(timeout=5) == "lock table"

    # While stdin stays open the command holds, as a database lock must until the snapshot.
    ws.update(timeout=1)
    assert ws.is_open() and ws.returncode is None

    ws.close_channel(0)
    assert _finish(ws) == 0
    assert ws.read_stdout() == "released\n"
    assert [r["ended"] for r in _records(kubelet_home, command)] == ["exited"]


def test_hanging_up_kills_a_held_command(core: client.CoreV1Api, kubelet_home: Path) -> None:
    pid_file = _node(kubelet_home).container_dir(NAMESPACE, POD, "app") / "hold.pid"
    pid_file.unlink(missing_ok=True)
    # `exec` makes the recorded PID the sleep itself.
    command = ["sh", "-c", "echo $$ > hold.pid; exec sleep 30"]
    ws = _open(core, command, stdin=True)
    pid = _wait_for("the held command to start", lambda: _pid_in(pid_file))
    ws.update(timeout=1)
    assert ws.is_open() and pid_alive(pid)

    hung_up = time.monotonic()
    ws.close()
    _wait_for("the held command to die", lambda: not pid_alive(pid), timeout=5)
    print(f"killed {time.monotonic() - hung_up:.2f}s after the client hung up")
    records = _wait_for("the exec record", lambda: _records(kubelet_home, command))
    assert [(r["ended"], r["exit_code"]) for r in records] == [("disconnected", 143)]


def test_stop_leaves_no_process_and_start_again_works(
    cluster: KubeCluster, core: client.CoreV1Api, kubelet_home: Path
) -> None:
    node = _node(kubelet_home)
    server_pid = ManagedProcess("kubelet", kubelet_home).pid()
    assert server_pid is not None
    certificate = (kubelet_home / CERT_FILE).read_bytes()
    pid_file = node.container_dir(NAMESPACE, POD, "app") / "stop.pid"
    command = ["sh", "-c", "echo $$ > stop.pid; exec sleep 30"]
    ws = _open(core, command, stdin=True)
    exec_pid = _wait_for("the held command to start", lambda: _pid_in(pid_file))

    stopping = time.monotonic()
    stop_kubelet(kubelet_home)
    print(f"stop_kubelet took {time.monotonic() - stopping:.2f}s")

    assert not pid_alive(server_pid) and not pid_alive(exec_pid)
    assert not tcp_open(node.port)
    assert running_kubelet(kubelet_home) is None
    assert [r["ended"] for r in _records(kubelet_home, command)] == ["shutdown"]
    ws.run_forever(timeout=5)
    assert not ws.is_open()

    started = time.monotonic()
    again = start_kubelet(kubelet_home, cluster.kubeconfig)
    print(f"second start_kubelet took {time.monotonic() - started:.2f}s")
    assert again.port != node.port
    status: Any = core.read_node_status(again.name).status
    assert status.daemon_endpoints.kubelet_endpoint.port == again.port
    assert [(a.type, a.address) for a in status.addresses] == [("InternalIP", "127.0.0.1")]
    assert [(c.type, c.status) for c in status.conditions] == [("Ready", "True")]
    assert (kubelet_home / CERT_FILE).read_bytes() == certificate
    # The old port is closed, so this answer came through the newly advertised one.
    assert _run(core, ["echo", "back"]) == "back\n"
