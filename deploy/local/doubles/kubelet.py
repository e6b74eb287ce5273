"""The dev cluster's fake node: an exec endpoint (see `kubelet_server`) and its Node object.

The test cluster has no kubelet, so pods never run and `pods/exec` has nowhere to go. This
starts a small HTTPS process that plays a kubelet's exec endpoint and registers it as the Node
`lifeboat-node` (InternalIP 127.0.0.1, its port as the kubelet endpoint, Ready). Pods bound to
that node (`run_pod`) can then be exec'd into through the real API server: commands run as
local processes in home/pods/<namespace>/<pod>/<container>/, and home/exec-log.jsonl records
each one.

With it runs the pod runner (`deploy.local.doubles.pod_runner`): the scheduler and kubelet for the
pods of the data mover's Jobs, which it binds to the node, runs as local processes and reports
on through the API server; home/pod-runs.jsonl records each (`pod_runs`). Other pods are
left alone.

    home/pid, home/log        the server process (ManagedProcess "kubelet")
    home/tls.crt, tls.key     its self-signed certificate, reused on restart
    home/pods/                the containers' working directories (and the runner's logs)
    home/exec-log.jsonl       one JSON line per finished exec
    home/pod-runner/          the pod runner's process (ManagedProcess "pod-runner")
    home/pod-runs.jsonl       one JSON line per container the pod runner ran
    home/node.json            what the running node answers at
"""

from __future__ import annotations

import datetime
import json
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from deploy.local.doubles.kubelet_server import (
    EXEC_LOG_FILE,
    NODE_NAME,
    PODS_DIR,
    ExecRecord,
    container_dir,
)
from deploy.local.doubles.pod_runner import READY_FILE, RUNNER_DIR, RUNS_FILE, PodRun
from deploy.local.servers.procs import HOST, ManagedProcess, StartError, free_port, http_ok

_NAME = "kubelet"
_POD_RUNNER = "pod-runner"
_INFO_FILE = "node.json"
# The server is started as `python -m deploy.local.doubles.kubelet_server` from the state directory.
_REPO_ROOT = Path(__file__).resolve().parents[3]
START_TIMEOUT = 30.0
# Pods never run, so the image is never pulled; it only has to be a valid reference.
PLACEHOLDER_IMAGE = "lifeboat-exec-double:never-pulled"
# A new namespace gets its `default` service account from the controller manager a moment
# later; pod admission refuses pods until then.
SERVICE_ACCOUNT_WAIT = 30.0


@dataclass(frozen=True)
class FakeNode:
    """The Node the exec double plays: its name, its kubelet port, where containers live."""

    name: str
    port: int
    pods_dir: Path

    def container_dir(self, namespace: str, pod: str, container: str) -> Path:
        """Where a container's exec commands run (their POD_DIR); it may not exist yet."""
        return container_dir(self.pods_dir, namespace, pod, container)


def start_kubelet(home: Path, kubeconfig: Path, *, port: int | None = None) -> FakeNode:
    """Start the exec double under home and register it as Node `lifeboat-node`.

    Registering is idempotent: the Node is created when missing, else its status is updated
    to this port. When the double already runs (on `port`, if given) it is only registered
    again, so the same call also points a fresh cluster at it.
    """
    home = home.resolve()
    node = running_kubelet(home)
    if node is not None and port is not None and node.port != port:
        raise StartError(
            f"the kubelet double from {home} already runs on port {node.port}, not {port}; "
            "stop it first (stop_kubelet) or start it without a port"
        )
    started = node is None
    if node is None:
        node = FakeNode(NODE_NAME, port or free_port(), home / PODS_DIR)
        cmd = [
            sys.executable, "-m", "deploy.local.doubles.kubelet_server",
            "--home", str(home), "--port", str(node.port),
        ]  # fmt: skip
        url = f"https://{HOST}:{node.port}/healthz"
        ManagedProcess(_NAME, home).start(
            cmd,
            env={"PYTHONPATH": str(_REPO_ROOT)},
            healthy=lambda: http_ok(url, insecure_tls=True),
            timeout=START_TIMEOUT,
        )
        info = {**asdict(node), "pods_dir": str(node.pods_dir)}
        (home / _INFO_FILE).write_text(json.dumps(info) + "\n")
    try:
        register_node(kubeconfig, node.port)
        _start_pod_runner(home, kubeconfig)
    except BaseException:
        # A double we just started is of no use unregistered; one that already ran stays.
        if started:
            stop_kubelet(home)
        raise
    return node


