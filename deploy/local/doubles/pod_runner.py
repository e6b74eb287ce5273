"""Run the pods of the data mover's Jobs on the dev cluster's fake node (test-only).

    python -m deploy.local.doubles.pod_runner --home DIR --kubeconfig K [--selector S] [--workdir W]

The test cluster has no scheduler and no kubelet, so the pods of a Job stay Pending forever.
This process plays both, for the pods matching a label selector only (by default the data
mover's, `app.kubernetes.io/name=lifeboat-mover`), through the real API server, so that the
real Job controller (in kube-controller-manager) sees them run, succeed or fail:

1. An unscheduled pod (no `spec.nodeName`) whose volumes and environment can be resolved is
   bound to Node `lifeboat-node` through its `binding` subresource, as a scheduler binds.
   Until then it stays Pending, its container waiting with the reason (a claim not bound
   yet, a Secret missing: `CreateContainerConfigError`), and each pass tries again.
2. Its one container's `command` + `args` run as a local process, in W (the repository root)
   with this interpreter for a first word `python` or `python3` (so `python -m
   activities.mover` is the repository's code in its .venv). The environment is the spec's
   (`value`, `valueFrom` a Secret or ConfigMap key or the pod's name or namespace, `envFrom`
   Secrets and ConfigMaps, all read through the API; no `$(VAR)` expansion), plus PATH,
   HOME (the container's directory), HOSTNAME and LANG.
3. Paths. A container sees its volumes at their `mountPath`; a local process cannot, so
   every argument and environment value that is a mountPath, or a path under one, is
   rewritten to the volume's host directory: for a PersistentVolumeClaim the `hostPath` of
   its bound PersistentVolume (the directory the hostpath CSI double provisioned), for an
   emptyDir a directory of the pod's. The container's `terminationMessagePath` (by default
   /dev/termination-log) is rewritten the same way to a file of its own. Other volume types
   are not supported (the pod waits, saying so); read-only mounts are not enforced.
4. Its status goes through the `status` subresource, as a kubelet reports it: Running, then
   Succeeded or Failed with `containerStatuses[0].state.terminated` {exitCode, reason
   `Completed` or `Error`, message}: the termination message file (at most 4096 bytes), or,
   with `terminationMessagePolicy: FallbackToLogsOnError`, the log's tail when the file is
   empty and the container failed.
5. A pod deleted while it runs (its Job deleted or past its deadline) gets its process
   stopped (SIGTERM, then SIGKILL after the pod's grace period) and is then deleted with
   grace period 0, as a kubelet confirms a pod's end. On SIGTERM the runner stops its
   processes and reports their pods Failed.

Pods that do not match the selector, or that are bound to a node already, are left alone: the
exec-only pods of `deploy.local.doubles.kubelet.run_pod`, a Deployment's replicas. Like the CSI
double, it polls rather than watches and rebuilds its client after a failed pass, so it rides
through API server restarts. Files in DIR (the kubelet double's home, which serves the logs):

    DIR/pods/<ns>/<pod>/<container>/container.log    stdout and stderr (`kubectl logs`)
    DIR/pods/<ns>/<pod>/<container>/termination-log  the termination message file
    DIR/pod-runs.jsonl     one JSON line per container that ended (`PodRun`): the pod's spec
                           as the API server gave it, the command as run, how it ended
    DIR/pod-runner/        the process's pid, log and ready marker
"""

from __future__ import annotations

import argparse
import base64
import datetime
import json
import logging
import os
import subprocess
import sys
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TypedDict
from urllib.parse import quote

from kubernetes.client.exceptions import ApiException

from deploy.local.doubles.kube_json import Kube, Obj
from deploy.local.doubles.kubelet_server import CONTAINER_LOG, NODE_NAME, PODS_DIR, container_dir
from deploy.local.doubles.main_loop import run_controller, start_process

DEFAULT_SELECTOR = "app.kubernetes.io/name=lifeboat-mover"
RUNNER_DIR = "pod-runner"
RUNS_FILE = "pod-runs.jsonl"
READY_FILE = "ready"
TERMINATION_FILE = "termination-log"
DEFAULT_TERMINATION_PATH = "/dev/termination-log"
# What a kubelet keeps of a termination message, and of the log tail it falls back to.
MESSAGE_LIMIT = 4096
FALLBACK_LINES, FALLBACK_BYTES = 80, 2048
# A deleted pod's process gets its grace period to end, at most this long here.
MAX_GRACE = 10.0
REPO_ROOT = Path(__file__).resolve().parents[3]
USER_AGENT = "lifeboat-pod-runner"
_CORE = "/api/v1"

