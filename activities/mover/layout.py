"""Object names of repository format version 1 under a location's prefix.

See the package docstring for what each object holds.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

FORMAT_VERSION = 1
ROOT = f"lifeboat-data/v{FORMAT_VERSION}"
# Snapshot ids name objects and travel through workflow history: keep them boring.
SNAPSHOT_ID = re.compile(r"^[0-9]{8}T[0-9]{6}Z-[0-9a-f]{8,32}$")
PACK_ID = re.compile(r"^[0-9a-f]{32}$")


@dataclass(frozen=True)
class Layout:
    """The keys of one repository: `<prefix>/lifeboat-data/v1/...`."""

    prefix: str

    @property
    def root(self) -> str:
        prefix = self.prefix.strip("/")
        return f"{prefix}/{ROOT}" if prefix else ROOT

    @property
    def chunks(self) -> str:
        return f"{self.root}/chunks/"

    @property
    def indexes(self) -> str:
        return f"{self.root}/index/"

    @property
    def snapshots(self) -> str:
        return f"{self.root}/snapshots/"

    def chunk(self, chunk_id: bytes) -> str:
        name = chunk_id.hex()
        return f"{self.chunks}{name[:2]}/{name}"

    def pack(self, pack_id: str) -> str:
        return f"{self.root}/packs/{pack_id[:2]}/{pack_id}"

    def index(self, pack_id: str) -> str:
        return f"{self.indexes}{pack_id}"

    def snapshot(self, snapshot_id: str) -> str:
        return f"{self.snapshots}{snapshot_id}.json.zst.enc"

    def checkpoints(self, run_id: str) -> str:
        return f"{self.root}/checkpoints/{run_id}/"

    def checkpoint(self, run_id: str, sequence: int) -> str:
        return f"{self.checkpoints(run_id)}{sequence:08d}.json.zst.enc"

    def relative(self, key: str) -> str:
        """A key without the prefix: the context sealed blobs are bound to, so that the same
        repository stays readable after its objects are copied under another prefix."""
        return key[len(self.root) + 1 :]


def check_snapshot_id(snapshot_id: str) -> str:
    """The id itself, or `ValueError` naming the expected shape."""
    if not SNAPSHOT_ID.match(snapshot_id):
        raise ValueError(
            f"snapshot id {snapshot_id!r} is malformed: expected <yyyymmdd>T<hhmmss>Z-<hex>, "
            "as printed by a backup"
        )
    return snapshot_id
