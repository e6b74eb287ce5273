"""The data mover as a Kubernetes Job (LIFEBOAT_MOVER_RUNNER=job), on the real stack.

The test cluster has no scheduler and no kubelet: the pod runner of the fake node
(`deploy.local.doubles.pod_runner`) binds the Jobs' pods, runs them as local processes and reports
their status through the API server, so the real Job controller completes or fails the Jobs.
"""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import io
import json
import os
import secrets
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import kubernetes.client
import kubernetes.config
import pytest
import urllib3
import yaml
from kubernetes.dynamic.exceptions import DynamicApiError
from minio import Minio
from temporalio.testing import ActivityEnvironment

from activities.kube import api_client
from activities.locations import OpenLocation
from activities.mover.runners import JobMover, MoverHeartbeat, MoverTask, remove_jobs
from activities.volumes import BACKUP_LABEL, RESTORE_LABEL
from deploy.local.doubles.kubelet import pod_runs
from deploy.local.doubles.pod_runner import DEFAULT_SELECTOR, PodRun
from deploy.local.servers.oidc import OidcProvider
from deploy.local.servers.procs import free_port
from deploy.local.stack import Stack
from lifeboat.credentials import AccessKeys
from lifeboat.locations import LocationAddress, LocationKind, open_backend
from tests.api.helpers import platform_users, unique, workflow_histories
from tests.conftest import Users
from tests.e2e.conftest import Kube
from tests.e2e.test_backup_restore import (
    _bound_dir,
    _checksums,
    _claim,
    _delete_namespace,
    _fill,
    _wait,
)

_LABEL, _VALUE = DEFAULT_SELECTOR.split("=", 1)
MOVER_LABEL = {_LABEL: _VALUE}


@pytest.fixture(scope="module")
def job_mode(
    stack: Stack, provider: OidcProvider, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Users]:
    """An api and a worker as `make up` starts them, with LIFEBOAT_MOVER_RUNNER=job, on a task
    queue of their own (the stack's worker, which moves data in-process, must not take it)."""
    home = tmp_path_factory.mktemp("mover-job")
    settings = {
        "LIFEBOAT_MOVER_RUNNER": "job",
        "LIFEBOAT_MOVER_IMAGE": "lifeboat:e2e-never-pulled",
        "LIFEBOAT_TASK_QUEUE": unique("lifeboat-mover-job"),
    }
    with platform_users(stack, provider, home, settings) as users:
        yield users


def _core(stack: Stack) -> Any:
    return kubernetes.client.CoreV1Api(
        kubernetes.config.new_client_from_config(config_file=stack.kubeconfig)
    )


def _job_state(kube: Kube, namespace: str, name: str, timeout: float = 60) -> str:
    """`Complete` or `Failed`, once the Job controller says so."""
    deadline = time.monotonic() + timeout
    while True:
        job = kube.read("batch/v1", "Job", name, namespace)
        for condition in (job.get("status") or {}).get("conditions") or []:
            if condition["type"] in ("Complete", "Failed") and condition["status"] == "True":
                return str(condition["type"])
        assert time.monotonic() < deadline, f"Job {namespace}/{name} did not end: {job['status']}"
        time.sleep(0.3)


def _job(name: str, namespace: str, args: list[str], volumes: bool = True) -> dict[str, Any]:
    container: dict[str, Any] = {
        "name": "main", "image": "never-pulled", "command": ["python", "-c"], "args": args,
        "env": [{"name": "GREETING",
                 "valueFrom": {"secretKeyRef": {"name": "greeting", "key": "text"}}}],
        "terminationMessagePolicy": "FallbackToLogsOnError",
    }  # fmt: skip
    spec: dict[str, Any] = {
        "restartPolicy": "Never", "automountServiceAccountToken": False,
        "containers": [container],
    }  # fmt: skip
    if volumes:
        container["volumeMounts"] = [{"name": "work", "mountPath": "/data"}]
        spec["volumes"] = [{"name": "work", "persistentVolumeClaim": {"claimName": "work"}}]
    return {
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"backoffLimit": 0,
                 "template": {"metadata": {"labels": MOVER_LABEL}, "spec": spec}},
    }  # fmt: skip


