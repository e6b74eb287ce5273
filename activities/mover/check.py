"""Check a repository: every chunk its snapshots refer to is stored, whole, and (on a sample)
decrypts to what the snapshot recorded.

The check reads; it never writes or deletes. Each chunk a snapshot refers to is looked up in
one listing of `chunks/` and `packs/`: a chunk object must exist with the recorded length, a
pack must exist and reach past the chunk's byte range. Of the chunks that pass, a sampled
fraction is downloaded and opened: its AES-GCM tag and the keyed hash of its plaintext prove
that it is the chunk the snapshot names, and its plaintext size must be the recorded one.
"""

from __future__ import annotations

import math
import random
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from activities.mover.errors import IntegrityError, MoverError
from activities.mover.progress import Progress, ProgressCallback, Throttle
from activities.mover.snapshot import Location, Tree
from activities.mover.store import ChunkStore

PROGRESS_SECONDS = 0.5


@dataclass
class ChunkProblem:
    """A chunk that is missing or damaged, and the snapshots that refer to it."""

    chunk: str  # the chunk's id, hex
    object: str  # the key it is stored under (its own object, or its pack)
    problem: str  # missing | truncated | corrupt
    reason: str
    snapshots: list[str] = field(default_factory=list)


@dataclass
class RepositoryReport:
    """What a repository check found."""

    snapshots: int = 0
    chunks: int = 0
    chunks_sampled: int = 0
    bytes_sampled: int = 0
    problems: list[ChunkProblem] = field(default_factory=list)
    # Snapshots that could not be read at all: {"snapshot", "reason"}.
    unreadable_snapshots: list[dict[str, str]] = field(default_factory=list)


def blob_key(store: ChunkStore, chunk_id: bytes, location: Location) -> str:
    """Where a chunk's blob is stored: its own object, or its pack."""
    return store.layout.pack(location.pack) if location.pack else store.layout.chunk(chunk_id)


def stored_problem(
    store: ChunkStore, chunk_id: bytes, location: Location, sizes: dict[str, int]
) -> tuple[str, str] | None:
    """(problem, reason) when the chunk's object is missing or too short for it, else None."""
    key = blob_key(store, chunk_id, location)
    size = sizes.get(key)
    if size is None:
        return "missing", f"{key} is not in the bucket"
    needed = location.offset + location.length
    if (location.pack and size < needed) or (not location.pack and size != location.length):
        return "truncated", f"{key} has {size} bytes, the snapshot needs {needed}"
    return None


def opened_problem(
    store: ChunkStore, chunk_id: bytes, location: Location, plaintext_size: int
) -> tuple[str, str] | None:
    """(problem, reason) when the chunk's blob does not open to the recorded chunk, else None."""
    key = blob_key(store, chunk_id, location)
    blob = store.get(key, offset=location.offset, length=location.length)
    try:
        plaintext = store.codec.open_chunk(chunk_id, blob, where=key)
    except IntegrityError as error:
        return "corrupt", str(error)
    if len(plaintext) != plaintext_size:
        return "corrupt", f"{key}: {len(plaintext)} bytes, the snapshot says {plaintext_size}"
    return None


def stored_sizes(store: ChunkStore) -> dict[str, int]:
    """The size of every chunk object and pack in the repository, by key."""
    root = store.layout.root
    return {**dict(store.keys(store.layout.chunks)), **dict(store.keys(f"{root}/packs/"))}


def check_repository(
    store: ChunkStore,
    sample_fraction: float,
    *,
    progress: ProgressCallback | None = None,
    progress_seconds: float = PROGRESS_SECONDS,
    seed: int | None = None,
) -> RepositoryReport:
    """Check every snapshot's chunks; download and open `sample_fraction` (0..1) of them."""
    if not 0 <= sample_fraction <= 1:
        raise ValueError(f"sample_fraction {sample_fraction} is not between 0 and 1")
    report = RepositoryReport()
    trees: list[Tree] = []
    for snapshot_id in store.list_snapshots():
        try:
            trees.append(store.read_snapshot(snapshot_id))
        except MoverError as error:
            report.unreadable_snapshots.append({"snapshot": snapshot_id, "reason": str(error)})
    report.snapshots = len(trees) + len(report.unreadable_snapshots)
    users: dict[bytes, list[str]] = defaultdict(list)
    chunks: dict[bytes, tuple[Location, int]] = {}
    for tree in trees:
        sizes_in_tree = {cid: size for e in tree.entries for cid, size in e.chunks}
        for chunk_id, location in tree.locations.items():
            users[chunk_id].append(tree.id)
            chunks[chunk_id] = (location, sizes_in_tree.get(chunk_id, 0))
    report.chunks = len(chunks)
    sizes = stored_sizes(store)
    problems: dict[bytes, tuple[str, str]] = {}
    for chunk_id, (location, _size) in chunks.items():
        if found := stored_problem(store, chunk_id, location, sizes):
            problems[chunk_id] = found
    whole = [cid for cid in chunks if cid not in problems]
    count = min(len(whole), math.ceil(sample_fraction * len(whole)))
    sampled = random.Random(seed).sample(whole, count)
    throttle = Throttle(progress, progress_seconds)

    def open_one(chunk_id: bytes) -> tuple[bytes, tuple[str, str] | None]:
        location, size = chunks[chunk_id]
        return chunk_id, opened_problem(store, chunk_id, location, size)

    with ThreadPoolExecutor(store.workers, thread_name_prefix="check") as pool:
        for chunk_id, found in pool.map(open_one, sampled):
            report.chunks_sampled += 1
            report.bytes_sampled += chunks[chunk_id][0].length
            if found:
                problems[chunk_id] = found
            throttle.report(
                lambda: Progress(
                    "check",
                    report.chunks_sampled,
                    count,
                    report.chunks_sampled,
                    count,
                    report.bytes_sampled,
                )
            )
    report.problems = [
        ChunkProblem(
            chunk=chunk_id.hex(),
            object=blob_key(store, chunk_id, chunks[chunk_id][0]),
            problem=problem,
            reason=reason,
            snapshots=sorted(set(users[chunk_id])),
        )
        for chunk_id, (problem, reason) in sorted(problems.items())
    ]
    return report
