"""The data mover: volume contents to a backup location's repository, and back.

A library (`backup`, `restore`, `ChunkStore`) and a command (`python -m activities.mover`): a
Kubernetes Job per volume in production, a local process on the dev stack. It imports only the
standard library, fastcdc, blake3, zstandard, cryptography and `lifeboat.locations` (the
location's storage, through its backend), never the catalog.

Repository layout, format version 1
===================================

Everything lives under `<prefix>/lifeboat-data/v1/` in the location's bucket. A new format
gets a new `vN` directory; a mover reads only the versions it knows. Objects are write-once:
the mover never rewrites one (a content-addressed chunk that exists is skipped), and deletes
only its own checkpoints.

    chunks/<aa>/<id>               one chunk of at least 256 KiB, sealed
    packs/<aa>/<pack-id>           small chunks (whole small files, tails of large files),
                                   sealed one by one and concatenated, ~4 MiB per pack
    index/<pack-id>                sealed JSON: {"format": 1, "pack": id,
                                   "chunks": [[id, offset, length], ...]}
    snapshots/<snapshot-id>.json.zst.enc
                                   sealed JSON: the tree (see below)
    checkpoints/<snapshot-id>/<nnnnnnnn>.json.zst.enc
                                   sealed JSON, same shape as a snapshot: the files an
                                   unfinished backup has stored so far (deleted when it ends)

`<id>` is the keyed BLAKE3 hash (64 hex digits) of the chunk's plaintext; `<aa>` its first
two digits. The hash key is derived from the location key, so identical data dedupes across
all backups of a location while the names reveal nothing about the data. `<pack-id>` is 32
random hex digits; `<snapshot-id>` is `<yyyymmdd>T<hhmmss>Z-<16 hex>` (UTC, sorts by time).

Chunks are cut by FastCDC (minimum 256 KiB, average 1 MiB, maximum 4 MiB), so an edit moves
only the boundaries near it. A sealed blob is `codec (1 byte: 0 raw, 1 zstd) | nonce (12) |
AES-256-GCM ciphertext | tag (16)`: zstd level 3 unless that saves under 3 % (or two 16 KiB
samples of the chunk do not compress at all), then the raw bytes; a random 96-bit nonce per
blob. The authenticated data is the codec byte and what the
blob is: `chunk:<32-byte id>` for chunks, the key below `v1/` for metadata, so a blob moved
or swapped fails to open. The hash key and the AES key are derived from the location key with
HKDF-SHA256 (salt `lifeboat-mover/v1`, one `info` string per key).

A snapshot is `{"format": 1, "kind": "snapshot", "id", "created", "source", "parent",
"chunks": [[id, plaintext size, pack-id or "", offset, length], ...], "entries": [...]}`.
Entries come parents first, the source directory itself as `"."`; each has `path` (relative,
`/`-separated), `type` (`file`, `dir`, `symlink`), `mode`, `uid`, `gid`, `mtime_ns`; a file
also `size`, `inode`, `ctime_ns` (to spot unchanged files next time) and `chunks` (indexes
into the table, in file order); a symlink its `target`. A restore needs nothing else. Sockets,
FIFOs and devices are skipped; hard links are stored as separate files (their data dedupes).

Before uploading, a backup learns which chunks exist (one listing of `chunks/`, split by first
digit and run in parallel, plus every pack index) and uploads only the others. With a parent
snapshot, files whose size, mtime, ctime and inode are unchanged are not read at all, and a
changed file is hashed along its previous chunk boundaries, chunking only around the edits.
A backup records its progress in checkpoints; `ResumeState` (the run id and how far the
checkpoints reach) lets a restarted backup skip the files they list.

Garbage: a pack whose upload finished but whose index did not (the run died in between), or
chunks no snapshot refers to, are unreferenced and harmless; a future prune may delete objects
that no snapshot and no running backup refers to.
"""

from activities.mover.backup import backup
from activities.mover.errors import IntegrityError, MoverError, SnapshotNotFoundError
from activities.mover.layout import FORMAT_VERSION
from activities.mover.progress import Progress, RestoreSummary, ResumeState, SnapshotSummary
from activities.mover.restore import restore
from activities.mover.store import ChunkStore

__all__ = [
    "FORMAT_VERSION",
    "ChunkStore",
    "IntegrityError",
    "MoverError",
    "Progress",
    "RestoreSummary",
    "ResumeState",
    "SnapshotNotFoundError",
    "SnapshotSummary",
    "backup",
    "restore",
]
