"""Forget snapshots and prune what no snapshot refers to any more.

Prune must run while no backup writes to the repository: a running backup may reuse a chunk
that no finished snapshot refers to yet (its own, or one it found while deduplicating). The
caller guarantees that (see `activities.backup.BackupActivities.prune_location`); given it,
every checkpoint left is from a dead run and is removed too.

What goes, in this order, so that a prune cut off at any point leaves a readable repository:
1. checkpoints (nothing reads them outside a running backup);
2. pack indexes whose pack holds no referenced chunk, then those packs: an index is removed
   before its pack, so no index ever names a missing pack (a backup would dedupe against it);
3. chunk objects no snapshot refers to, and packs that have no index (a run died between the
   two uploads).
A pack that holds some referenced chunks is kept whole; its unreferenced bytes are reported
as `bytes_kept_in_packs` (repacking them is not done yet).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from activities.mover.chunks import ID_SIZE
from activities.mover.layout import check_snapshot_id
from activities.mover.store import ChunkStore


@dataclass
class PruneSummary:
    snapshots: int = 0
    objects_deleted: int = 0
    bytes_deleted: int = 0
    bytes_kept_in_packs: int = 0


def forget(store: ChunkStore, snapshot_ids: list[str]) -> int:
    """Delete snapshots (missing ones are fine: forgetting is safe to repeat); how many asked."""
    store.delete(store.layout.snapshot(check_snapshot_id(s)) for s in snapshot_ids)
    return len(snapshot_ids)


def prune(store: ChunkStore) -> PruneSummary:
    """Delete every object that no snapshot of the repository refers to."""
    layout = store.layout
    snapshot_ids = store.list_snapshots()
    with ThreadPoolExecutor(store.workers) as pool:
        trees = list(pool.map(store.read_snapshot, snapshot_ids))
    referenced = {chunk_id for tree in trees for chunk_id in tree.locations}
    summary = PruneSummary(snapshots=len(snapshot_ids))

    def drop(listing: list[tuple[str, int]]) -> None:
        store.delete(key for key, _ in listing)
        summary.objects_deleted += len(listing)
        summary.bytes_deleted += sum(size for _, size in listing)

    drop(list(store.keys(f"{layout.root}/checkpoints/")))

    packs = dict(store.keys(f"{layout.root}/packs/"))
    indexes = [key for key, _ in store.keys(layout.indexes)]
    with ThreadPoolExecutor(store.workers) as pool:
        contents = list(pool.map(store.read_index, indexes))
    indexed_packs: set[str] = set()
    dead_indexes: list[tuple[str, int]] = []
    dead_packs: list[tuple[str, int]] = []
    for index_key, locations in zip(indexes, contents, strict=True):
        pack_key = layout.pack(index_key.rsplit("/", 1)[-1])
        indexed_packs.add(pack_key)
        dead = sum(loc.length for cid, loc in locations.items() if cid not in referenced)
        if dead == sum(loc.length for loc in locations.values()):
            dead_indexes.append((index_key, 0))
            dead_packs.append((pack_key, packs.get(pack_key, 0)))
        else:
            summary.bytes_kept_in_packs += dead
    drop(dead_indexes)
    drop([item for item in dead_packs if item[0] in packs])
    drop([(key, size) for key, size in packs.items() if key not in indexed_packs])

    orphans = [
        (key, size)
        for key, size in store.keys(layout.chunks)
        if len(name := key.rsplit("/", 1)[-1]) == 2 * ID_SIZE
        and bytes.fromhex(name) not in referenced
    ]
    drop(orphans)
    return summary