def _terminated(core: Any, namespace: str, job: str) -> Any:
    pods = core.list_namespaced_pod(namespace, label_selector=f"job-name={job}").items
    assert len(pods) == 1, [p.metadata.name for p in pods]
    assert pods[0].spec.node_name == "lifeboat-node"
    return pods[0], pods[0].status.container_statuses[0].state.terminated


def _namespace(kube: Kube, prefix: str) -> str:
    """A new namespace, once its default service account is there: pods are refused before,
    and the Job controller would back off for seconds."""
    namespace = unique(prefix)
    kube.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
    deadline = time.monotonic() + 30
    while True:
        try:
            kube.read("v1", "ServiceAccount", "default", namespace)
            return namespace
        except DynamicApiError as exc:
            assert exc.status == 404 and time.monotonic() < deadline, exc
        time.sleep(0.1)


def _running_pod(core: Any, namespace: str, job: str) -> str:
    deadline = time.monotonic() + 30
    while True:
        pods = core.list_namespaced_pod(namespace, label_selector=f"job-name={job}").items
        if pods and pods[0].status.phase == "Running":
            return str(pods[0].metadata.name)
        assert time.monotonic() < deadline, f"the pod of Job {job} never ran"
        time.sleep(0.2)


def test_the_pod_runner_runs_job_pods_through_the_api_server(kube: Kube, stack: Stack) -> None:
    namespace = _namespace(kube, "jobs")
    _claim(kube, namespace, "work")
    volume = _bound_dir(stack, namespace, "work")
    kube.create({"apiVersion": "v1", "kind": "Secret",
                 "metadata": {"name": "greeting", "namespace": namespace},
                 "stringData": {"text": "hello from a Secret"}})  # fmt: skip
    # A pod not meant for the runner: a Deployment's replica stays unscheduled.
    labels = {"app": "web"}
    template = {
        "metadata": {"labels": labels},
        "spec": {"containers": [{"name": "web", "image": "nginx:1.25"}]},
    }
    kube.create({"apiVersion": "apps/v1", "kind": "Deployment",
                 "metadata": {"name": "web", "namespace": namespace},
                 "spec": {"replicas": 1, "selector": {"matchLabels": labels},
                          "template": template}})  # fmt: skip
    write = (
        "import os, sys; open(sys.argv[1], 'w').write(os.environ['GREETING']); "
        "open(sys.argv[2], 'w').write('all done')"
    )
    kube.create(_job("writes", namespace, [write, "/data/greeting.txt", "/dev/termination-log"]))
    fail = "import sys; print('something broke', flush=True); sys.exit(4)"
    kube.create(_job("fails", namespace, [fail], volumes=False))
    kube.create(_job("sleeps", namespace, ["import time; time.sleep(60)"], volumes=False))

    assert _job_state(kube, namespace, "writes") == "Complete"
    assert _job_state(kube, namespace, "fails") == "Failed"
    # The mount path in the arguments was the claim's volume; the environment, the Secret's.
    assert (volume / "greeting.txt").read_text() == "hello from a Secret"
    core = _core(stack)
    pod, ended = _terminated(core, namespace, "writes")
    assert (pod.status.phase, ended.exit_code, ended.reason) == ("Succeeded", 0, "Completed")
    assert ended.message == "all done"
    pod, ended = _terminated(core, namespace, "fails")
    assert (pod.status.phase, ended.exit_code, ended.reason) == ("Failed", 4, "Error")
    assert ended.message == "something broke"  # FallbackToLogsOnError: the log's tail
    logs = core.read_namespaced_pod_log(pod.metadata.name, namespace, container="main")
    assert logs == "something broke\n"
    records = [r for r in pod_runs(Path(stack.kubelet_home)) if r["namespace"] == namespace]
    assert sorted((r["owner"], r["exit_code"]) for r in records) == [
        ("Job/fails", 4), ("Job/writes", 0),
    ]  # fmt: skip
    # A pod deleted while it runs (its Job deleted) has its process stopped, then goes.
    sleeping = _running_pod(core, namespace, "sleeps")
    kube.dyn.resources.get(api_version="batch/v1", kind="Job").delete(
        name="sleeps", namespace=namespace, propagation_policy="Background"
    )
    deadline = time.monotonic() + 30
    while core.list_namespaced_pod(namespace, label_selector="job-name=sleeps").items:
        assert time.monotonic() < deadline, "the deleted Job's pod is still there"
        time.sleep(0.2)
    [stopped] = [r for r in pod_runs(Path(stack.kubelet_home)) if r["pod"] == sleeping]
    assert (stopped["ended"], stopped["exit_code"]) == ("deleted", 143)
    web = core.list_namespaced_pod(namespace, label_selector="app=web").items
    assert web and all(p.spec.node_name is None for p in web)
    kube.delete("v1", "Namespace", namespace)  # not waited for: nothing else uses it


