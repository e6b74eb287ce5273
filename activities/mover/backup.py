"""Back up a directory (a volume snapshot's contents) into a location's repository.

The calling thread walks the tree, reads files, cuts chunks and hashes them; chunks the
repository lacks go to a thread pool that compresses, encrypts and uploads them, so reading
overlaps uploading. A byte budget bounds the data in flight. Chunks smaller than the minimum
chunk size (small files, the tails of large ones) are packed: one PUT per few MiB instead of
one per file.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from activities.mover.chunks import CHUNK_MIN, SEGMENT_SIZE, file_chunks, read_buffer
from activities.mover.errors import MoverError
from activities.mover.progress import (
    Progress,
    ProgressCallback,
    ResumeState,
    SnapshotSummary,
    Throttle,
)
from activities.mover.snapshot import ROOT_PATH, Entry, EntryType, Location, Tree, new_snapshot_id
from activities.mover.store import ChunkStore

PROGRESS_SECONDS = 0.5
CHECKPOINT_SECONDS = 30.0
# Chunks below this plaintext size go into packs of up to PACK_LIMIT bytes. S3 servers that
# store objects in 4 MiB pieces (SeaweedFS) take a second piece for an object just over that:
# keeping packs within it cut the server's CPU for small files by a quarter.
PACK_THRESHOLD = CHUNK_MIN
PACK_LIMIT = 4 * 1024 * 1024
# Plaintext bytes handed to the pool and not yet uploaded (memory stays bounded).
IN_FLIGHT_BYTES = 96 * 1024 * 1024


def backup(
    source_dir: Path,
    store: ChunkStore,
    *,
    parent: str | None = None,
    progress: ProgressCallback | None = None,
    resume: ResumeState | None = None,
    progress_seconds: float = PROGRESS_SECONDS,
    checkpoint_seconds: float = CHECKPOINT_SECONDS,
) -> SnapshotSummary:
    """Back up `source_dir` into `store` as a new snapshot and summarize what it took.

    `parent` is the id of an earlier snapshot of the same source: files whose size, mtime,
    ctime and inode are unchanged reuse its chunks without being read. Every chunk already in
    the repository, from any backup of the location, is reused rather than uploaded.

    `progress` is called from this thread at most every `progress_seconds`; its `resume` field
    is the latest `ResumeState`. Every `checkpoint_seconds` the files whose chunks are all
    stored are recorded in a checkpoint object, so that a backup restarted with `resume` does
    not read them again. An exception raised by `progress` stops the backup and propagates.
    """
    return _Backup(
        source_dir,
        store,
        parent=parent,
        progress=Throttle(progress, progress_seconds),
        resume=resume,
        checkpoint_seconds=checkpoint_seconds,
    ).run()


def scan(root: Path) -> tuple[list[Entry], int]:
    """The entries under `root` (itself first, parents before children, names sorted) and the
    number of entries skipped (sockets, FIFOs, devices: they hold no data to restore)."""
    try:
        info = os.stat(root)
    except OSError as error:
        raise MoverError(f"source {str(root)!r} cannot be read: {error.strerror}") from error
    if not stat.S_ISDIR(info.st_mode):
        raise MoverError(f"source {str(root)!r} is not a directory")
    entries = [_entry(ROOT_PATH, info, "")]
    skipped = 0
    stack = [(str(root), "")]
    while stack:
        directory, relative = stack.pop()
        try:
            with os.scandir(directory) as listing:
                items = sorted(listing, key=lambda item: item.name)
        except OSError as error:
            raise MoverError(f"cannot list {directory!r}: {error.strerror}") from error
        subdirectories = []
        for item in items:
            path = f"{relative}/{item.name}" if relative else item.name
            try:
                info = item.stat(follow_symlinks=False)
                target = os.readlink(item.path) if stat.S_ISLNK(info.st_mode) else ""
            except OSError as error:
                raise MoverError(f"cannot read {item.path!r}: {error.strerror}") from error
            if stat.S_ISDIR(info.st_mode):
                entries.append(_entry(path, info, ""))
                subdirectories.append((item.path, path))
            elif stat.S_ISREG(info.st_mode) or stat.S_ISLNK(info.st_mode):
                entries.append(_entry(path, info, target))
            else:
                skipped += 1
        stack.extend(reversed(subdirectories))
    return entries, skipped


def _entry(path: str, info: os.stat_result, target: str) -> Entry:
    if stat.S_ISDIR(info.st_mode):
        kind = EntryType.DIR
    elif stat.S_ISLNK(info.st_mode):
        kind = EntryType.SYMLINK
    else:
        kind = EntryType.FILE
    return Entry(
        path=path,
        type=kind,
        mode=stat.S_IMODE(info.st_mode),
        uid=info.st_uid,
        gid=info.st_gid,
        mtime_ns=info.st_mtime_ns,
        size=info.st_size if kind == EntryType.FILE else 0,
        target=target,
        inode=info.st_ino if kind == EntryType.FILE else 0,
        ctime_ns=info.st_ctime_ns if kind == EntryType.FILE else 0,
    )


class _Budget:
    """Plaintext bytes in flight; `acquire` waits for uploads to free room."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._used = 0
        self._changed = threading.Condition()

    def acquire(self, size: int, check: Callable[[], None]) -> None:
        with self._changed:
            while self._used and self._used + size > self._limit:
                check()
                self._changed.wait(0.1)
            self._used += size

    def release(self, size: int) -> None:
        with self._changed:
            self._used -= size
            self._changed.notify_all()


