"""The repository of one backup location: its S3 objects, read and written through minio."""

from __future__ import annotations

import contextlib
import json
import os
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import urllib3
from minio import Minio
from minio.deleteobjects import DeleteObject
from minio.error import MinioException, S3Error

from activities.mover.chunks import ID_SIZE, ChunkCodec
from activities.mover.errors import MoverError, SnapshotNotFoundError
from activities.mover.layout import FORMAT_VERSION, Layout, check_snapshot_id
from activities.mover.snapshot import Location, Tree, decode, encode

# Concurrent requests a backup or restore keeps in flight. SeaweedFS on two cores ingests
# fastest with about four PUTs at once; the rest hide compression and latency.
DEFAULT_WORKERS = 6
# Listing is split by the first hex digit of chunk ids so a big repository lists in parallel.
_SHARDS = "0123456789abcdef"
# Reads and writes go through presigned URLs, valid this long after signing (used at once).
_PRESIGNED_FOR = timedelta(minutes=30)


def s3_client(
    endpoint: str,
    access_key: str,
    secret_key: str,
    *,
    region: str | None = None,
    connections: int = 32,
) -> Minio:
    """A minio client for `endpoint` (`http[s]://host[:port]`) sized for parallel transfers.

    One client and one connection pool serve every thread: minio is thread-safe, and a pool
    smaller than the number of threads would open and drop connections all the time.
    """
    url = urlsplit(endpoint)
    if url.scheme not in ("http", "https") or not url.netloc:
        raise ValueError(f"endpoint {endpoint!r} must look like http(s)://host[:port]")
    return Minio(
        url.netloc,
        access_key=access_key,
        secret_key=secret_key,
        secure=url.scheme == "https",
        region=region or None,
        http_client=_pool(connections),
    )


def _pool(connections: int) -> urllib3.PoolManager:
    return urllib3.PoolManager(
        maxsize=connections,
        block=False,
        timeout=urllib3.Timeout(connect=10, read=120),
        # Every request the mover sends is idempotent (content-addressed or write-once keys),
        # so retrying PUTs after a dropped connection or a 5xx is safe.
        retries=urllib3.Retry(total=5, backoff_factor=0.2, status_forcelist=(500, 502, 503, 504)),
        # The CA bundle minio's own pool honours, when set; else the system's.
        ca_certs=os.environ.get("SSL_CERT_FILE") or None,
    )


def _s3_message(body: bytes) -> str:
    """`Code: Message` from an S3 error document, else the start of the body."""
    try:
        root = ElementTree.fromstring(body)
    except ElementTree.ParseError:
        return body[:200].decode(errors="replace")
    fields = {element.tag.rsplit("}", 1)[-1]: element.text or "" for element in root}
    return f"{fields.get('Code', '')}: {fields.get('Message', '')}"


@contextlib.contextmanager
def _s3_errors(action: str, bucket: str, key: str) -> Iterator[None]:
    try:
        yield
    except (MinioException, urllib3.exceptions.HTTPError, OSError) as error:
        raise MoverError(f"could not {action} {key!r} in bucket {bucket!r}: {error}") from error


class ChunkStore:
    """A location's repository: `bucket`, objects under `<prefix>/lifeboat-data/v1/`.

    `location_key` is the location's encryption key (bytes, 16 or more); everything stored is
    encrypted under keys derived from it.
    """

    def __init__(
        self,
        client: Minio,
        bucket: str,
        prefix: str,
        location_key: bytes,
        *,
        workers: int = DEFAULT_WORKERS,
    ) -> None:
        self.client = client
        self.bucket = bucket
        self.layout = Layout(prefix)
        self.codec = ChunkCodec(location_key)
        self.workers = workers
        self._http = _pool(max(32, 4 * workers))

    # Plain objects.

    def put(self, key: str, blob: bytes) -> int:
        """Upload one object; the number of bytes sent.

        Through a presigned URL rather than `put_object`, which hashes every body (SHA-256
        over HTTP, MD5 over HTTPS) at more CPU than encrypting it takes; on a small machine
        the S3 server needs that CPU. Bodies are authenticated by AES-GCM anyway.
        """
        headers = {"Content-Type": "application/octet-stream"}
        self._presigned("PUT", key, "upload", body=blob, headers=headers)
        return len(blob)

    def get(self, key: str, *, offset: int = 0, length: int = 0) -> bytes:
        """An object, or `length` bytes of it from `offset` (all of it when `length` is 0).

        Through a presigned URL, as uploads: minio's own request path costs more CPU per
        request than a restore's many ranged reads can spare on a small machine.
        """
        headers = {}
        if offset or length:
            end = str(offset + length - 1) if length else ""
            headers["Range"] = f"bytes={offset}-{end}"
        data: bytes = self._presigned("GET", key, "download", headers=headers).data
        return data

    def _presigned(
        self, method: str, key: str, action: str, **request: Any
    ) -> urllib3.BaseHTTPResponse:
        """One request through a presigned URL and the mover's own connection pool; a
        MoverError naming the key and what S3 said unless it succeeded."""
        with _s3_errors(action, self.bucket, key):
            url = self.client.get_presigned_url(method, self.bucket, key, expires=_PRESIGNED_FOR)
            response = self._http.request(method, url, **request)
        if response.status not in (200, 206):
            raise MoverError(
                f"could not {action} {key!r} in bucket {self.bucket!r}: HTTP {response.status} "
                f"{_s3_message(response.data)}"
            )
        return response

    def keys(self, prefix: str) -> Iterator[tuple[str, int]]:
        """(key, size) of every object under `prefix`."""
        with _s3_errors("list", self.bucket, prefix):
            for item in self.client.list_objects(self.bucket, prefix=prefix, recursive=True):
                if item.object_name is not None and not item.is_dir:
                    yield item.object_name, int(item.size or 0)

    def delete(self, keys: Iterable[str]) -> None:
        """Remove objects (no error for missing ones, as S3 does)."""
        targets = [DeleteObject(key) for key in keys]
        with _s3_errors("delete", self.bucket, f"{len(targets)} objects"):
            for failure in self.client.remove_objects(self.bucket, targets):
                raise MoverError(f"could not delete {failure.name!r}: {failure.message}")

    def exists(self, key: str) -> bool:
        try:
            self.client.stat_object(self.bucket, key)
        except S3Error as error:
            if error.code in ("NoSuchKey", "NoSuchObject", "NotFound"):
                return False
            raise MoverError(f"could not look up {key!r}: {error}") from error
        return True

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
