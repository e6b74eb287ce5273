"""Benchmark: a backup's export of ConfigMaps against `kubectl get configmaps -o json`.

    .venv/bin/python tests/bench/bench_export.py [--counts 1000,10000,100000] [--repeat 3]

It starts the dev stack's Kubernetes API server (etcd, kube-apiserver) and S3 server
(SeaweedFS) in a fresh directory, fills one namespace per count with that many ConfigMaps,
then times, in one run and in alternating order, `kubectl get configmaps -n NS -o json` (its
output written to a file: kubectl reads every object and prints it), against the anchor's
work and more: Lifeboat's export as the backup's export activity runs it (`export_resources`:
every listable type of the namespace, a page at a time, stripped, packed per type,
compressed, sealed and uploaded to the S3 server). It prints the median seconds of each, the
ratio to kubectl, and the time per object for each count. Named bench_*.py so that pytest
does not collect it.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import kubernetes.config
import yaml
from kubernetes.dynamic import DynamicClient
from minio import Minio

from activities.locations import OpenLocation
from activities.resources import ExportSelection, export_resources
from deploy.local.servers.kube import start_kube, stop_kube
from deploy.local.servers.s3 import start_s3, stop_s3
from lifeboat.credentials import AccessKeys
from lifeboat.locations import LocationAddress, LocationKind, open_backend
from lifeboat.specs import BackupResolution, BackupSpec

BUCKET = "bench"
LOCATION_KEY = b"benchmark-location-key-0123456789"
# What a small application's ConfigMap holds: a few settings, a short file.
DATA = {
    "mode": "production",
    "log-level": "info",
    "app.properties": "server.port=8080\nfeature.flags=a,b,c\ncache.ttl=300\n" * 4,
}


def _fill(kubeconfig: Path, namespace: str, count: int) -> None:
    client = kubernetes.config.new_client_from_config(config_file=str(kubeconfig))
    try:
        dyn = DynamicClient(client)
        dyn.resources.get(api_version="v1", kind="Namespace").create(
            body={"metadata": {"name": namespace}}
        )
        config_maps = dyn.resources.get(api_version="v1", kind="ConfigMap")

        def create(i: int) -> None:
            body = {"metadata": {"name": f"settings-{i:06d}", "labels": {"app": "web"}},
                    "data": DATA}  # fmt: skip
            config_maps.create(body=body, namespace=namespace, serialize=False)

        with ThreadPoolExecutor(8) as pool:
            list(pool.map(create, range(count)))
    finally:
        client.close()


def _kubectl(kubeconfig: Path, namespace: str, out: Path) -> Callable[[], float]:
    def run() -> float:
        started = time.perf_counter()
        with out.open("wb") as sink:
            subprocess.run(
                ["kubectl", "--kubeconfig", str(kubeconfig), "get", "configmaps", "-n", namespace,
                 "-o", "json"],
                stdout=sink, check=True,
            )  # fmt: skip
        return time.perf_counter() - started

    return run


def _lifeboat(
    kubeconfig: dict[str, Any], location: OpenLocation, namespace: str, count: int
) -> Callable[[], float]:
    selection = ExportSelection(
        BackupSpec(namespaces=[namespace], include_cluster_resources=False),
        BackupResolution(namespaces=[namespace]),
    )

    def run() -> float:
        started = time.perf_counter()
        exported = export_resources(kubeconfig, location, str(uuid.uuid4()), selection)
        seconds = time.perf_counter() - started
        config_maps = [o for o in exported.objects if o.type == "configmaps"]
        # The namespace's own ConfigMap (kube-root-ca.crt) comes with the ones made here.
        assert len(config_maps) >= count, (len(config_maps), count)
        return seconds

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--counts",
        default="1000,10000,100000",
        help="ConfigMaps per namespace, comma-separated (default 1000,10000,100000)",
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs of each (default 3)")
    parser.add_argument("--workdir", type=Path, help="default: a fresh temporary directory")
    args = parser.parse_args()
    counts = [int(c) for c in args.counts.split(",")]
    work = args.workdir or Path(tempfile.mkdtemp(prefix="lifeboat-bench-export-"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"servers in {work} ...", flush=True)
    kube = start_kube(work / "kube")
    s3 = start_s3(work / "s3")
    try:
        Minio(s3.endpoint.removeprefix("http://"), s3.access_key, s3.secret_key,
              secure=False).make_bucket(BUCKET)  # fmt: skip
        backend = open_backend(
            LocationAddress(LocationKind.S3, s3.endpoint, BUCKET),
            AccessKeys(s3.access_key, s3.secret_key),
        )
        location = OpenLocation(
            backend=backend,
            address=LocationAddress(LocationKind.S3, s3.endpoint, BUCKET),
            prefix="bench",
            key=LOCATION_KEY,
            keys=AccessKeys(s3.access_key, s3.secret_key),
        )
        kubeconfig = yaml.safe_load(kube.kubeconfig.read_text())
        rows = []
        for count in counts:
            namespace = f"bench-{count}"
            started = time.perf_counter()
            _fill(kube.kubeconfig, namespace, count)
            print(f"{count} ConfigMaps made in {time.perf_counter() - started:.0f} s", flush=True)
            tools = {
                "kubectl": _kubectl(kube.kubeconfig, namespace, work / "kubectl.json"),
                "lifeboat": _lifeboat(kubeconfig, location, namespace, count),
            }
            times: dict[str, list[float]] = {name: [] for name in tools}
            for run in range(args.repeat):
                order = list(tools) if run % 2 == 0 else list(reversed(tools))
                for name in order:
                    times[name].append(tools[name]())
                    print(f"  {count} {name} run {run + 1}: {times[name][-1]:.2f} s", flush=True)
            rows.append((count, statistics.median(times["kubectl"]),
                         statistics.median(times["lifeboat"])))  # fmt: skip
        print()
        print(f"{'objects':>8} {'kubectl s':>10} {'lifeboat s':>11} {'ratio':>6} "
              f"{'kubectl us/obj':>15} {'lifeboat us/obj':>16}")  # fmt: skip
        for count, anchor, ours in rows:
            print(f"{count:>8} {anchor:>10.2f} {ours:>11.2f} {ours / anchor:>6.2f} "
                  f"{anchor / count * 1e6:>15.0f} {ours / count * 1e6:>16.0f}")  # fmt: skip
        print(f"(median of {args.repeat}, alternating order; aim: ratio <= 1.3)")
    finally:
        stop_s3(work / "s3")
        stop_kube(work / "kube")
        if not args.workdir:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
