"""Verify a snapshot: restore it into an empty directory, then compare what is there with
what the snapshot recorded, file by file.

A snapshot records each file's chunks as keyed BLAKE3 hashes of their plaintext, in file
order, with their sizes. So the restored file is read back along those boundaries and each
piece hashed again with the location's hash key: equal hashes mean equal content, without
downloading anything a second time. Types, sizes, modes, file times and symlink targets are
compared too, and anything in the directory that the snapshot does not list is reported.

Before the restore, every object the snapshot's chunks live in is looked up, so a chunk
missing from the repository is reported with the files that need it (the restore itself stops
at the first chunk it cannot read).
"""

from __future__ import annotations

import os
import stat
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from activities.mover.check import blob_key
from activities.mover.errors import MoverError
from activities.mover.progress import Progress, ProgressCallback, Throttle
from activities.mover.restore import restore
from activities.mover.snapshot import ROOT_PATH, Entry, EntryType, Tree, fs_path
from activities.mover.store import ChunkStore

PROGRESS_SECONDS = 0.5
# The most differences one volume reports: past that, the count says how many more.
MAX_DIFFERENCES = 200
_READ = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC


@dataclass
class VerifySummary:
    """The result of a verification: what was compared, and every difference found."""

    snapshot_id: str
    files: int = 0
    bytes_checked: int = 0
    restored: bool = False
    # {"path": relative path ("" for the volume as a whole), "problem": what differs}
    differences: list[dict[str, str]] = field(default_factory=list)
    differences_total: int = 0
    seconds: float = 0.0


def verify(
    snapshot_id: str,
    store: ChunkStore,
    target_dir: Path,
    *,
    progress: ProgressCallback | None = None,
    progress_seconds: float = PROGRESS_SECONDS,
) -> VerifySummary:
    """Restore snapshot `snapshot_id` into `target_dir` (empty, or missing) and compare."""
    started = time.monotonic()
    tree = store.read_snapshot(snapshot_id)
    summary = VerifySummary(snapshot_id=tree.id)
    differences = missing_chunks(store, tree)
    try:
        restore(
            snapshot_id, store, target_dir, progress=progress, progress_seconds=progress_seconds
        )
        summary.restored = True
    except MoverError as error:
        differences.append({"path": "", "problem": f"the restore failed: {error}"})
    if summary.restored:
        differences += compare(tree, store, target_dir, summary, progress, progress_seconds)
    summary.differences_total = len(differences)
    summary.differences = differences[:MAX_DIFFERENCES]
    summary.seconds = round(time.monotonic() - started, 3)
    return summary


def missing_chunks(store: ChunkStore, tree: Tree) -> list[dict[str, str]]:
    """A difference per file that needs a chunk whose object is not in the repository."""
    keys = {chunk_id: blob_key(store, chunk_id, loc) for chunk_id, loc in tree.locations.items()}
    objects = sorted(set(keys.values()))
    with ThreadPoolExecutor(store.workers, thread_name_prefix="verify") as pool:
        found = dict(zip(objects, pool.map(store.exists, objects), strict=True))
    differences = []
    for entry in tree.entries:
        gone = [chunk_id for chunk_id, _ in entry.chunks if not found[keys[chunk_id]]]
        if gone:
            differences.append({
                "path": entry.path,
                "problem": f"{len(gone)} of its chunks are missing from the repository "
                f"(chunk {gone[0].hex()}, object {keys[gone[0]]})",
            })  # fmt: skip
    return differences


def compare(
    tree: Tree,
    store: ChunkStore,
    root: Path,
    summary: VerifySummary,
    progress: ProgressCallback | None = None,
    progress_seconds: float = PROGRESS_SECONDS,
) -> list[dict[str, str]]:
    """What differs between the directory `root` and the tree, entry by entry."""
    throttle = Throttle(progress, progress_seconds)
    files = [e for e in tree.entries if e.type == EntryType.FILE]
    total = sum(e.size for e in files)
    differences: list[dict[str, str]] = []
    for entry in tree.entries:
        problem = _compare_entry(entry, fs_path(str(root), entry.path), store)
        if problem:
            differences.append({"path": entry.path, "problem": problem})
        if entry.type == EntryType.FILE:
            summary.files += 1
            summary.bytes_checked += entry.size
        throttle.report(
            lambda: Progress("verify", summary.files, len(files), summary.bytes_checked, total, 0)
        )
    listed = {e.path for e in tree.entries}
    for directory, dirs, names in os.walk(root):
        for name in [*dirs, *names]:
            relative = Path(directory, name).relative_to(root).as_posix()
            if relative not in listed:
                differences.append({"path": relative, "problem": "not in the backup"})
    return differences


def _compare_entry(entry: Entry, path: str, store: ChunkStore) -> str:
    """What differs for one entry ('' when nothing does)."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return "missing from the restored volume"
    found = _type(info.st_mode)
    if found != entry.type:
        return f"is a {found or 'special file'}, the backup has a {entry.type}"
    if entry.type == EntryType.SYMLINK:
        target = os.readlink(path)
        return "" if target == entry.target else f"points to {target!r}, not {entry.target!r}"
    if entry.type == EntryType.FILE:
        if info.st_size != entry.size:
            return f"has {info.st_size} bytes, the backup has {entry.size}"
        if changed := _changed_content(entry, path, store):
            return changed
    if entry.path != ROOT_PATH and stat.S_IMODE(info.st_mode) != entry.mode:
        return f"mode {stat.S_IMODE(info.st_mode):o}, the backup has {entry.mode:o}"
    if entry.type == EntryType.FILE and info.st_mtime_ns != entry.mtime_ns:
        return f"modified at {info.st_mtime_ns} ns, the backup has {entry.mtime_ns} ns"
    return ""


def _changed_content(entry: Entry, path: str, store: ChunkStore) -> str:
    """Where the file's content first differs from its recorded chunks ('' if nowhere)."""
    fd = os.open(path, _READ)
    try:
        offset = 0
        for chunk_id, size in entry.chunks:
            if store.codec.chunk_id(os.pread(fd, size, offset)) != chunk_id:
                return (
                    f"content differs from the backup in bytes {offset}-{offset + size - 1} "
                    f"(chunk {chunk_id.hex()})"
                )
            offset += size
    finally:
        os.close(fd)
    return ""


def _type(mode: int) -> EntryType | None:
    if stat.S_ISREG(mode):
        return EntryType.FILE
    if stat.S_ISDIR(mode):
        return EntryType.DIR
    if stat.S_ISLNK(mode):
        return EntryType.SYMLINK
    return None
