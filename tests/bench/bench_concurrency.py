"""Benchmark: six backups of different namespaces started together against one alone.

    .venv/bin/python -m tests.bench.bench_concurrency [--repeat 3] [--backups 6]

It starts the dev stack (on free ports, in a temporary directory, with a PostgreSQL catalog
of its own, all removed afterwards), makes `--backups` namespaces, each with `--objects`
ConfigMaps, a Secret and a claim holding `--megabytes` of data, and times, in alternating
order, one namespace backed up alone (the anchor) and all of them started together, from the
first POST to the last backup's workflow finished (each must end Success). Before every run
each volume to be backed up gets fresh random data, so no run deduplicates against an earlier
one. It prints the median and every figure, the ratio of the medians (aim: under 2x), and,
read from Temporal's histories of the concurrent runs, the activities' schedule-to-start
latency: how long a ready activity waited for a worker slot.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import kubernetes.client
import kubernetes.config
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from deploy.local.doubles.csi.driver import VolumeNotFound, volume_dir
from deploy.local.doubles.snapshot_crds import STORAGE_CLASS
from deploy.local.servers import postgres
from deploy.local.servers.oidc import CLIENT_ID, CLIENT_SECRET, OidcProvider, password_token
from deploy.local.stack import Stack, down, up
from tests.api.helpers import dev_location, unique, wait_for_sync
from workflows.ids import backup_workflow_id


def _namespace(core: Any, name: str, objects: int) -> None:
    """A namespace with `objects` ConfigMaps, a Secret and a claim of the dev storage class."""
    core.create_namespace({"metadata": {"name": name}})
    for i in range(objects):
        core.create_namespaced_config_map(
            name, {"metadata": {"name": f"settings-{i:03d}"}, "data": {"value": "x" * 512}}
        )
    core.create_namespaced_secret(
        name, {"metadata": {"name": "db"}, "stringData": {"password": secrets.token_hex(16)}}
    )
    core.create_namespaced_persistent_volume_claim(
        name,
        {
            "metadata": {"name": "data"},
            "spec": {
                "accessModes": ["ReadWriteOnce"],
                "storageClassName": STORAGE_CLASS,
                "resources": {"requests": {"storage": "1Gi"}},
            },
        },
    )


def _bound_dir(stack: Stack, namespace: str) -> Path:
    deadline = time.monotonic() + 60
    while True:
        try:
            return volume_dir(Path(stack.csi_home), Path(stack.kubeconfig), namespace, "data")
        except VolumeNotFound:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


def _refill(directory: Path, megabytes: int) -> None:
    """Fresh random data (nothing in the repository yet): one big file and a few small ones."""
    for old in directory.iterdir():
        old.unlink()
    (directory / "blob.bin").write_bytes(os.urandom(megabytes * 1024 * 1024))
    for i in range(20):
        (directory / f"wal-{i:02d}").write_bytes(os.urandom(4096))


def _run(
    api: httpx.Client, address: str, target: dict[str, str], namespaces: list[str]
) -> tuple[float, list[str]]:
    """Seconds from the first backup started to the last one finished; the backups' uids.

    The end is awaited on Temporal (a long poll per backup, the workflow's result), not by
    polling the API, whose token checks and queries would take CPU from the backups.
    """
    started = time.monotonic()
    uids = []
    for namespace in namespaces:
        response = api.post(
            "/api/v1/backups",
            json={"cluster_uid": target["cluster"], "location_uid": target["location"],
                  "namespaces": [namespace]},
        )  # fmt: skip
        response.raise_for_status()
        uids.append(response.json()["uid"])
    asyncio.run(_finished(address, uids))
    seconds = time.monotonic() - started
    for uid in uids:
        backup = api.get(f"/api/v1/backups/{uid}").json()
        if backup["status"] != "Success":
            raise RuntimeError(f"backup {uid}: {backup['status']}: {backup['reason']}")
    return seconds, uids


async def _finished(address: str, uids: list[str]) -> None:
    client = await Client.connect(address)
    results = (client.get_workflow_handle(backup_workflow_id(uid)).result() for uid in uids)
    await asyncio.wait_for(asyncio.gather(*results), timeout=600)


def _stack_cpu_seconds() -> float:
    """CPU seconds used so far by the processes this benchmark started: the whole stack."""
    tick = os.sysconf("SC_CLK_TCK")
    total, pending = 0.0, [os.getpid()]
    while pending:
        pid = pending.pop()
        try:
            for task in os.listdir(f"/proc/{pid}/task"):
                children = Path(f"/proc/{pid}/task/{task}/children").read_text().split()
                pending += [int(child) for child in children]
            if pid != os.getpid():
                # utime and stime, the 14th and 15th fields (the name in parentheses may hold
                # spaces: counted from after it).
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                total += (int(fields[11]) + int(fields[12])) / tick
        except FileNotFoundError:
            continue  # ended meanwhile
    return total


async def _schedule_to_start(address: str, uids: list[str]) -> list[float]:
    """Each activity's wait between being scheduled and a worker starting it, in seconds."""
    client = await Client.connect(address)
    waits = []
    for uid in uids:
        scheduled: dict[int, float] = {}
        history = await client.get_workflow_handle(backup_workflow_id(uid)).fetch_history()
        for event in history.events:
            at = event.event_time.ToDatetime().timestamp()
            if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
                scheduled[event.event_id] = at
            elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
                attrs = event.activity_task_started_event_attributes
                waits.append(at - scheduled[attrs.scheduled_event_id])
    return waits


def bench(stack: Stack, *, backups: int, objects: int, megabytes: int, repeat: int) -> None:
    provider = OidcProvider(stack.oidc_issuer, CLIENT_ID, CLIENT_SECRET, 0)
    token = password_token(provider, "infraadmin")
    api = httpx.Client(
        base_url=stack.api_url, headers={"Authorization": f"Bearer {token}"}, timeout=30
    )
    cluster = api.post(
        "/api/v1/clusters",
        json={"name": unique("bench"), "kubeconfig": Path(stack.kubeconfig).read_text()},
    )
    cluster.raise_for_status()
    wait_for_sync(api, cluster.json()["uid"])
    target = {"cluster": cluster.json()["uid"], **dev_location(api, stack)}
    kube = kubernetes.config.new_client_from_config(config_file=stack.kubeconfig)
    core = kubernetes.client.CoreV1Api(kube)
    namespaces = [unique(f"bench{i}") for i in range(backups)]
    for namespace in namespaces:
        _namespace(core, namespace, objects)
    volumes = {namespace: _bound_dir(stack, namespace) for namespace in namespaces}

    def timed(which: list[str]) -> tuple[float, float, list[str]]:
        """Seconds, the stack's CPU seconds, and the backups' uids of one run."""
        for namespace in which:
            _refill(volumes[namespace], megabytes)
        cpu = _stack_cpu_seconds()
        seconds, uids = _run(api, stack.temporal_address, target, which)
        return seconds, _stack_cpu_seconds() - cpu, uids

    # One warm-up of each kind (first imports, first connections), not counted.
    timed(namespaces[:1])
    timed(namespaces)
    alone: list[float] = []
    together: list[float] = []
    cpu: dict[str, list[float]] = {"alone": [], "together": []}
    waits: list[float] = []
    for r in range(repeat):
        one = [namespaces[r % len(namespaces)]]
        order = ("alone", "together") if r % 2 == 0 else ("together", "alone")
        for kind in order:
            seconds, used, uids = timed(one if kind == "alone" else namespaces)
            (alone if kind == "alone" else together).append(seconds)
            cpu[kind].append(used)
            if kind == "together":
                waits += asyncio.run(_schedule_to_start(stack.temporal_address, uids))
            print(f"run {r + 1} {kind:>8}: {seconds:6.2f} s, {used:6.2f} CPU s", flush=True)
    kube.close()
    api.close()
    a, t = statistics.median(alone), statistics.median(together)
    print()
    print(f"{backups} namespaces, {objects} ConfigMaps and {megabytes} MiB of data each")
    print(f"one alone          median {a:6.2f} s  ({', '.join(f'{x:.2f}' for x in alone)})")
    figures = ", ".join(f"{x:.2f}" for x in together)
    print(f"{backups} together        median {t:6.2f} s  ({figures})")
    print(f"ratio              {t / a:6.2f}x one alone (aim: < 2x)")
    ca, ct = statistics.median(cpu["alone"]), statistics.median(cpu["together"])
    print(
        f"stack CPU          median {ca:6.2f} CPU s alone, {ct:6.2f} together "
        f"({ct / ca:.2f}x; {os.cpu_count()} cores: {ct / (os.cpu_count() or 1):.2f} s at the least)"
    )
    waits.sort()
    p95 = waits[int(0.95 * (len(waits) - 1))]
    print(
        f"schedule-to-start  of {len(waits)} activities of the concurrent runs: median "
        f"{statistics.median(waits) * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms, "
        f"max {waits[-1] * 1000:.0f} ms"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backups", type=int, default=6)
    parser.add_argument("--objects", type=int, default=50)
    parser.add_argument("--megabytes", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    if not postgres.reachable():
        print(f"PostgreSQL is not reachable at {postgres.ADMIN_URL}", file=sys.stderr)
        return 1
    database = f"lifeboat_bench_conc_{secrets.token_hex(4)}"
    url = postgres.ensure_database(database)
    with tempfile.TemporaryDirectory(prefix="lifeboat-bench-conc-") as home:
        state = Path(home) / "stack"
        try:
            stack = up(state, fixed_ports=False, database_url=url)
            bench(
                stack,
                backups=args.backups,
                objects=args.objects,
                megabytes=args.megabytes,
                repeat=args.repeat,
            )
        finally:
            down(state)
            postgres.drop_database(database)
    return 0


if __name__ == "__main__":
    sys.exit(main())
