"""Restore a snapshot into a directory (a new volume's root).

Directories come first, then the files that are not exactly one fetched chunk (large files,
empty ones, runs of zeros), created at their final size. A thread pool then fetches every
needed chunk once (whole chunk objects, or coalesced byte ranges of packs), checks it and
writes it in place at each offset that uses it; a file that is a single chunk (most small
files) is created, written and given its owner, mode and times by the thread that fetched
it. The remaining files' metadata follows, then symlinks, then directories deepest first so
that writing into them is over before they turn read-only.
"""

from __future__ import annotations

import os
import time
from collections import defaultdict
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

from activities.mover.chunks import CHUNK_MAX, CHUNK_MIN
from activities.mover.errors import IntegrityError, MoverError
from activities.mover.progress import Progress, ProgressCallback, RestoreSummary, Throttle
from activities.mover.snapshot import ROOT_PATH, Entry, EntryType, Tree, fs_path
from activities.mover.store import ChunkStore

PROGRESS_SECONDS = 0.5
# Pack ranges closer than this are read in one request: a request costs about as much time
# as this many bytes on a fast link.
COALESCE_GAP = 1024 * 1024
MAX_REQUEST = 32 * 1024 * 1024
_WRITE = os.O_WRONLY | os.O_NOFOLLOW | os.O_CLOEXEC


@dataclass
class _Target:
    """A place a chunk goes. `whole` is set when the chunk is all of that file: then the
    writing thread creates, fills and finishes the file itself (most small files)."""

    path: str
    offset: int
    whole: Entry | None = None


@dataclass
class _Chunk:
    chunk_id: bytes
    size: int
    offset: int  # within the fetched object
    length: int
    targets: list[_Target] = field(default_factory=list)


@dataclass
class _Fetch:
    """One GET: a whole chunk object or one byte range of a pack."""

    key: str
    offset: int
    length: int
    chunks: list[_Chunk]


def restore(
    snapshot_id: str,
    store: ChunkStore,
    target_dir: Path,
    *,
    progress: ProgressCallback | None = None,
    progress_seconds: float = PROGRESS_SECONDS,
) -> RestoreSummary:
    """Restore snapshot `snapshot_id` from `store` into `target_dir` and summarize it.

    Every chunk is checked twice (its AES-GCM tag, then the keyed hash of its plaintext); the
    first that fails stops the restore with an `IntegrityError` naming the chunk and object,
    leaving what was written so far. Owners are restored when running as root. `progress` is
    called from this thread at most every `progress_seconds`.
    """
    started = time.monotonic()
    tree = store.read_snapshot(snapshot_id)
    root = str(target_dir)
    os.makedirs(root, exist_ok=True)
    files = [e for e in tree.entries if e.type == EntryType.FILE]
    directories = [e for e in tree.entries if e.type == EntryType.DIR]
    symlinks = [e for e in tree.entries if e.type == EntryType.SYMLINK]
    for entry in directories:
        _make_directory(fs_path(root, entry.path))
    fetches, others = _plan(tree, store, root, files)
    as_root = os.geteuid() == 0

    throttle = Throttle(progress, progress_seconds)
    total = sum(e.size for e in files)
    done = total - sum(c.size * len(c.targets) for f in fetches for c in f.chunks)
    downloaded = 0
    # Writes still due per file, to count the files that are complete.
    due: dict[str, int] = defaultdict(int)
    for fetch in fetches:
        for chunk in fetch.chunks:
            for target in chunk.targets:
                due[target.path] += 1
    files_done = len(files) - len(due)

    def report() -> Progress:
        return Progress("restore", files_done, len(files), done, total, downloaded)

    with ThreadPoolExecutor(store.workers, thread_name_prefix="mover") as pool:
        running: set[Future[_Done]] = set()
        queue = iter(fetches)
        try:
            while True:
                for fetch in queue:
                    running.add(pool.submit(_fetch, store, fetch, as_root))
                    # Bound the data in memory: a few requests per thread.
                    if len(running) >= 2 * store.workers:
                        break
                if not running:
                    break
                finished, running = wait(running, max(progress_seconds, 0.05), FIRST_COMPLETED)
                for future in finished:
                    result = future.result()
                    done += result.written
                    downloaded += result.received
                    for path in result.paths:
                        due[path] -= 1
                        if not due[path]:
                            files_done += 1
                throttle.report(report)
        finally:
            for future in running:
                future.cancel()

    for entry in others:
        _set_metadata(fs_path(root, entry.path), entry, as_root)
    for entry in symlinks:
        _make_symlink(fs_path(root, entry.path), entry, as_root)
    for entry in reversed(directories):
        _set_metadata(fs_path(root, entry.path), entry, as_root)
    return RestoreSummary(
        snapshot_id=tree.id,
        files=len(files),
        directories=sum(1 for e in directories if e.path != ROOT_PATH),
        symlinks=len(symlinks),
        bytes_written=total,
        bytes_downloaded=downloaded,
        chunks=sum(len(f.chunks) for f in fetches),
        seconds=round(time.monotonic() - started, 3),
    )


