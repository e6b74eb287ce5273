"""The repository of one backup location: its objects, read and written through the
location's backend (lifeboat.locations)."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor

from activities.mover.chunks import ID_SIZE, ChunkCodec
from activities.mover.errors import MoverError, SnapshotNotFoundError
from activities.mover.layout import FORMAT_VERSION, Layout, check_snapshot_id
from activities.mover.snapshot import Location, Tree, decode, encode
from lifeboat.locations import LocationBackend, LocationError

# Concurrent requests a backup or restore keeps in flight. SeaweedFS on two cores ingests
# fastest with about four PUTs at once; the rest hide compression and latency.
DEFAULT_WORKERS = 6
# Listing is split by the first hex digit of chunk ids so a big repository lists in parallel.
_SHARDS = "0123456789abcdef"


def connections_for(workers: int) -> int:
    """The connection pool a backend needs for a mover of `workers` threads."""
    return max(32, 4 * workers)


@contextlib.contextmanager
def _as_mover_error() -> Iterator[None]:
    try:
        yield
    except LocationError as error:
        raise MoverError(str(error)) from error


class ChunkStore:
    """A location's repository: objects under `<prefix>/lifeboat-data/v1/` of its backend.

    `location_key` is the location's encryption key (bytes, 16 or more); everything stored is
    encrypted under keys derived from it.
    """

    def __init__(
        self,
        backend: LocationBackend,
        prefix: str,
        location_key: bytes,
        *,
        workers: int = DEFAULT_WORKERS,
    ) -> None:
        self.backend = backend
        self.bucket = backend.bucket
        self.layout = Layout(prefix)
        self.codec = ChunkCodec(location_key)
        self.workers = workers

    # Plain objects.

    def put(self, key: str, blob: bytes) -> int:
        """Upload one object; the number of bytes sent."""
        with _as_mover_error():
            return self.backend.put(key, blob)

    def get(self, key: str, *, offset: int = 0, length: int = 0) -> bytes:
        """An object, or `length` bytes of it from `offset` (all of it when `length` is 0)."""
        with _as_mover_error():
            return self.backend.get(key, offset=offset, length=length)

    def keys(self, prefix: str) -> Iterator[tuple[str, int]]:
        """(key, size) of every object under `prefix`."""
        with _as_mover_error():
            yield from self.backend.list_objects(prefix)

    def delete(self, keys: Iterable[str]) -> None:
        """Remove objects (no error for missing ones, as S3 does)."""
        with _as_mover_error():
            self.backend.delete(keys)

    def exists(self, key: str) -> bool:
        with _as_mover_error():
            return self.backend.exists(key)

    # Sealed metadata: JSON, compressed and encrypted, bound to its own key.

    def put_sealed(self, key: str, data: bytes) -> int:
        return self.put(key, self.codec.seal(data, self.layout.relative(key).encode()))

    def get_sealed(self, key: str, *, what: str) -> bytes:
        return self.codec.open(self.get(key), self.layout.relative(key).encode(), what=what)

    # Chunks and packs.

    def put_chunk(self, chunk_id: bytes, blob: bytes) -> Location:
        """Upload a chunk as its own object."""
        self.put(self.layout.chunk(chunk_id), blob)
        return Location("", 0, len(blob))

    def put_pack(
        self, pack_id: str, blobs: list[tuple[bytes, bytes]]
    ) -> tuple[dict[bytes, Location], int]:
        """Upload a pack of small chunk blobs, then its index; where each chunk landed and the
        bytes sent.

        The index goes second: an index names only packs that exist, and a pack whose index
        never arrived (the run died in between) is unused and harmless.
        """
        locations: dict[bytes, Location] = {}
        offset = 0
        for chunk_id, blob in blobs:
            locations[chunk_id] = Location(pack_id, offset, len(blob))
            offset += len(blob)
        sent = self.put(self.layout.pack(pack_id), b"".join(blob for _, blob in blobs))
        index = {
            "format": FORMAT_VERSION,
            "pack": pack_id,
            "chunks": [[cid.hex(), loc.offset, loc.length] for cid, loc in locations.items()],
        }
        sent += self.put_sealed(self.layout.index(pack_id), json.dumps(index).encode())
        return locations, sent

    def known_chunks(self) -> dict[bytes, Location]:
        """Every chunk the repository holds: listed chunk objects plus the packs' indexes."""
        with ThreadPoolExecutor(max(self.workers, len(_SHARDS))) as pool:
            indexes = pool.submit(lambda: [key for key, _ in self.keys(self.layout.indexes)])
            shards = list(pool.map(lambda s: list(self.keys(f"{self.layout.chunks}{s}")), _SHARDS))
            packed = list(pool.map(self.read_index, indexes.result()))
        known: dict[bytes, Location] = {}
        for listing in shards:
            for key, size in listing:
                name = key.rsplit("/", 1)[-1]
                if len(name) == 2 * ID_SIZE:
                    known[bytes.fromhex(name)] = Location("", 0, size)
        for locations in packed:
            known.update(locations)
        return known

    def read_index(self, key: str) -> dict[bytes, Location]:
        data = json.loads(self.get_sealed(key, what=f"pack index {key!r}"))
        pack = str(data["pack"])
        return {
            bytes.fromhex(chunk_id): Location(pack, int(offset), int(length))
            for chunk_id, offset, length in data["chunks"]
        }

    # Snapshots and checkpoints.

    def write_snapshot(self, tree: Tree) -> int:
        """Store a finished snapshot (write-once: its id is new)."""
        return self.put_sealed(self.layout.snapshot(tree.id), encode(tree, kind="snapshot"))

    def read_snapshot(self, snapshot_id: str) -> Tree:
        """A snapshot's tree; `SnapshotNotFoundError` if there is none with that id."""
        key = self.layout.snapshot(check_snapshot_id(snapshot_id))
        if not self.exists(key):
            raise SnapshotNotFoundError(
                f"no snapshot {snapshot_id!r} in bucket {self.bucket!r} under {self.layout.root!r}"
            )
        what = f"snapshot {snapshot_id}"
        return decode(self.get_sealed(key, what=what), what=what)

    def objects_of(self, snapshot_id: str) -> set[str]:
        """Every object a snapshot needs: itself, and its chunks' objects, packs and indexes."""
        tree = self.read_snapshot(snapshot_id)
        keys = {self.layout.snapshot(snapshot_id)}
        for chunk_id, location in tree.locations.items():
            if location.pack:
                keys |= {self.layout.pack(location.pack), self.layout.index(location.pack)}
            else:
                keys.add(self.layout.chunk(chunk_id))
        return keys

    def snapshot_exists(self, snapshot_id: str) -> bool:
        return self.exists(self.layout.snapshot(check_snapshot_id(snapshot_id)))

    def list_snapshots(self) -> list[str]:
        """Ids of all snapshots, oldest first."""
        suffix = ".json.zst.enc"
        names = (key.rsplit("/", 1)[-1] for key, _ in self.keys(self.layout.snapshots))
        return sorted(name[: -len(suffix)] for name in names if name.endswith(suffix))

    def write_checkpoint(self, run_id: str, sequence: int, tree: Tree) -> int:
        key = self.layout.checkpoint(run_id, sequence)
        return self.put_sealed(key, encode(tree, kind="checkpoint"))

    def read_checkpoints(self, run_id: str) -> tuple[list[Tree], int]:
        """The checkpoints of an unfinished run in the order they were written, and the
        sequence number the next one gets (past every existing one: checkpoints are
        write-once)."""
        keys = sorted(key for key, _ in self.keys(self.layout.checkpoints(run_id)))
        sequences = [int(key.rsplit("/", 1)[-1].split(".", 1)[0]) for key in keys]

        def read(key: str) -> Tree:
            what = f"checkpoint {key!r}"
            return decode(self.get_sealed(key, what=what), what=what)

        with ThreadPoolExecutor(self.workers) as pool:
            return list(pool.map(read, keys)), max(sequences, default=-1) + 1

    def delete_checkpoints(self, run_id: str) -> None:
        self.delete(key for key, _ in self.keys(self.layout.checkpoints(run_id)))