def _restored(api: httpx.Client, uid: str) -> dict[str, Any]:
    """The restore once it ended and its volume's result is recorded.

    Its status turns final when its objects are applied, a moment before the volumes' results
    are recorded (and a failed one makes it a PartialSuccess).
    """
    deadline = time.monotonic() + 60
    while not (restore := _wait(api, f"/api/v1/restores/{uid}"))["volumes"]:
        assert time.monotonic() < deadline, restore
        time.sleep(0.3)
    return restore


def _location(api: httpx.Client, stack: Stack, key: str) -> dict[str, str]:
    """A location of its own, on a fresh bucket, with a known key (the test tampers with it)."""
    bucket = unique("mover-job")
    _s3(stack).make_bucket(bucket)
    keys = {"access_key_id": stack.s3_access_key, "secret_access_key": stack.s3_secret_key}
    account = api.post(
        "/api/v1/cloud-accounts",
        json={"name": unique("acct"), "provider": "s3-compatible", "credentials": keys},
    ).json()
    location = api.post("/api/v1/backup-locations", json={
        "name": unique("loc"), "endpoint": stack.s3_endpoint, "bucket": bucket,
        "cloud_account_uid": account["uid"], "encryption_key": key,
    })  # fmt: skip
    assert location.status_code == 201, location.text
    return {"uid": location.json()["uid"], "bucket": bucket}


def _s3(stack: Stack) -> Minio:
    return Minio(
        stack.s3_endpoint.removeprefix("http://"),
        stack.s3_access_key,
        stack.s3_secret_key,
        secure=False,
    )


def _runs(stack: Stack, label: str, uid: str) -> list[PodRun]:
    return [r for r in pod_runs(Path(stack.kubelet_home)) if r["labels"].get(label) == uid]


def _left_over(kube: Kube, namespace: str) -> dict[str, list[str]]:
    """The mover's Jobs, Secrets and pods, and the claims, still in the namespace."""
    found = {}
    for api_version, kind, selector in (
        ("batch/v1", "Job", DEFAULT_SELECTOR),
        ("v1", "Secret", DEFAULT_SELECTOR),
        ("v1", "Pod", DEFAULT_SELECTOR),
        ("v1", "PersistentVolumeClaim", None),
    ):
        resource = kube.dyn.resources.get(api_version=api_version, kind=kind)
        items = resource.get(namespace=namespace, label_selector=selector).to_dict()["items"]
        found[kind] = sorted(i["metadata"]["name"] for i in items)
    return found


def _cleaned_up(kube: Kube, namespace: str, claims: list[str]) -> None:
    """Wait until only the claims remain: no Job, Secret, pod or temporary claim."""
    wanted = {"Job": [], "Secret": [], "Pod": [], "PersistentVolumeClaim": claims}
    deadline = time.monotonic() + 30
    while (found := _left_over(kube, namespace)) != wanted:
        assert time.monotonic() < deadline, found
        time.sleep(0.3)


def _tamper(stack: Stack, bucket: str) -> int:
    """Overwrite every stored chunk and pack with random bytes of the same size."""
    s3, tampered = _s3(stack), 0
    for folder in ("chunks/", "packs/"):
        for item in s3.list_objects(bucket, f"lifeboat-data/v1/{folder}", recursive=True):
            size = int(item.size or 0)
            s3.put_object(bucket, str(item.object_name), io.BytesIO(os.urandom(size)), size)
            tampered += 1
    return tampered