def _make_directory(path: str) -> None:
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        if not os.path.isdir(path) or os.path.islink(path):
            raise MoverError(
                f"cannot restore directory {path!r}: something else is there"
            ) from None


def _plan(
    tree: Tree, store: ChunkStore, root: str, files: list[Entry]
) -> tuple[list[_Fetch], list[Entry]]:
    """The requests that fill the files, and the files this thread creates (at their size)
    and finishes: those of other than one fetched chunk."""
    # A run of zeros is cut into chunks of the minimum or maximum size; such chunks are not
    # fetched, so sparse files (disk images) stay sparse and restore fast.
    zeros = {store.codec.chunk_id(bytes(size)): size for size in (CHUNK_MIN, CHUNK_MAX)}
    wanted: dict[bytes, _Chunk] = {}
    others: list[Entry] = []
    for entry in files:
        path = fs_path(root, entry.path)
        fetched = [
            (chunk_id, size, offset)
            for (chunk_id, size), offset in zip(entry.chunks, _offsets(entry), strict=True)
            if zeros.get(chunk_id) != size
        ]
        whole = len(fetched) == len(entry.chunks) == 1
        if not whole:
            others.append(entry)
            _create(path, entry.size)
        for chunk_id, size, offset in fetched:
            chunk = wanted.get(chunk_id)
            if chunk is None:
                chunk = wanted[chunk_id] = _Chunk(chunk_id, size, 0, 0)
            chunk.targets.append(_Target(path, offset, entry if whole else None))

    fetches: list[_Fetch] = []
    packs: dict[str, list[_Chunk]] = defaultdict(list)
    for chunk in wanted.values():
        location = tree.locations[chunk.chunk_id]
        chunk.length = location.length
        if location.pack:
            chunk.offset = location.offset
            packs[location.pack].append(chunk)
        else:
            fetches.append(_Fetch(store.layout.chunk(chunk.chunk_id), 0, 0, [chunk]))
    for pack_id, chunks in packs.items():
        key = store.layout.pack(pack_id)
        chunks.sort(key=lambda c: c.offset)
        group = [chunks[0]]
        for chunk in chunks[1:]:
            start, end = group[0].offset, group[-1].offset + group[-1].length
            if chunk.offset - end <= COALESCE_GAP and chunk.offset + chunk.length - start <= (
                MAX_REQUEST
            ):
                group.append(chunk)
            else:
                fetches.append(_range(key, group))
                group = [chunk]
        fetches.append(_range(key, group))
    return fetches, others


def _offsets(entry: Entry) -> list[int]:
    offsets, offset = [], 0
    for _, size in entry.chunks:
        offsets.append(offset)
        offset += size
    return offsets