log = logging.getLogger("lifeboat.pod-runner")


class PodRun(TypedDict):
    """One line of pod-runs.jsonl: a container the runner ran, and how it ended."""

    namespace: str
    pod: str
    uid: str
    labels: dict[str, str]
    # The pod's controller, `Job/<name>`, or "" when it has none.
    owner: str
    # The pod's spec as the API server gave it: what any reader of the cluster could see.
    spec: Obj
    # The argv as run, paths rewritten.
    command: list[str]
    exit_code: int
    reason: str
    message: str
    started: str
    finished: str
    # exited: the command ended by itself; deleted: its pod was deleted while it ran;
    # stopped: the runner stopped while it ran.
    ended: str


class NotReady(Exception):
    """The pod cannot start yet; `reason` is the container's waiting reason."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass
class Running:
    """A container the runner started: its pod, process, log and termination message file."""

    pod: Obj
    process: subprocess.Popen[bytes]
    command: list[str]
    log_file: IO[bytes]
    directory: Path
    started: str

    @property
    def meta(self) -> Obj:
        meta: Obj = self.pod["metadata"]
        return meta

    @property
    def container(self) -> Obj:
        container: Obj = self.pod["spec"]["containers"][0]
        return container

    @property
    def termination_file(self) -> Path:
        return self.directory / TERMINATION_FILE


class PodRunner:
    """Scheduler and kubelet for the selected pods, one pass at a time."""

    def __init__(self, home: Path, kube: Kube, selector: str, workdir: Path) -> None:
        self.home = home
        self.kube = kube
        self.selector = selector
        self.workdir = workdir
        self.running: dict[str, Running] = {}
        # The waiting message last reported per pod uid, so a lasting one is written once.
        self.waiting: dict[str, str] = {}

    def reconcile(self) -> None:
        """Follow the pods running here; start the selected unscheduled ones."""
        pods = self.kube.list(f"{_CORE}/pods?labelSelector={quote(self.selector)}")
        by_uid = {pod["metadata"]["uid"]: pod for pod in pods}
        for uid, run in list(self.running.items()):
            pod = by_uid.get(uid)
            if pod is None:
                # Deleted with grace period 0 (a namespace's end, say): nobody waits for it.
                self._stop(run, grace=0.0)
                self._record(run, self._ended(run), "deleted")
                del self.running[uid]
            elif pod["metadata"].get("deletionTimestamp"):
                grace = float(pod["metadata"].get("deletionGracePeriodSeconds") or 0)
                self._stop(run, grace=min(grace, MAX_GRACE))
                self._delete(run.meta)
                self._record(run, self._ended(run), "deleted")
                del self.running[uid]
            elif run.process.poll() is not None:
                terminated = self._ended(run)
                self._report_end(run, terminated)
                self._record(run, terminated, "exited")
                del self.running[uid]
        for pod in pods:
            meta, spec = pod["metadata"], pod["spec"]
            if spec.get("nodeName") or meta.get("deletionTimestamp"):
                continue
            try:
                self._start(pod)
            except NotReady as waiting:
                self._report_waiting(pod, waiting)
        self.waiting = {uid: m for uid, m in self.waiting.items() if uid in by_uid}

    def stop_all(self) -> None:
        """Stop every process and report its pod Failed (the runner is going away)."""
        for run in self.running.values():
            self._stop(run, grace=MAX_GRACE)
            terminated = self._ended(run, message="the pod runner stopped while it ran")
            try:
                self._report_end(run, terminated)
            except Exception as error:  # the API server may be gone first: best effort
                log.warning("could not report %s: %s", _ref(run.meta), error)
            self._record(run, terminated, "stopped")
        self.running.clear()

    # Starting ------------------------------------------------------------------------------

    def _start(self, pod: Obj) -> None:
        meta, spec = pod["metadata"], pod["spec"]
        containers = spec.get("containers") or []
        if len(containers) != 1 or spec.get("initContainers"):
            raise NotReady("Unsupported", "the pod runner runs pods of one container only")
        container = containers[0]
        argv = [*(container.get("command") or []), *(container.get("args") or [])]
        if not container.get("command"):
            raise NotReady(
                "Unsupported", "the pod runner needs the container's command (no image is run)"
            )
        directory = container_dir(self.home / PODS_DIR, meta["namespace"], meta["name"],
                                  container["name"])  # fmt: skip
        termination_path = container.get("terminationMessagePath") or DEFAULT_TERMINATION_PATH
        paths = {**self._mounts(pod, directory), termination_path: directory / TERMINATION_FILE}
        env = {k: _rewrite(v, paths) for k, v in self._environment(pod, container).items()}
        command = [_rewrite(a, paths) for a in argv]
        if command[0] in ("python", "python3"):
            command[0] = sys.executable
        if not self._bind(meta):
            return
        directory.mkdir(parents=True, exist_ok=True)
        (directory / TERMINATION_FILE).write_bytes(b"")
        log_file = (directory / CONTAINER_LOG).open("ab")
        try:
            process = subprocess.Popen(
                command,
                cwd=self.workdir,
                env={
                    "PATH": os.environ.get("PATH", os.defpath),
                    "HOME": str(directory),
                    "HOSTNAME": meta["name"],
                    "LANG": "C.UTF-8",
                    **env,
                },
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
            )
        except OSError as error:
            log_file.write(f"cannot start {command[0]}: {error}\n".encode())
            log_file.close()
            # What container runtimes report: 127 for a missing command, 126 otherwise.
            code = 127 if isinstance(error, FileNotFoundError) else 126
            failed = _terminated(code, "StartError", str(error), _now(), _now())
            self._patch_status(pod, "Failed", _container_status(container, {"terminated": failed}))
            return
        run = Running(
            pod=pod,
            process=process,
            command=command,
            log_file=log_file,
            directory=directory,
            started=_now(),
        )
        self.running[meta["uid"]] = run
        self.waiting.pop(meta["uid"], None)
        log.info("started %s as PID %d: %s", _ref(meta), process.pid, command)
        running = {"running": {"startedAt": run.started}}
        self._patch_status(pod, "Running", _container_status(container, running, ready=True))

    def _mounts(self, pod: Obj, directory: Path) -> dict[str, Path]:
        """Each of the container's mount paths and the host directory it stands for."""
        meta, spec = pod["metadata"], pod["spec"]
        volumes = {v["name"]: v for v in spec.get("volumes") or []}
        mounts: dict[str, Path] = {}
        for mount in spec["containers"][0].get("volumeMounts") or []:
            volume = volumes.get(mount["name"]) or {}
            if "persistentVolumeClaim" in volume:
                claim = volume["persistentVolumeClaim"]["claimName"]
                host = self._claim_directory(meta["namespace"], claim)
            elif "emptyDir" in volume:
                host = directory.parent / "volumes" / mount["name"]
                host.mkdir(parents=True, exist_ok=True)
            else:
                raise NotReady(
                    "Unsupported",
                    f"volume {mount['name']!r}: the pod runner mounts persistentVolumeClaim "
                    "and emptyDir volumes only",
                )
            sub_path = mount.get("subPath") or ""
            mounts[mount["mountPath"].rstrip("/") or "/"] = host / sub_path if sub_path else host
        return mounts

    def _claim_directory(self, namespace: str, claim: str) -> Path:
        found = self.kube.get(f"{_CORE}/namespaces/{namespace}/persistentvolumeclaims/{claim}")
        if found is None:
            raise NotReady("Unschedulable", f'persistentvolumeclaim "{claim}" not found')
        volume_name = (found.get("spec") or {}).get("volumeName")
        if (found.get("status") or {}).get("phase") != "Bound" or not volume_name:
            raise NotReady("Unschedulable", f'persistentvolumeclaim "{claim}" is not bound yet')
        volume = self.kube.get(f"{_CORE}/persistentvolumes/{volume_name}") or {}
        host_path = ((volume.get("spec") or {}).get("hostPath") or {}).get("path")
        if not host_path:
            raise NotReady(
                "Unsupported", f"volume {volume_name} of claim {claim} is not a hostPath volume"
            )
        return Path(host_path)

    def _environment(self, pod: Obj, container: Obj) -> dict[str, str]:
        """The container's variables as the spec defines them (envFrom first, then env)."""
        namespace = pod["metadata"]["namespace"]
        env: dict[str, str] = {}
        for source in container.get("envFrom") or []:
            prefix = source.get("prefix") or ""
            for kind in ("secretRef", "configMapRef"):
                if kind in source:
                    ref = source[kind]
                    data = self._data(namespace, kind, ref["name"], ref.get("optional", False))
                    env.update({prefix + k: v for k, v in data.items()})
        for variable in container.get("env") or []:
            name, value_from = variable["name"], variable.get("valueFrom")
            if value_from is None:
                env[name] = variable.get("value", "")
                continue
            for kind in ("secretKeyRef", "configMapKeyRef"):
                if kind in value_from:
                    ref = value_from[kind]
                    optional = ref.get("optional", False)
                    data = self._data(namespace, kind, ref["name"], optional)
                    if ref["key"] in data:
                        env[name] = data[ref["key"]]
                    elif not optional:
                        raise NotReady(
                            "CreateContainerConfigError",
                            f"couldn't find key {ref['key']} in {_KINDS[kind]} "
                            f"{namespace}/{ref['name']}",
                        )
            if "fieldRef" in value_from:
                field_path = value_from["fieldRef"]["fieldPath"]
                fields = {
                    "metadata.name": pod["metadata"]["name"],
                    "metadata.namespace": namespace,
                    "metadata.uid": pod["metadata"]["uid"],
                    "spec.nodeName": NODE_NAME,
                }
                if field_path not in fields:
                    raise NotReady("Unsupported", f"fieldRef {field_path} is not supported")
                env[name] = fields[field_path]
        return env

    def _data(self, namespace: str, kind: str, name: str, optional: bool) -> dict[str, str]:
        """A Secret's (decoded) or ConfigMap's data; {} for a missing optional one."""
        plural = "secrets" if kind.startswith("secret") else "configmaps"
        found = self.kube.get(f"{_CORE}/namespaces/{namespace}/{plural}/{name}")
        if found is None:
            if optional:
                return {}
            raise NotReady("CreateContainerConfigError", f'{_KINDS[kind]} "{name}" not found')
        data: dict[str, str] = found.get("data") or {}
        if plural == "secrets":
            return {k: base64.b64decode(v).decode() for k, v in data.items()}
        return data

    def _bind(self, meta: Obj) -> bool:
        """Bind the pod to the fake node; False when it is bound already (or gone)."""
        binding = {
            "apiVersion": "v1",
            "kind": "Binding",
            "metadata": {"name": meta["name"], "namespace": meta["namespace"]},
            "target": {"apiVersion": "v1", "kind": "Node", "name": NODE_NAME},
        }
        try:
            self.kube.create(
                f"{_CORE}/namespaces/{meta['namespace']}/pods/{meta['name']}/binding", binding
            )
        except ApiException as error:
            if error.status in (404, 409):
                return False
            raise
        log.info("bound %s to %s", _ref(meta), NODE_NAME)
        return True

    # Ending --------------------------------------------------------------------------------

    def _stop(self, run: Running, *, grace: float) -> None:
        if run.process.poll() is None:
            run.process.terminate()
            try:
                run.process.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                run.process.kill()
                run.process.wait()

    def _ended(self, run: Running, message: str = "") -> Obj:
        """The container's terminated state once its process has ended."""
        run.log_file.close()
        returncode = run.process.wait()
        code = returncode if returncode >= 0 else 128 - returncode
        try:
            with run.termination_file.open("rb") as file:
                text = file.read(MESSAGE_LIMIT).decode(errors="replace")
        except OSError:
            text = ""
        policy = run.container.get("terminationMessagePolicy") or "File"
        if not text and code != 0 and policy == "FallbackToLogsOnError":
            text = _log_tail(run.directory / CONTAINER_LOG)
        reason = "Completed" if code == 0 else "Error"
        return _terminated(code, reason, message or text, run.started, _now())

    def _report_end(self, run: Running, terminated: Obj) -> None:
        phase = "Succeeded" if terminated["exitCode"] == 0 else "Failed"
        status = _container_status(run.container, {"terminated": terminated})
        self._patch_status(run.pod, phase, status)
        log.info("%s ended with code %d: %s", _ref(run.meta), terminated["exitCode"], phase)

    def _record(self, run: Running, terminated: Obj, ended: str) -> None:
        meta = run.meta
        owner = next(
            (f"{o['kind']}/{o['name']}" for o in meta.get("ownerReferences") or []
             if o.get("controller")),
            "",
        )  # fmt: skip
        record: PodRun = {
            "namespace": meta["namespace"],
            "pod": meta["name"],
            "uid": meta["uid"],
            "labels": meta.get("labels") or {},
            "owner": owner,
            "spec": run.pod["spec"],
            "command": run.command,
            "exit_code": terminated["exitCode"],
            "reason": terminated["reason"],
            "message": terminated.get("message", ""),
            "started": run.started,
            "finished": terminated["finishedAt"],
            "ended": ended,
        }
        with (self.home / RUNS_FILE).open("a") as out:
            out.write(json.dumps(record) + "\n")

    def _delete(self, meta: Obj) -> None:
        try:
            self.kube.request(
                "DELETE",
                f"{_CORE}/namespaces/{meta['namespace']}/pods/{meta['name']}",
                {"apiVersion": "v1", "kind": "DeleteOptions", "gracePeriodSeconds": 0,
                 "preconditions": {"uid": meta["uid"]}},
            )  # fmt: skip
        except ApiException as error:
            if error.status not in (404, 409):
                raise

    # Status --------------------------------------------------------------------------------

    def _report_waiting(self, pod: Obj, waiting: NotReady) -> None:
        meta = pod["metadata"]
        if self.waiting.get(meta["uid"]) == waiting.message:
            return
        self.waiting[meta["uid"]] = waiting.message
        log.info("%s waits: %s: %s", _ref(meta), waiting.reason, waiting.message)
        state = {"waiting": {"reason": waiting.reason, "message": waiting.message}}
        status = _container_status(pod["spec"]["containers"][0], state)
        path = f"{_CORE}/namespaces/{meta['namespace']}/pods/{meta['name']}/status"
        self.kube.patch(path, {"status": {"containerStatuses": [status]}})

    def _patch_status(self, pod: Obj, phase: str, container_status: Obj) -> None:
        meta = pod["metadata"]
        now, ready = _now(), "True" if phase == "Running" else "False"
        conditions = [
            {"type": "PodScheduled", "status": "True", "lastTransitionTime": now},
            {"type": "Initialized", "status": "True", "lastTransitionTime": now},
            {"type": "ContainersReady", "status": ready, "lastTransitionTime": now},
            {"type": "Ready", "status": ready, "lastTransitionTime": now},
        ]
        status = {
            "phase": phase,
            "hostIP": "127.0.0.1",
            "startTime": (pod.get("status") or {}).get("startTime") or now,
            "conditions": conditions,
            "containerStatuses": [container_status],
        }
        path = f"{_CORE}/namespaces/{meta['namespace']}/pods/{meta['name']}/status"
        self.kube.patch(path, {"status": status})