def _start_pod_runner(home: Path, kubeconfig: Path) -> None:
    """Start the pod runner for the node under home, unless it runs already."""
    process = ManagedProcess(_POD_RUNNER, home / RUNNER_DIR)
    if process.pid() is not None:
        return
    ready = home / RUNNER_DIR / READY_FILE
    # A marker left by a killed runner must not pass for the new one's.
    ready.unlink(missing_ok=True)
    cmd = [
        sys.executable, "-m", "deploy.local.doubles.pod_runner",
        "--home", str(home), "--kubeconfig", str(kubeconfig.resolve()),
        "--workdir", str(_REPO_ROOT),
    ]  # fmt: skip

    def healthy() -> bool:
        try:
            return ready.read_text().strip() == str(process.pid())
        except OSError:
            return False

    process.start(cmd, env={"PYTHONPATH": str(_REPO_ROOT)}, healthy=healthy, timeout=START_TIMEOUT)


def running_kubelet(home: Path) -> FakeNode | None:
    """The double started from home when it still runs, else None."""
    home = home.resolve()
    if ManagedProcess(_NAME, home).pid() is None:
        return None
    try:
        info = json.loads((home / _INFO_FILE).read_text())
        return FakeNode(str(info["name"]), int(info["port"]), Path(info["pods_dir"]))
    except (OSError, ValueError, KeyError):
        return None


def stop_kubelet(home: Path) -> None:
    """Stop the double and its pod runner started from home; they kill every exec and
    container still running first (the runner reports their pods Failed).

    The Node object stays: with no node lifecycle controller nothing would mark it NotReady,
    and the next start updates it.
    """
    home = home.resolve()
    ManagedProcess(_POD_RUNNER, home / RUNNER_DIR).stop()
    ManagedProcess(_NAME, home).stop()
    (home / _INFO_FILE).unlink(missing_ok=True)


def exec_records(home: Path) -> list[ExecRecord]:
    """What ran through the double started from home, one record per finished exec, in order."""
    return _json_lines(home / EXEC_LOG_FILE)


def pod_runs(home: Path) -> list[PodRun]:
    """The containers the pod runner under home ran, one record per ended container, in order."""
    return _json_lines(home / RUNS_FILE)


def _json_lines(path: Path) -> list[Any]:
    try:
        lines = path.read_text().splitlines()
    except FileNotFoundError:
        return []
    return [json.loads(line) for line in lines if line]


def register_node(kubeconfig: Path, port: int) -> None:
    """Create Node `lifeboat-node` when missing and point its status at 127.0.0.1:port."""
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    status = {
        "status": {
            # Only an InternalIP: the API server prefers a Hostname address, which would not
            # resolve.
            "addresses": [{"type": "InternalIP", "address": HOST}],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": port}},
            "conditions": [
                {
                    "type": "Ready",
                    "status": "True",
                    "reason": "KubeletReady",
                    "message": "the Lifeboat exec test double is serving",
                    "lastHeartbeatTime": now,
                    "lastTransitionTime": now,
                }
            ],
        }
    }
    with _api(kubeconfig) as api:
        core = client.CoreV1Api(api)
        node = client.V1Node(
            metadata=client.V1ObjectMeta(
                name=NODE_NAME,
                labels={"kubernetes.io/hostname": NODE_NAME, "kubernetes.io/os": "linux"},
            )
        )
        try:
            core.create_node(node)
        except ApiException as error:
            if error.status != 409:
                raise
        # Status is a subresource: creating a Node drops it. A strategic merge keeps the patch
        # idempotent (lists merge by `type`) and needs no resourceVersion.
        core.patch_node_status(
            NODE_NAME, status, _content_type="application/strategic-merge-patch+json"
        )


def run_pod(
    kubeconfig: Path,
    namespace: str,
    name: str,
    *,
    labels: Mapping[str, str],
    containers: Sequence[str] = ("app",),
) -> None:
    """Create a Pod bound to the fake node, so `pods/exec` into its containers reaches the double.

    The namespace is created when missing. The Pod never runs (its status stays Pending, which
    exec does not check); it fails with the API's conflict error when it already exists.
    """
    pod = client.V1Pod(
        metadata=client.V1ObjectMeta(name=name, namespace=namespace, labels=dict(labels)),
        spec=client.V1PodSpec(
            node_name=NODE_NAME,
            # No token volume: the pod never runs, and mounting one would need the token
            # controller to have created the service account's secret first.
            automount_service_account_token=False,
            containers=[client.V1Container(name=c, image=PLACEHOLDER_IMAGE) for c in containers],
        ),
    )
    with _api(kubeconfig) as api:
        core = client.CoreV1Api(api)
        try:
            core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=namespace)))
        except ApiException as error:
            if error.status != 409:
                raise
        deadline = time.monotonic() + SERVICE_ACCOUNT_WAIT
        while True:
            try:
                core.create_namespaced_pod(namespace, pod)
                return
            except ApiException as error:
                waiting = error.status == 403 and "service account" in str(error.body)
                if not waiting or time.monotonic() > deadline:
                    raise
            time.sleep(0.1)


def _api(kubeconfig: Path) -> client.ApiClient:
    api: client.ApiClient = config.new_client_from_config(config_file=str(kubeconfig))
    return api