@pytest.mark.slow
def test_backup_and_restore_run_the_mover_as_jobs(
    job_mode: Users, target: dict[str, str], kube: Kube, stack: Stack
) -> None:
    api = job_mode("infraadmin")
    location_key = secrets.token_urlsafe(32)
    location = _location(api, stack, location_key)
    namespace = unique("jobdata")
    kube.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
    _claim(kube, namespace, "pgdata")
    expected = _fill(_bound_dir(stack, namespace, "pgdata"))

    started = api.post("/api/v1/backups", json={
        "cluster_uid": target["cluster"], "location_uid": location["uid"],
        "namespaces": [namespace],
    })  # fmt: skip
    assert started.status_code == 201, started.text
    backup = _wait(api, f"/api/v1/backups/{started.json()['uid']}")
    assert backup["status"] == "Success", (backup["reason"], backup["volumes"])
    assert backup["volume_count"] == 1 and backup["size_bytes"] > 5 * 1024 * 1024
    # The data moved in a Job: its pod ran once, on the temporary claim, and succeeded.
    runs = _runs(stack, "backup.lifeboat.dev/uid", backup["uid"])
    assert [(r["owner"].split("/")[0], r["exit_code"]) for r in runs] == [("Job", 0)]
    spec = runs[0]["spec"]
    assert spec["containers"][0]["args"][0] == "backup"
    assert spec["volumes"][0]["persistentVolumeClaim"]["readOnly"] is True
    assert spec["volumes"][0]["persistentVolumeClaim"]["claimName"] != "pgdata"
    assert json.loads(runs[0]["message"])["snapshot_id"] == backup["volumes"][0]["data_snapshot_id"]
    _cleaned_up(kube, namespace, ["pgdata"])

    _delete_namespace(kube, namespace)
    restored = api.post("/api/v1/restores", json={"backup_uid": backup["uid"]})
    restore = _restored(api, restored.json()["uid"])
    assert restore["status"] == "Success", (restore["reason"], restore["volumes"])
    assert _checksums(_bound_dir(stack, namespace, "pgdata")) == expected
    runs += _runs(stack, "restore.lifeboat.dev/uid", restore["uid"])
    assert [r["exit_code"] for r in runs] == [0, 0]
    assert runs[1]["spec"]["containers"][0]["args"][0] == "restore"
    assert runs[1]["spec"]["volumes"][0]["persistentVolumeClaim"]["claimName"] == "pgdata"
    _cleaned_up(kube, namespace, ["pgdata"])

    # The secrets went through a Secret only: in no pod spec, argument or workflow history.
    for secret in (location_key, stack.s3_secret_key):
        for run in runs:
            assert secret not in json.dumps(run["spec"]) and secret not in " ".join(run["command"])
        query = f'WorkflowId = "backup-{backup["uid"]}" OR WorkflowId = "restore-{restore["uid"]}"'
        histories = workflow_histories(stack.temporal_address, query, mentioning=backup["uid"])
        assert len(histories) == 2
        for history in histories:
            assert secret not in history

    # A tampered repository: the restore's Job fails, and its pod's message says why.
    assert _tamper(stack, location["bucket"]) > 0
    copy = unique("jobdata-copy")
    tampered = api.post(
        "/api/v1/restores",
        json={"backup_uid": backup["uid"], "namespace_mapping": {namespace: copy}},
    )
    restore = _restored(api, tampered.json()["uid"])
    assert restore["status"] == "PartialSuccess", restore["reason"]
    [volume] = restore["volumes"]
    assert volume["status"] == "Failed"
    assert "exit code 3" in volume["reason"], volume["reason"]
    assert "tampered with or corrupted" in volume["reason"] or "damaged" in volume["reason"]
    [failed] = _runs(stack, "restore.lifeboat.dev/uid", restore["uid"])
    assert failed["exit_code"] == 3
    assert failed["message"].removeprefix("error: ") in volume["reason"]
    _cleaned_up(kube, copy, ["pgdata"])


