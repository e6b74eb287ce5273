"""The mover as a Kubernetes Job in the claim's namespace (LIFEBOAT_MOVER_RUNNER=job, the
default).

`JobMover` runs the mover command, `python -m activities.mover backup|restore`, as a Job from
LIFEBOAT_MOVER_IMAGE with the claim mounted at /data (read-only for a backup). The location's
keys and encryption key go in a Secret that the command reads as its environment: never in
its arguments, never in a workflow payload, never logged. The Secret is owned by the Job, so
the garbage collector takes it with the Job, and both are deleted when the Job has ended:
succeeded and read, failed, or cancelled. The command writes its summary to the container's
termination message file (/dev/termination-log), and the activity reads it from the pod's
`state.terminated.message`; a failed pod's message says why it failed. While the Job runs,
the activity heartbeats the progress lines of the pod's log (or at least that the Job is
alive). A retry finds its Job by name: one that succeeded is read, one still running is
waited for, one that failed is replaced (a backup then resumes from the last heartbeat).
When the worker shuts down, or the API server fails to answer while the Job runs, the Job is
left running for the next attempt to take over; the backup's cleanup removes any mover Job
a last attempt left behind.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import kubernetes.client
from kubernetes.client.exceptions import ApiException
from temporalio import activity

from activities.kube import REQUEST_TIMEOUT, api_client
from activities.locations import OpenLocation
from activities.mover import Progress, ResumeState
from activities.mover.command import (
    ENV_ACCESS_KEY,
    ENV_LOCATION_KEY,
    ENV_SECRET_KEY,
    EXIT_PERMANENT,
    EXIT_USAGE,
)
from activities.mover.runners.common import (
    Connect,
    MoverFailed,
    MoverHeartbeat,
    MoverTask,
    read_claim,
)
from lifeboat.credentials import pair

MOUNT_PATH = "/data"
TERMINATION_LOG = "/dev/termination-log"
CONTAINER = "mover"
# On the Job, its pod and its Secret; the pod runner of the dev stack selects pods by the first.
MOVER_LABELS = {
    "app.kubernetes.io/name": "lifeboat-mover",
    "app.kubernetes.io/managed-by": "lifeboat",
}
CLAIM_ANNOTATION = "lifeboat.dev/claim"
JOB_POLL_SECONDS = 1.0
# Temporal retries a failed Job, resuming a backup where the last attempt got to; the Job
# controller's own retry would start over.
BACKOFF_LIMIT = 0
# A safety net for a Job whose deletion failed, where the cluster honours it (1.21 on).
FINISHED_JOB_TTL_SECONDS = 24 * 3600
# A container waiting this long to start (an image that cannot be pulled, a Secret missing)
# will not start by itself.
START_TIMEOUT_SECONDS = 300
STARTING = ("ContainerCreating", "PodInitializing")
# Exit codes of the mover command after which a retry cannot help.
FINAL_EXIT_CODES = frozenset({EXIT_USAGE, EXIT_PERMANENT})


class MoverJobError(Exception):
    """The mover Job failed in a way a retry (a new Job, resuming) may cure."""


# A Job is watched for hours: its API client is rebuilt from a fresh kubeconfig this often, so
# that credentials replaced meanwhile (revoked ones, a cloud account's rotated keys) are used.
# (Tokens that expire, such as EKS's, the client renews by itself: see lifeboat.eks.)
RENEW_CLIENT_SECONDS = 600.0


class Connection:
    """An API client to the cluster, rebuilt from a fresh kubeconfig every `renew_seconds`."""

    def __init__(self, connect: Connect, renew_seconds: float = RENEW_CLIENT_SECONDS) -> None:
        self._connect = connect
        self._renew = renew_seconds
        self._client: kubernetes.client.ApiClient | None = None
        self._since = 0.0

    async def client(self) -> kubernetes.client.ApiClient:
        if self._client is None or time.monotonic() - self._since >= self._renew:
            # In a thread: a kubeconfig's token plugin (EKS) runs a process.
            fresh = await asyncio.to_thread(api_client, await self._connect())
            self.close()
            self._client, self._since = fresh, time.monotonic()
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None


class JobMover:
    """The mover as a Kubernetes Job in the claim's namespace (see the module's docstring)."""

    def __init__(
        self,
        image: str,
        timeout_seconds: int,
        cpu: str,
        memory: str,
        *,
        renew_client_seconds: float = RENEW_CLIENT_SECONDS,
    ) -> None:
        self._image = image
        self._timeout = timeout_seconds
        self._requests = {"cpu": cpu, "memory": memory}
        self._renew = renew_client_seconds

    async def run(
        self,
        connect: Connect,
        task: MoverTask,
        location: OpenLocation,
        heartbeat: MoverHeartbeat,
        resume: ResumeState | None,
    ) -> dict[str, Any]:
        """Run (or take over) the claim's mover Job to its end; the mover's summary."""
        connection = Connection(connect, self._renew)
        try:
            client = await connection.client()
            try:
                job = await asyncio.to_thread(self.start, client, task, location, resume)
                summary = await self._wait(connection, task, job, heartbeat)
            except BaseException as exc:
                if _ends_the_job(exc):
                    await self._remove_quietly(connection, task)
                raise
            # Errors propagate: the retry reads the finished Job again, and removes it.
            await asyncio.to_thread(_remove, await connection.client(), task)
            return summary
        finally:
            connection.close()

    def start(
        self,
        client: kubernetes.client.ApiClient,
        task: MoverTask,
        location: OpenLocation,
        resume: ResumeState | None,
    ) -> Any:
        """The task's Job: the one already there unless it failed, else a new one."""
        batch: Any = kubernetes.client.BatchV1Api(client)
        core: Any = kubernetes.client.CoreV1Api(client)
        read_claim(core, task.namespace, task.claim)
        job = _read_job(batch, task)
        if job is not None:
            state = _state(job)
            if not state or (state == "Complete" and _summary(core, job) is not None):
                activity.logger.info("data mover Job %s/%s found", task.namespace, task.job_name)
                return job
        _remove(client, task)
        name, labels = task.job_name, {**MOVER_LABELS, task.owner_label: task.owner_uid}
        public, secret_key = pair(location.keys)
        secret = {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": name, "labels": labels},
            "type": "Opaque",
            "stringData": {
                ENV_ACCESS_KEY: public,
                ENV_SECRET_KEY: secret_key,
                ENV_LOCATION_KEY: location.key.decode(),
            },
        }
        core.create_namespaced_secret(task.namespace, secret, _request_timeout=REQUEST_TIMEOUT)
        job = batch.create_namespaced_job(
            task.namespace, self._job(task, location, resume, labels),
            _request_timeout=REQUEST_TIMEOUT,
        )  # fmt: skip
        owner = {
            "apiVersion": "batch/v1", "kind": "Job", "name": name, "uid": job.metadata.uid,
        }  # fmt: skip
        core.patch_namespaced_secret(
            name, task.namespace, {"metadata": {"ownerReferences": [owner]}},
            _request_timeout=REQUEST_TIMEOUT,
        )  # fmt: skip
        activity.logger.info("data mover Job %s/%s created", task.namespace, name)
        return job

    def _job(
        self,
        task: MoverTask,
        location: OpenLocation,
        resume: ResumeState | None,
        labels: dict[str, str],
    ) -> dict[str, Any]:
        read_only = task.operation == "backup"
        container = {
            "name": CONTAINER,
            "image": self._image,
            "command": ["python", "-m", "activities.mover"],
            "args": mover_arguments(task, location, resume),
            "envFrom": [{"secretRef": {"name": task.job_name}}],
            "resources": {"requests": self._requests},
            "volumeMounts": [{"name": "data", "mountPath": MOUNT_PATH, "readOnly": read_only}],
            "terminationMessagePath": TERMINATION_LOG,
            # An unexpected crash (a traceback, no summary written) still explains itself.
            "terminationMessagePolicy": "FallbackToLogsOnError",
        }
        return {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {
                "name": task.job_name,
                "labels": labels,
                "annotations": {CLAIM_ANNOTATION: task.claim},
            },
            "spec": {
                "backoffLimit": BACKOFF_LIMIT,
                "activeDeadlineSeconds": self._timeout,
                "ttlSecondsAfterFinished": FINISHED_JOB_TTL_SECONDS,
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {
                        "restartPolicy": "Never",
                        # The mover talks to the bucket only, never to the Kubernetes API.
                        "automountServiceAccountToken": False,
                        "enableServiceLinks": False,
                        "containers": [container],
                        "volumes": [{
                            "name": "data",
                            "persistentVolumeClaim": {
                                "claimName": task.claim, "readOnly": read_only,
                            },
                        }],
                    },
                },
            },
        }  # fmt: skip

    async def _wait(
        self,
        connection: Connection,
        task: MoverTask,
        job: Any,
        heartbeat: MoverHeartbeat,
    ) -> dict[str, Any]:
        """Poll the Job to its end, heartbeating; its summary, or why it failed."""
        while True:
            client = await connection.client()
            batch = kubernetes.client.BatchV1Api(client)
            core = kubernetes.client.CoreV1Api(client)
            state = _state(job)
            if state == "Complete":
                summary = await asyncio.to_thread(_summary, core, job)
                if summary is None:
                    raise MoverJobError(
                        f"data mover Job {task.job_name} succeeded but its pod reports no summary"
                    )
                return summary
            if state == "Failed":
                raise await asyncio.to_thread(self._failure, core, job)
            progress = await asyncio.to_thread(self._progress, core, job)
            if progress is not None:
                heartbeat.progress(progress)
            else:
                heartbeat.alive()
            await asyncio.sleep(JOB_POLL_SECONDS)
            job = await asyncio.to_thread(_read_job, batch, task)
            if job is None:
                raise MoverJobError(f"data mover Job {task.job_name} was deleted before it ended")

    def _progress(self, core: Any, job: Any) -> Progress | None:
        """The progress the running pod last logged; MoverFailed if it cannot start."""
        pods = _pods(core, job)
        if not pods:
            return None
        pod = pods[-1]
        created = pod.metadata.creation_timestamp or datetime.now(UTC)
        stuck = (datetime.now(UTC) - created).total_seconds() > START_TIMEOUT_SECONDS
        for status in pod.status.container_statuses or []:
            waiting = status.state.waiting if status.state else None
            if waiting is not None and waiting.reason not in STARTING and stuck:
                raise MoverFailed(
                    f"data mover Job {job.metadata.name} cannot start: {waiting.reason}: "
                    f"{waiting.message or ''} (the image is LIFEBOAT_MOVER_IMAGE={self._image})"
                )
        if pod.status.phase != "Running":
            return None
        try:
            text = core.read_namespaced_pod_log(
                pod.metadata.name, pod.metadata.namespace, container=CONTAINER, tail_lines=20,
                _request_timeout=REQUEST_TIMEOUT,
            )  # fmt: skip
        except ApiException:
            return None  # progress is a nicety: the Job's state is what counts
        for line in reversed(str(text).splitlines()):
            progress = _parse_progress(line)
            if progress is not None:
                return progress
        return None

    def _failure(self, core: Any, job: Any) -> Exception:
        """What to raise for a failed Job: MoverFailed when a retry cannot help."""
        name = job.metadata.name
        condition = next(c for c in job.status.conditions if c.type == "Failed")
        if condition.reason == "DeadlineExceeded":
            return MoverFailed(
                f"data mover Job {name} ran longer than {self._timeout}s "
                "(LIFEBOAT_MOVER_JOB_TIMEOUT_SECONDS) and was stopped"
            )
        for pod in reversed(_pods(core, job)):
            for status in pod.status.container_statuses or []:
                ended = status.state.terminated if status.state else None
                if ended is None:
                    continue
                message = (ended.message or "").strip().removeprefix("error: ")
                text = (
                    f"data mover Job {name} failed ({ended.reason}, exit code "
                    f"{ended.exit_code}): {message or 'no message'}"
                )
                if ended.exit_code in FINAL_EXIT_CODES:
                    return MoverFailed(text)
                return MoverJobError(text)
        return MoverJobError(
            f"data mover Job {name} failed: {condition.reason}: {condition.message or ''}"
        )

    async def _remove_quietly(self, connection: Connection, task: MoverTask) -> None:
        # Already failing: what matters is that error, so not even a failed connect may hide
        # it. A Job left behind is replaced or read by the next attempt, its Secret with it.
        try:
            await asyncio.to_thread(_remove, await connection.client(), task)
        except Exception as exc:
            activity.logger.warning("could not remove data mover Job %s: %s", task.job_name, exc)