class _Backup:
    def __init__(
        self,
        source: Path,
        store: ChunkStore,
        *,
        parent: str | None,
        progress: Throttle,
        resume: ResumeState | None,
        checkpoint_seconds: float,
    ) -> None:
        self.source = source
        self.store = store
        self.codec = store.codec
        self.parent = parent
        self.progress = progress
        self.resume = resume
        self.checkpoint_seconds = checkpoint_seconds
        self.run_id = resume.run_id if resume else new_snapshot_id()
        self.started = time.monotonic()

        self.buffer = read_buffer()
        self.lock = threading.Lock()
        self.budget = _Budget(IN_FLIGHT_BYTES)
        # Chunks known to be stored: listed, from the parent or checkpoints, or uploaded now.
        self.known: dict[bytes, Location] = {}
        # Chunks handed to the pool and not yet stored.
        self.pending: set[bytes] = set()
        self.pack: list[tuple[bytes, bytes]] = []
        self.pack_bytes = 0
        self.outstanding = 0
        self.idle = threading.Condition(self.lock)
        self.failure: BaseException | None = None

        self.entries: list[Entry] = []
        self.files_total = 0
        self.bytes_total = 0
        self.files_done = 0
        self.bytes_done = 0
        self.bytes_read = 0
        self.bytes_uploaded = 0
        self.chunks_new = 0
        self.chunks_reused = 0
        self.files_unchanged = 0

        # Checkpoints: entries before `frontier` have all their chunks stored.
        self.processed = 0
        self.frontier = 0
        self.frontier_files = 0
        self.frontier_bytes = 0
        self.checkpointed = 0
        self.sequence = 0
        self.last_checkpoint = time.monotonic()
        self.resume_state = resume

    # The calling thread.

    def run(self) -> SnapshotSummary:
        with ThreadPoolExecutor(self.store.workers, thread_name_prefix="mover") as pool:
            self.pool = pool
            try:
                return self._run()
            finally:
                pool.shutdown(wait=True, cancel_futures=True)

    def _run(self) -> SnapshotSummary:
        if self.resume and self.store.snapshot_exists(self.run_id):
            # The run finished before; only its report was lost.
            return self._summary_of(self.store.read_snapshot(self.run_id))
        # The repository's chunk list and the earlier trees load while the tree is scanned.
        known = self.pool.submit(self.store.known_chunks)
        parent = self.pool.submit(self.store.read_snapshot, self.parent) if self.parent else None
        checkpoints = (
            self.pool.submit(self.store.read_checkpoints, self.run_id) if self.resume else None
        )
        self.entries, _ = scan(self.source)
        files = [e for e in self.entries if e.type == EntryType.FILE]
        self.files_total = len(files)
        self.bytes_total = sum(e.size for e in files)

        before: dict[str, Entry] = {}
        if parent is not None:
            tree = parent.result()
            before.update((e.path, e) for e in tree.entries if e.type == EntryType.FILE)
            self.known.update(tree.locations)
        if checkpoints is not None:
            trees, self.sequence = checkpoints.result()
            for tree in trees:
                before.update((e.path, e) for e in tree.entries)
                self.known.update(tree.locations)
        self.known.update(known.result())

        for index, entry in enumerate(self.entries):
            if entry.type == EntryType.FILE:
                earlier = before.get(entry.path)
                if earlier is not None and entry.unchanged_since(earlier):
                    entry.chunks = earlier.chunks
                    self.files_unchanged += 1
                    self.bytes_done += entry.size
                else:
                    self._read(entry, earlier.chunks if earlier is not None else [])
                self.files_done += 1
            self.processed = index + 1
            self._tick()

        self._finish_uploads()
        tree = Tree(
            id=self.run_id,
            source=str(self.source),
            entries=self.entries,
            locations=self._locations(self.entries),
            parent=self.parent,
        )
        self._sent(self.store.write_snapshot(tree))
        # Leftover checkpoints only cost space; the snapshot is what counts.
        with contextlib.suppress(MoverError):
            self.store.delete_checkpoints(self.run_id)
        return self._summary_of(tree, finished_now=True)

    def _read(self, entry: Entry, previous: list[tuple[bytes, int]]) -> None:
        """Chunk a file, comparing against `previous` (its chunks last time) where it can."""
        path = os.path.join(self.source, *entry.path.split("/"))
        entry.chunks = []
        size = 0
        try:
            # Unbuffered: chunks are read straight into the shared buffer, with fewer system
            # calls per file than a buffered reader makes.
            with open(path, "rb", buffering=0) as stream:
                first_read = min(entry.size + 1, SEGMENT_SIZE)
                chunks = file_chunks(
                    stream,
                    self.codec.chunk_id,
                    previous=previous,
                    first_read=first_read,
                    buffer=self.buffer,
                )
                for view, chunk_id in chunks:
                    self._chunk(entry, view, chunk_id)
                    size += len(view)
                    self._tick()
        except OSError as error:
            raise MoverError(f"cannot read {path!r}: {error.strerror or error}") from error
        # A file that changed size since the scan is recorded as read.
        self.bytes_total += size - entry.size
        entry.size = size

    def _chunk(self, entry: Entry, view: memoryview, chunk_id: bytes) -> None:
        entry.chunks.append((chunk_id, len(view)))
        self.bytes_read += len(view)
        self.bytes_done += len(view)
        with self.lock:
            new = chunk_id not in self.known and chunk_id not in self.pending
            if new:
                self.pending.add(chunk_id)
        if not new:
            self.chunks_reused += 1
            return
        self.chunks_new += 1
        self.budget.acquire(len(view), self._check)
        # A copy: the view's buffer is refilled by the next read.
        self._submit(self._store_chunk, chunk_id, bytes(view))

    def _submit(self, task: Callable[..., None], *args: object) -> None:
        with self.lock:
            self.outstanding += 1
        future: Future[None] = self.pool.submit(task, *args)
        future.add_done_callback(self._done)

    def _done(self, future: Future[None]) -> None:
        error = None if future.cancelled() else future.exception()
        with self.lock:
            self.outstanding -= 1
            if error is not None and self.failure is None:
                self.failure = error
            self.idle.notify_all()

    def _check(self) -> None:
        """Raise the first failure of the pool, if any, in the calling thread."""
        failure = self.failure
        if failure is None:
            return
        if isinstance(failure, MoverError):
            raise failure
        raise MoverError(f"backup failed: {failure!r}") from failure

    def _tick(self) -> None:
        self._check()
        if time.monotonic() - self.last_checkpoint >= self.checkpoint_seconds:
            self._checkpoint()
        self.progress.report(self._progress)

    def _progress(self) -> Progress:
        return Progress(
            operation="backup",
            files_done=self.files_done,
            files_total=self.files_total,
            bytes_done=self.bytes_done,
            bytes_total=self.bytes_total,
            bytes_transferred=self.bytes_uploaded,
            resume=self.resume_state,
        )

    def _checkpoint(self) -> None:
        """Record the files whose chunks are all stored, then seal the open pack so that the
        small files waiting in it can be recorded by the next checkpoint."""
        self.last_checkpoint = time.monotonic()
        with self.lock:
            while self.frontier < self.processed:
                entry = self.entries[self.frontier]
                if entry.type == EntryType.FILE:
                    if any(chunk_id in self.pending for chunk_id, _ in entry.chunks):
                        break
                    self.frontier_files += 1
                    self.frontier_bytes += entry.size
                self.frontier += 1
        if self.frontier > self.checkpointed:
            done = [
                e
                for e in self.entries[self.checkpointed : self.frontier]
                if e.type == EntryType.FILE
            ]
            tree = Tree(self.run_id, str(self.source), done, self._locations(done))
            self._sent(self.store.write_checkpoint(self.run_id, self.sequence, tree))
            self.sequence += 1
            self.checkpointed = self.frontier
            self.resume_state = ResumeState(
                run_id=self.run_id,
                files_done=self.frontier_files,
                bytes_done=self.frontier_bytes,
                checkpoints=self.sequence,
            )
        self._flush_pack()

    def _locations(self, entries: list[Entry]) -> dict[bytes, Location]:
        with self.lock:
            return {cid: self.known[cid] for e in entries for cid, _ in e.chunks}

    def _flush_pack(self) -> None:
        with self.lock:
            blobs = self._take_pack()
        if blobs:
            self._submit(self._upload_pack, blobs)

    def _finish_uploads(self) -> None:
        """Wait for the pool, sealing the last pack once no chunk can join it any more."""
        while True:
            blobs = None
            with self.lock:
                if self.outstanding:
                    self.idle.wait(0.1)
                else:
                    blobs = self._take_pack()
                    if not blobs:
                        break
            if blobs:
                self._submit(self._upload_pack, blobs)
            # The tail of uploads may be long on a slow link: keep checkpointing through it.
            self._tick()
        self._check()

    def _summary_of(self, tree: Tree, *, finished_now: bool = False) -> SnapshotSummary:
        count = {kind: 0 for kind in EntryType}
        for entry in tree.entries:
            count[entry.type] += 1
        return SnapshotSummary(
            snapshot_id=tree.id,
            files=count[EntryType.FILE],
            directories=count[EntryType.DIR],
            symlinks=count[EntryType.SYMLINK],
            bytes_total=sum(e.size for e in tree.entries),
            bytes_read=self.bytes_read,
            bytes_uploaded=self.bytes_uploaded,
            chunks_new=self.chunks_new,
            chunks_reused=self.chunks_reused,
            files_unchanged=self.files_unchanged,
            seconds=round(time.monotonic() - self.started, 3) if finished_now else 0.0,
        )

    # The pool's threads.

    def _store_chunk(self, chunk_id: bytes, data: bytes) -> None:
        try:
            blob = self.codec.seal_chunk(chunk_id, data)
            if len(data) >= PACK_THRESHOLD:
                location = self.store.put_chunk(chunk_id, blob)
                self._stored({chunk_id: location}, len(blob))
                return
            with self.lock:
                full = self._take_pack() if self.pack_bytes + len(blob) > PACK_LIMIT else None
                self.pack.append((chunk_id, blob))
                self.pack_bytes += len(blob)
            if full:
                self._upload_pack(full)
        finally:
            self.budget.release(len(data))

    def _take_pack(self) -> list[tuple[bytes, bytes]]:
        blobs, self.pack, self.pack_bytes = self.pack, [], 0
        return blobs

    def _upload_pack(self, blobs: list[tuple[bytes, bytes]]) -> None:
        locations, sent = self.store.put_pack(secrets.token_hex(16), blobs)
        self._stored(locations, sent)

    def _sent(self, size: int) -> None:
        with self.lock:
            self.bytes_uploaded += size

    def _stored(self, locations: dict[bytes, Location], sent: int) -> None:
        with self.lock:
            self.known.update(locations)
            self.pending.difference_update(locations)
            self.bytes_uploaded += sent