def test_a_retry_reads_the_job_that_succeeded_and_replaces_the_one_that_failed(
    kube: Kube, stack: Stack
) -> None:
    namespace = _namespace(kube, "jobretry")
    _claim(kube, namespace, "data")
    _claim(kube, namespace, "copy")
    expected = _fill(_bound_dir(stack, namespace, "data"))
    bucket = unique("mover-retry")
    _s3(stack).make_bucket(bucket)
    keys = AccessKeys(stack.s3_access_key, stack.s3_secret_key)
    address = LocationAddress(LocationKind.S3, stack.s3_endpoint, bucket)
    location = OpenLocation(
        backend=open_backend(address, keys), address=address, prefix="retry",
        key=secrets.token_hex(24).encode(), keys=keys,
    )  # fmt: skip
    kubeconfig = yaml.safe_load(Path(stack.kubeconfig).read_text())

    async def connect() -> dict[str, Any]:
        return dict(kubeconfig)

    job_mover = JobMover("lifeboat:e2e-never-pulled", 600, "10m", "32Mi")
    beats: list[Any] = []
    env = ActivityEnvironment()
    env.on_heartbeat = lambda *details: beats.append(details)

    def run(task: MoverTask) -> dict[str, Any]:
        async def attempt() -> dict[str, Any]:
            return await job_mover.run(connect, task, location, MoverHeartbeat(None), None)

        return asyncio.run(env.run(attempt))

    def start(task: MoverTask) -> None:
        with api_client(kubeconfig) as client:
            job_mover.start(client, task, location, None)

    # A worker died after its Job succeeded: the retry reads the Job, and runs nothing again.
    backup_uid = str(uuid.uuid4())
    backup = MoverTask("backup", namespace, "data", "data", BACKUP_LABEL, backup_uid)
    env.run(start, backup)
    secret = kube.read("v1", "Secret", backup.job_name, namespace)
    job = kube.read("batch/v1", "Job", backup.job_name, namespace)
    assert [(o["kind"], o["uid"]) for o in secret["metadata"]["ownerReferences"]] == [
        ("Job", job["metadata"]["uid"])
    ]
    assert _job_state(kube, namespace, backup.job_name) == "Complete"
    summary = run(backup)
    assert summary["files"] == len(expected) - 1  # the symlink is not a file
    assert [r["exit_code"] for r in _runs(stack, BACKUP_LABEL, backup_uid)] == [0]
    _cleaned_up(kube, namespace, ["copy", "data"])

    # A Job that failed (no such snapshot) is replaced by one that restores the right one.
    restore_uid = str(uuid.uuid4())
    wrong = MoverTask("restore", namespace, "copy", "copy", RESTORE_LABEL, restore_uid,
                      snapshot_id="20200101T000000Z-0000000000000000")  # fmt: skip
    env.run(start, wrong)
    assert _job_state(kube, namespace, wrong.job_name) == "Failed"
    right = dataclasses.replace(wrong, snapshot_id=summary["snapshot_id"])
    assert right.job_name == wrong.job_name
    beats.clear()
    restored = run(right)
    assert restored["bytes_written"] == summary["bytes_total"]
    assert _checksums(_bound_dir(stack, namespace, "copy")) == expected
    runs = _runs(stack, RESTORE_LABEL, restore_uid)
    assert [r["exit_code"] for r in runs] == [3, 0]
    assert "20200101T000000Z-0000000000000000" in runs[0]["message"]
    assert beats and all(set(b[0]) == {"bytes_done", "bytes_total", "resume"} for b in beats)
    _cleaned_up(kube, namespace, ["copy", "data"])

    # A Job that cannot start (its claim never binds): a worker shutting down leaves it for the
    # next attempt, which takes it over; a cancel removes it.
    kube.create({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                 "metadata": {"name": "stuck", "namespace": namespace},
                 "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "no-such-class",
                          "resources": {"requests": {"storage": "1Gi"}}}})  # fmt: skip
    stuck = dataclasses.replace(right, volume="stuck", claim="stuck", owner_uid=str(uuid.uuid4()))

    def interrupt(task: MoverTask, *, shutdown: bool) -> str:
        """Run a stuck task until it heartbeats, then cancel it; the Job's uid meanwhile."""
        interrupted = ActivityEnvironment()

        async def attempt() -> dict[str, Any]:
            return await job_mover.run(connect, task, location, MoverHeartbeat(None), None)

        async def scenario() -> str:
            beating = asyncio.Event()
            interrupted.on_heartbeat = lambda *details: beating.set()
            running = asyncio.ensure_future(interrupted.run(attempt))
            await beating.wait()
            job = await asyncio.to_thread(kube.read, "batch/v1", "Job", task.job_name, namespace)
            if shutdown:
                interrupted.worker_shutdown()
            interrupted.cancel()
            with pytest.raises(asyncio.CancelledError):
                await running
            return str(job["metadata"]["uid"])

        return asyncio.run(scenario())

    first = interrupt(stuck, shutdown=True)
    assert kube.read("batch/v1", "Job", stuck.job_name, namespace)["metadata"]["uid"] == first
    assert kube.read("v1", "Secret", stuck.job_name, namespace)
    assert interrupt(stuck, shutdown=False) == first
    _cleaned_up(kube, namespace, ["copy", "data", "stuck"])

    # The API server fails to answer once while the Job runs (an expired token, a blip): that
    # attempt fails but leaves the Job, and the next one takes it over.
    blip = dataclasses.replace(stuck, owner_uid=str(uuid.uuid4()))
    unreachable = copy.deepcopy(kubeconfig)
    unreachable["clusters"][0]["cluster"]["server"] = f"https://127.0.0.1:{free_port()}"
    answers = iter([kubeconfig, unreachable])  # then the good one again, for the cleanup

    async def connect_with_a_blip() -> dict[str, Any]:
        return dict(next(answers, kubeconfig))

    # A fresh client on every poll, so that the blip falls while the Job is watched.
    renewing = JobMover("lifeboat:e2e-never-pulled", 600, "10m", "32Mi", renew_client_seconds=0)

    async def blipped() -> dict[str, Any]:
        return await renewing.run(connect_with_a_blip, blip, location, MoverHeartbeat(None), None)

    with pytest.raises(urllib3.exceptions.HTTPError):
        asyncio.run(ActivityEnvironment().run(blipped))
    kept = kube.read("batch/v1", "Job", blip.job_name, namespace)["metadata"]["uid"]
    assert kube.read("v1", "Secret", blip.job_name, namespace)
    assert interrupt(blip, shutdown=False) == kept
    _cleaned_up(kube, namespace, ["copy", "data", "stuck"])

    # What a last attempt left, the backup's cleanup removes by the backup's label.
    env.run(start, blip)
    with api_client(kubeconfig) as client:
        assert remove_jobs(client, namespace, f"{RESTORE_LABEL}={blip.owner_uid}") == 2
    _cleaned_up(kube, namespace, ["copy", "data", "stuck"])
    kube.delete("v1", "Namespace", namespace)