def _create(path: str, size: int) -> None:
    try:
        fd = os.open(path, _WRITE | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.ftruncate(fd, size)
        finally:
            os.close(fd)
    except OSError as error:
        raise MoverError(f"cannot create {path!r}: {error.strerror}") from error


def _range(key: str, chunks: list[_Chunk]) -> _Fetch:
    start = chunks[0].offset
    end = chunks[-1].offset + chunks[-1].length
    for chunk in chunks:
        chunk.offset -= start
    return _Fetch(key, start, end - start, chunks)


@dataclass
class _Done:
    written: int
    received: int
    paths: list[str]


def _fetch(store: ChunkStore, fetch: _Fetch, as_root: bool) -> _Done:
    """Download, check and write one request's chunks."""
    data = memoryview(store.get(fetch.key, offset=fetch.offset, length=fetch.length))
    done = _Done(0, len(data), [])
    for chunk in fetch.chunks:
        blob = data[chunk.offset : chunk.offset + chunk.length]
        if len(blob) != chunk.length:
            raise IntegrityError(
                f"chunk {chunk.chunk_id.hex()} (in {fetch.key}) is truncated: "
                f"{len(blob)} of {chunk.length} bytes"
            )
        plaintext = store.codec.open_chunk(chunk.chunk_id, blob, where=fetch.key)
        if len(plaintext) != chunk.size:
            raise IntegrityError(
                f"chunk {chunk.chunk_id.hex()} (in {fetch.key}) has {len(plaintext)} bytes, "
                f"the snapshot says {chunk.size}"
            )
        for target in chunk.targets:
            if target.whole is not None:
                _write_file(target.path, plaintext, target.whole, as_root)
            else:
                _write_at(target.path, plaintext, target.offset)
            done.written += chunk.size
            done.paths.append(target.path)
    return done


def _write_at(path: str, data: bytes, offset: int) -> None:
    try:
        fd = os.open(path, _WRITE)
        try:
            _write_all(fd, data, offset)
        finally:
            os.close(fd)
    except OSError as error:
        raise MoverError(f"cannot write {path!r}: {error.strerror}") from error


def _write_file(path: str, data: bytes, entry: Entry, as_root: bool) -> None:
    """Create a file with all of its content and its metadata, through one descriptor."""
    try:
        fd = os.open(path, _WRITE | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            _write_all(fd, data, 0)
            if as_root:
                os.fchown(fd, entry.uid, entry.gid)
            os.fchmod(fd, entry.mode)
            os.utime(fd, ns=(entry.mtime_ns, entry.mtime_ns))
        finally:
            os.close(fd)
    except OSError as error:
        raise MoverError(f"cannot write {path!r}: {error.strerror}") from error


def _write_all(fd: int, data: bytes, offset: int) -> None:
    view = memoryview(data)
    while view:
        count = os.pwrite(fd, view, offset)
        view, offset = view[count:], offset + count


def _set_metadata(path: str, entry: Entry, as_root: bool) -> None:
    try:
        # Owner before mode: chown clears set-user-id and set-group-id bits.
        if as_root:
            os.chown(path, entry.uid, entry.gid, follow_symlinks=False)
        os.chmod(path, entry.mode)
        os.utime(path, ns=(entry.mtime_ns, entry.mtime_ns), follow_symlinks=False)
    except OSError as error:
        raise MoverError(f"cannot set the owner, mode or times of {path!r}: {error}") from error


def _make_symlink(path: str, entry: Entry, as_root: bool) -> None:
    try:
        if os.path.lexists(path):
            os.unlink(path)
        os.symlink(entry.target, path)
        if as_root:
            os.lchown(path, entry.uid, entry.gid)
        os.utime(path, ns=(entry.mtime_ns, entry.mtime_ns), follow_symlinks=False)
    except OSError as error:
        raise MoverError(f"cannot create symlink {path!r}: {error}") from error
