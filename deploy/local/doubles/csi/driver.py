"""The dev cluster's hostpath CSI driver: install its API objects, start, find and stop it.

The driver itself is `deploy.local.doubles.csi.server`, run as its own process. Under its home:

    home/volumes/<pv>/          each volume's data (the PV's hostPath)
    home/snapshots/<handle>/    each snapshot's point-in-time copy
    home/csi-log.jsonl          one JSON line per action the driver took
    home/log, home/pid          the process's output and PID
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from deploy.local.doubles.csi.hostpath import SNAPSHOTS_DIR, VOLUMES_DIR
from deploy.local.doubles.csi.server import READY_DELAY_ENV, READY_FILE
from deploy.local.doubles.snapshot_crds import (
    CONTENTS,
    GROUP,
    SNAPSHOT_CLASS,
    SNAPSHOTS,
    STORAGE_CLASS,
    VERSION,
    install_snapshot_api,
)
from deploy.local.servers.procs import ManagedProcess

_NAME = "csi"
# The driver is started as `python -m deploy.local.doubles.csi.server` from its home directory.
_REPO_ROOT = Path(__file__).resolve().parents[4]
START_TIMEOUT = 60.0


class VolumeNotFound(LookupError):
    """A claim has no hostpath volume (yet); the message says which and why."""


@dataclass(frozen=True)
class CsiDriver:
    """Where a running hostpath driver keeps its data and the classes that select it."""

    home: Path
    volumes_dir: Path
    snapshots_dir: Path
    storage_class: str
    snapshot_class: str


def _driver(home: Path) -> CsiDriver:
    return CsiDriver(
        home=home,
        volumes_dir=home / VOLUMES_DIR,
        snapshots_dir=home / SNAPSHOTS_DIR,
        storage_class=STORAGE_CLASS,
        snapshot_class=SNAPSHOT_CLASS,
    )


def _api(kubeconfig: Path) -> client.ApiClient:
    api: client.ApiClient = config.new_client_from_config(config_file=str(kubeconfig))
    return api


def start_csi(home: Path, kubeconfig: Path, *, ready_delay: float = 0.0) -> CsiDriver:
    """Install the snapshot CRDs and classes, then start the driver; wait for its first pass.

    Returns the running driver unchanged when it already runs from this home. `ready_delay`
    keeps each new snapshot unready for that many seconds after its copy is cut, so tests can
    watch a backup wait for readiness.
    """
    home = home.resolve()
    running = running_csi(home)
    if running is not None:
        return running
    with _api(kubeconfig) as api:
        install_snapshot_api(api)
    process = ManagedProcess(_NAME, home)
    # A marker left by a killed driver must not pass for the new one's.
    (home / READY_FILE).unlink(missing_ok=True)
    cmd = [
        sys.executable, "-m", "deploy.local.doubles.csi.server",
        "--home", str(home), "--kubeconfig", str(kubeconfig.resolve()),
    ]  # fmt: skip

    def healthy() -> bool:
        pid = process.pid()
        try:
            return pid is not None and (home / READY_FILE).read_text().strip() == str(pid)
        except OSError:
            return False

    process.start(
        cmd,
        env={"PYTHONPATH": str(_REPO_ROOT), READY_DELAY_ENV: str(ready_delay)},
        healthy=healthy,
        timeout=START_TIMEOUT,
    )
    return _driver(home)


def running_csi(home: Path) -> CsiDriver | None:
    """The driver started from this home, when it still runs."""
    home = home.resolve()
    if ManagedProcess(_NAME, home).pid() is None:
        return None
    return _driver(home)


def stop_csi(home: Path) -> None:
    """Stop the driver started from this home; volumes and snapshots stay for the next start."""
    ManagedProcess(_NAME, home.resolve()).stop()


def volume_dir(home: Path, kubeconfig: Path, namespace: str, pvc: str) -> Path:
    """The directory holding a bound claim's data, for writing "into the volume" in tests.

    Raises VolumeNotFound when the claim does not exist, is not bound yet, or is bound to a
    volume this driver (from this home) did not provision.
    """
    where = f"PersistentVolumeClaim {namespace}/{pvc}"
    with _api(kubeconfig) as api:
        core = client.CoreV1Api(api)
        try:
            claim = core.read_namespaced_persistent_volume_claim(pvc, namespace)
        except ApiException as error:
            if error.status == 404:
                raise VolumeNotFound(f"{where} does not exist") from None
            raise
        phase = claim.status.phase if claim.status else None
        volume_name = claim.spec.volume_name if claim.spec else None
        if phase != "Bound" or not volume_name:
            raise VolumeNotFound(f"{where} is not bound yet (phase {phase}); wait for Bound")
        volume = core.read_persistent_volume(volume_name)
    host_path = volume.spec.host_path if volume.spec else None
    path = Path(host_path.path) if host_path else None
    if path is None or path.parent != home.resolve() / VOLUMES_DIR:
        raise VolumeNotFound(
            f"{where} is bound to {volume_name}, which is not a volume of the driver in {home}"
        )
    return path


def snapshot_dir(home: Path, kubeconfig: Path, namespace: str, snapshot: str) -> Path:
    """The directory holding a ready VolumeSnapshot's copy of its volume's data.

    Raises VolumeNotFound when the snapshot is not bound to content with a handle yet.
    """
    where = f"VolumeSnapshot {namespace}/{snapshot}"
    with _api(kubeconfig) as api:
        custom = client.CustomObjectsApi(api)
        found: Any = custom.get_namespaced_custom_object(
            GROUP, VERSION, namespace, SNAPSHOTS, snapshot
        )
        content_name = (found.get("status") or {}).get("boundVolumeSnapshotContentName")
        if not content_name:
            raise VolumeNotFound(f"{where} is not bound to a VolumeSnapshotContent yet")
        content: Any = custom.get_cluster_custom_object(GROUP, VERSION, CONTENTS, content_name)
    handle = (content.get("status") or {}).get("snapshotHandle")
    if not handle:
        raise VolumeNotFound(f"VolumeSnapshotContent {content_name} has no snapshot handle yet")
    return home.resolve() / SNAPSHOTS_DIR / str(handle)
