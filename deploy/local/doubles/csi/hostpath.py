"""The hostpath side of the CSI driver, what its plugin does on the node: volumes are
directories, snapshots are copies of them.

    home/volumes/<pv>/              a volume's data: the PV's hostPath
    home/snapshots/<handle>/        a snapshot's copy; the handle is the VolumeSnapshot's uid
    home/snapshots/<handle>.json    when it was cut and its restore size

No API calls here: the provisioner and the snapshot controller decide, this keeps the data.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

from kubernetes.utils import parse_quantity

from deploy.local.doubles.csi.objects import name_of, plain
from deploy.local.doubles.kube_json import Obj

VOLUMES_DIR = "volumes"
SNAPSHOTS_DIR = "snapshots"


class HostpathNode:
    """The volumes and snapshots of the driver, as directories under its home."""

    def __init__(self, home: Path) -> None:
        self.volumes = home / VOLUMES_DIR
        self.snapshots = home / SNAPSHOTS_DIR
        self.volumes.mkdir(parents=True, exist_ok=True)
        self.snapshots.mkdir(parents=True, exist_ok=True)

    def create_volume(self, name: str, data: Path | None) -> Path:
        """The volume's directory, empty or a copy of `data`; one that exists is kept."""
        target = self.volumes / name
        if not target.exists():
            staging = self.volumes / f".{name}.tmp"
            shutil.rmtree(staging, ignore_errors=True)
            if data is None:
                staging.mkdir()
            else:
                shutil.copytree(data, staging, symlinks=True)
            # Renamed into place only when complete, so a crash mid-copy leaves no half volume.
            staging.rename(target)
        return target

    def delete_volume(self, name: str) -> None:
        """Remove a volume's data; one already gone is fine."""
        shutil.rmtree(self.volumes / plain(name), ignore_errors=True)

    def snapshot_data(self, handle: str) -> Path:
        """The directory holding a snapshot's copy."""
        return self.snapshots / plain(handle)

    def cut(self, handle: str, volume: Obj) -> None:
        """Cut the snapshot: a copy of the volume's directory as it is now, and its metadata.

        Like a CSI snapshot of a mounted volume the copy is crash-consistent, not frozen:
        quiescing writers is the job of the backup's pre-exec rules.
        """
        cut = time.time_ns()
        target = self.snapshots / plain(handle)
        if not target.exists():
            staging = self.snapshots / f".{handle}.tmp"
            shutil.rmtree(staging, ignore_errors=True)
            # copy2 keeps modes and times; symlinks stay links, as in the volume.
            shutil.copytree(volume["spec"]["hostPath"]["path"], staging, symlinks=True)
            staging.rename(target)
        info = self._info_file(handle)
        if not info.exists():
            # A CSI snapshot's restore size is the size of its volume, not of the data in it.
            size = int(parse_quantity(volume["spec"]["capacity"]["storage"]))
            record = {"creationTime": cut, "restoreSize": size, "volume": name_of(volume)}
            staging_info = info.with_name(f".{info.name}.tmp")
            staging_info.write_text(json.dumps(record))
            staging_info.rename(info)

    def info(self, handle: str) -> Obj | None:
        """When a snapshot was cut and its restore size; None when its data is missing."""
        if not handle or not (self.snapshots / plain(handle)).is_dir():
            return None
        try:
            info: Obj = json.loads(self._info_file(handle).read_text())
        except (OSError, ValueError):
            return None
        return info

    def remove_snapshot(self, handle: str) -> None:
        """Remove a snapshot's copy and its record; one already gone is fine."""
        shutil.rmtree(self.snapshots / plain(handle), ignore_errors=True)
        self._info_file(handle).unlink(missing_ok=True)

    def _info_file(self, handle: str) -> Path:
        """When a snapshot was cut and its restore size, kept beside its copy."""
        return self.snapshots / f"{plain(handle)}.json"