_KINDS = {
    "secretRef": "secret",
    "secretKeyRef": "secret",
    "configMapRef": "configmap",
    "configMapKeyRef": "configmap",
}


def _rewrite(value: str, paths: dict[str, Path]) -> str:
    """A mount path, or a path under one, as the host path it stands for; else unchanged."""
    for inside, host in paths.items():
        if value == inside:
            return str(host)
        if value.startswith(inside.rstrip("/") + "/"):
            return str(host / value[len(inside.rstrip("/")) + 1 :])
    return value


def _container_status(container: Obj, state: Obj, *, ready: bool = False) -> Obj:
    return {
        "name": container["name"],
        "image": container.get("image", ""),
        "imageID": "",
        "ready": ready,
        "started": ready,
        "restartCount": 0,
        "state": state,
    }


def _terminated(code: int, reason: str, message: str, started: str, finished: str) -> Obj:
    terminated: Obj = {
        "exitCode": code,
        "reason": reason,
        "startedAt": started,
        "finishedAt": finished,
    }
    if message:
        terminated["message"] = message
    return terminated


def _log_tail(path: Path) -> str:
    try:
        text = path.read_bytes()[-64 * 1024 :].decode(errors="replace")
    except OSError:
        return ""
    tail = "\n".join(text.splitlines()[-FALLBACK_LINES:])
    return tail.encode()[-FALLBACK_BYTES:].decode(errors="replace")