def _ends_the_job(error: BaseException) -> bool:
    """Whether an attempt that failed with `error` removes its Job.

    The Job failed (a retry replaces it), the mover failed for good, or the backup or restore
    was cancelled: yes. The worker shutting down, or the API server failing to answer (an
    expired token, a restarting control plane, a network blip): no, the Job may be moving data
    just fine, and the next attempt takes it over instead of starting again. A Job whose last
    attempt failed so is removed with the backup's snapshots, or by its deadline.
    """
    if isinstance(error, asyncio.CancelledError):
        return not activity.is_worker_shutdown()
    return isinstance(error, (MoverFailed, MoverJobError))


def mover_arguments(
    task: MoverTask, location: OpenLocation, resume: ResumeState | None
) -> list[str]:
    """The mover command's arguments for the task, in the Job's container: no secret among them."""
    args = [
        task.operation, "--provider", location.address.kind, "--endpoint",
        location.address.endpoint, "--bucket", location.bucket, "--prefix", location.prefix,
        "--summary-file", TERMINATION_LOG, "--progress",
    ]  # fmt: skip
    if location.address.region:
        args += ["--region", location.address.region]
    if task.operation == "backup":
        args += ["--source", MOUNT_PATH]
        if location.lock is not None:
            lock = location.lock
            args += ["--lock-mode", lock.mode, "--lock-until", lock.retain_until.isoformat()]
        if resume is not None:
            args += ["--resume", resume.to_json()]
    else:
        args += ["--snapshot", task.snapshot_id, "--target", MOUNT_PATH]
    return args


