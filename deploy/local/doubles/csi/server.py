"""The dev cluster's hostpath CSI driver: volumes are directories, snapshots are copies of them.

    python -m deploy.local.doubles.csi.server --home DIR --kubeconfig K [--ready-delay SECONDS]

The dev cluster has no node, no CSI driver and no external-provisioner or external-snapshotter,
so this process plays all of them for the driver `hostpath.csi.lifeboat.dev`, through the real
API server and its real objects only (PersistentVolumeClaim, PersistentVolume, VolumeSnapshot,
VolumeSnapshotContent, VolumeSnapshotClass, StorageClass). Lifeboat's code therefore runs
unchanged against it and against a real cluster.

It is a level-triggered reconciler (`main_loop.run_controller`): every pass lists what it cares
about and hands each object to the component that plays its controller: `provisioner`
(claims and volumes), `snapshot_controller` (snapshots and their contents), both keeping their
data through `hostpath` (the node's side: directories and copies of them).

    DIR/volumes/<pv>/              a volume's data: the PV's hostPath
    DIR/snapshots/<handle>/        a snapshot's copy; the handle is the VolumeSnapshot's uid
    DIR/snapshots/<handle>.json    when it was cut and its restore size
    DIR/csi-log.jsonl              one JSON line per action
    DIR/ready                      this process's PID, after its first pass over the cluster
"""

from __future__ import annotations

import argparse
import os
import threading
from collections.abc import Callable, Iterable
from functools import partial
from pathlib import Path

from kubernetes.client.exceptions import ApiException

from deploy.local.doubles.csi.hostpath import HostpathNode
from deploy.local.doubles.csi.objects import (
    CORE,
    SNAPSHOT_API,
    STORAGE_CLASSES,
    Journal,
    api_message,
    name_of,
    ours,
    ref_of,
    uid_of,
)
from deploy.local.doubles.csi.provisioner import Provisioner
from deploy.local.doubles.csi.snapshot_controller import SnapshotController
from deploy.local.doubles.kube_json import Kube
from deploy.local.doubles.main_loop import run_controller, start_process
from deploy.local.doubles.snapshot_crds import CLASSES, CONTENTS, DRIVER, SNAPSHOTS

ACTION_LOG = "csi-log.jsonl"
READY_FILE = "ready"
READY_DELAY_ENV = "LIFEBOAT_CSI_READY_DELAY"
USER_AGENT = "lifeboat-hostpath-csi"


class HostpathDriver:
    """Provisioner and snapshotter of `hostpath.csi.lifeboat.dev`, one pass at a time."""

    def __init__(self, home: Path, kube: Kube, journal: Journal, ready_delay: float) -> None:
        self.kube = kube
        self.journal = journal
        node = HostpathNode(home)
        self.provisioner = Provisioner(kube, journal, node)
        self.snapshots = SnapshotController(kube, journal, node, ready_delay)

    def reconcile(self) -> None:
        """Read the cluster, then bring every object of this driver where it should be.

        Claims are listed before volumes so that a volume whose claim is missing from the list
        really lost it (it was created before the list); deletions are still confirmed by a
        direct read.
        """
        storage_classes = {name_of(sc): sc for sc in self.kube.list(STORAGE_CLASSES)}
        claims = self.kube.list(f"{CORE}/persistentvolumeclaims")
        volumes = {name_of(pv): pv for pv in self.kube.list(f"{CORE}/persistentvolumes")}
        classes = {name_of(c): c for c in self.kube.list(f"{SNAPSHOT_API}/{CLASSES}")}
        contents = {name_of(c): c for c in self.kube.list(f"{SNAPSHOT_API}/{CONTENTS}")}
        snapshots = self.kube.list(f"{SNAPSHOT_API}/{SNAPSHOTS}")
        by_claim = {
            pv["spec"]["claimRef"].get("uid"): pv
            for pv in volumes.values()
            if ours(pv) and pv["spec"].get("claimRef")
        }
        claim_uids = {claim["metadata"]["uid"] for claim in claims}

        for claim in claims:
            sc = storage_classes.get(claim["spec"].get("storageClassName") or "")
            if sc is None or sc.get("provisioner") != DRIVER:
                continue
            volume = by_claim.get(uid_of(claim))
            self._guard(
                f"pvc/{ref_of(claim)}",
                partial(self.provisioner.claim, claim, sc, volume, snapshots, contents),
            )
        for pv in volumes.values():
            if ours(pv):
                self._guard(f"pv/{name_of(pv)}", partial(self.provisioner.volume, pv, claim_uids))
        # Contents before snapshots, so snapshots show their contents' newest state.
        for content in list(contents.values()):
            if content["spec"].get("driver") == DRIVER:
                self._guard(
                    f"vsc/{name_of(content)}", partial(self.snapshots.content, content, contents)
                )
        for snapshot in snapshots:
            self._guard(
                f"vs/{ref_of(snapshot)}",
                partial(self.snapshots.snapshot, snapshot, classes, contents),
            )

    def _guard(self, key: str, action: Callable[[], None]) -> None:
        """Run one object's step; its failure is reported and retried next pass, not fatal."""
        try:
            action()
        except ApiException as error:
            if error.status == 409:
                # Someone changed the object meanwhile; the next pass sees the new state.
                return
            self.journal.problem(key, "error", api_message(error))
        except (OSError, ValueError, KeyError, TypeError) as error:
            # Files that cannot be copied, objects missing a field: this object only.
            self.journal.problem(key, "error", f"{type(error).__name__}: {error}")


def run(home: Path, kubeconfig: Path, ready_delay: float, stop: threading.Event) -> None:
    """Reconcile until `stop` is set; writes the ready marker after the first good pass."""
    journal = Journal(home / ACTION_LOG)
    kube = Kube(kubeconfig, USER_AGENT)
    driver = HostpathDriver(home, kube, journal, ready_delay)
    journal.record("start", pid=os.getpid(), readyDelay=ready_delay, kubeconfig=str(kubeconfig))
    try:
        run_controller(driver.reconcile, kube, home / READY_FILE, stop, journal.record)
    finally:
        journal.record("stop", pid=os.getpid())


def main(argv: Iterable[str] | None = None) -> None:
    """Parse the command line, handle SIGTERM and SIGINT by finishing the current pass, run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--home", type=Path, required=True, help="volumes, snapshots and logs")
    parser.add_argument("--kubeconfig", type=Path, required=True)
    parser.add_argument(
        "--ready-delay",
        type=float,
        default=float(os.environ.get(READY_DELAY_ENV, "0")),
        help=f"seconds a snapshot stays unready after its cut (default ${READY_DELAY_ENV} or 0)",
    )
    args = parser.parse_args(None if argv is None else list(argv))
    stop = threading.Event()
    start_process(stop.set, stopping="stopping after the current pass")
    home: Path = args.home.resolve()
    home.mkdir(parents=True, exist_ok=True)
    run(home, args.kubeconfig.resolve(), args.ready_delay, stop)


if __name__ == "__main__":
    main()