def _ref(meta: Obj) -> str:
    return f"{meta['namespace']}/{meta['name']}"


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def run(home: Path, kubeconfig: Path, selector: str, workdir: Path, stop: threading.Event) -> None:
    """Reconcile until `stop` is set, then stop the pods' processes and report them Failed."""
    kube = Kube(kubeconfig, USER_AGENT)
    runner = PodRunner(home, kube, selector, workdir)
    try:
        run_controller(runner.reconcile, kube, home / RUNNER_DIR / READY_FILE, stop)
    finally:
        runner.stop_all()


def main(argv: Iterable[str] | None = None) -> None:
    """Parse the command line, handle SIGTERM and SIGINT by stopping the pods, run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--home", type=Path, required=True, help="the kubelet double's home")
    parser.add_argument("--kubeconfig", type=Path, required=True)
    parser.add_argument("--selector", default=DEFAULT_SELECTOR, help="which pods to run")
    parser.add_argument("--workdir", type=Path, default=REPO_ROOT, help="the processes' cwd")
    args = parser.parse_args(None if argv is None else list(argv))
    stop = threading.Event()
    start_process(stop.set, stopping="stopping the pods")
    home: Path = args.home.resolve()
    (home / RUNNER_DIR).mkdir(parents=True, exist_ok=True)
    run(home, args.kubeconfig.resolve(), args.selector, args.workdir.resolve(), stop)


if __name__ == "__main__":
    main()