def _read_job(batch: Any, task: MoverTask) -> Any:
    try:
        return batch.read_namespaced_job(
            task.job_name, task.namespace, _request_timeout=REQUEST_TIMEOUT
        )
    except ApiException as exc:
        if exc.status == 404:
            return None
        raise


def _state(job: Any) -> str:
    """`Complete`, `Failed`, or "" while the Job runs."""
    for condition in (job.status.conditions if job.status else None) or []:
        if condition.type in ("Complete", "Failed") and condition.status == "True":
            return str(condition.type)
    return ""


def _pods(core: Any, job: Any) -> list[Any]:
    """The Job's pods (by its own selector), oldest first."""
    selector = ",".join(f"{k}={v}" for k, v in job.spec.selector.match_labels.items())
    pods = core.list_namespaced_pod(
        job.metadata.namespace, label_selector=selector, _request_timeout=REQUEST_TIMEOUT
    ).items
    return sorted(pods, key=lambda p: p.metadata.creation_timestamp)


def _summary(core: Any, job: Any) -> dict[str, Any] | None:
    """The summary a succeeded pod left as its termination message, if any."""
    for pod in _pods(core, job):
        if pod.status.phase != "Succeeded":
            continue
        for status in pod.status.container_statuses or []:
            ended = status.state.terminated if status.state else None
            try:
                summary = json.loads(ended.message or "") if ended else None
            except ValueError:
                continue
            if isinstance(summary, dict):
                return summary
    return None