@pytest.mark.slow
def test_a_verification_compares_the_files_in_a_job_of_the_mover(
    job_mode: Users, target: dict[str, str], kube: Kube, stack: Stack
) -> None:
    api = job_mode("infraadmin")
    location = _location(api, stack, secrets.token_urlsafe(32))
    namespace = unique("jobverify")
    kube.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
    _claim(kube, namespace, "pgdata")
    _fill(_bound_dir(stack, namespace, "pgdata"))
    started = api.post("/api/v1/backups", json={
        "cluster_uid": target["cluster"], "location_uid": location["uid"],
        "namespaces": [namespace],
    })  # fmt: skip
    backup = _wait(api, f"/api/v1/backups/{started.json()['uid']}")
    assert backup["status"] == "Success", (backup["reason"], backup["volumes"])

    assert api.post(f"/api/v1/backups/{backup['uid']}/verify").status_code == 202
    deadline = time.monotonic() + 300
    while (verification := api.get(f"/api/v1/backups/{backup['uid']}").json()["verification"]) is (
        None
    ) or verification["status"] == "InProgress":
        assert time.monotonic() < deadline, verification
        time.sleep(1)
    assert verification["status"] == "Passed", verification["differences"]
    [volume] = verification["volumes"]
    assert volume["status"] == "Passed" and volume["files"] == 200 + 2
    # The comparison ran in the scratch namespace, in a Job of the mover's `verify` command.
    [run] = _runs(stack, "verification.lifeboat.dev/backup-uid", backup["uid"])
    assert run["exit_code"] == 0 and run["spec"]["containers"][0]["args"][0] == "verify"
    assert run["namespace"] == f"lifeboat-verify-{backup['uid'].split('-')[0]}"