def _parse_progress(line: str) -> Progress | None:
    """A progress line of the mover command (`--progress`), else None."""
    try:
        data = json.loads(line)["progress"]
        resume = data.get("resume")
        return Progress(
            operation=str(data["operation"]),
            files_done=int(data["files_done"]),
            files_total=int(data["files_total"]),
            bytes_done=int(data["bytes_done"]),
            bytes_total=int(data["bytes_total"]),
            bytes_transferred=int(data["bytes_transferred"]),
            resume=ResumeState.from_json(json.dumps(resume)) if resume else None,
        )
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


def _remove(client: kubernetes.client.ApiClient, task: MoverTask) -> None:
    """Delete the task's Job (its pods follow) and its Secret; either may be gone already."""
    batch = kubernetes.client.BatchV1Api(client)
    core = kubernetes.client.CoreV1Api(client)
    for delete in (batch.delete_namespaced_job, core.delete_namespaced_secret):
        _delete(delete, task.job_name, task.namespace)


def remove_jobs(client: kubernetes.client.ApiClient, namespace: str, selector: str) -> int:
    """Delete the mover Jobs and Secrets in `namespace` that match `selector` (a backup's or
    restore's label) and that no attempt removed; how many."""
    batch: Any = kubernetes.client.BatchV1Api(client)
    core: Any = kubernetes.client.CoreV1Api(client)
    selector = ",".join([selector, *(f"{k}={v}" for k, v in MOVER_LABELS.items())])
    removed = 0
    # Secrets first: deleting a Job makes the garbage collector take its Secret at some point.
    for listing, delete in (
        (core.list_namespaced_secret, core.delete_namespaced_secret),
        (batch.list_namespaced_job, batch.delete_namespaced_job),
    ):
        found = listing(namespace, label_selector=selector, _request_timeout=REQUEST_TIMEOUT)
        for item in found.items:
            _delete(delete, item.metadata.name, namespace)
            removed += 1
    return removed


def _delete(delete: Callable[..., Any], name: str, namespace: str) -> None:
    """Delete a Job or Secret that may be gone already."""
    try:
        # Background: the Job goes at once (a replacement may take its name), its pods after.
        delete(name, namespace, propagation_policy="Background", _request_timeout=REQUEST_TIMEOUT)
    except ApiException as exc:
        if exc.status != 404:
            raise
