"""The tree a snapshot (or a checkpoint of an unfinished backup) records, and its JSON form.

A snapshot lists every entry of the source, parents before children, each with its metadata;
a regular file has the ordered ids of its chunks. One table holds, per chunk, its plaintext
size and where it is stored, so a restore needs nothing but the snapshot to plan its reads.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, NamedTuple

from activities.mover.errors import IntegrityError
from activities.mover.layout import FORMAT_VERSION

ROOT_PATH = "."


class EntryType(StrEnum):
    FILE = "file"
    DIR = "dir"
    SYMLINK = "symlink"


class Location(NamedTuple):
    """Where a chunk's blob is: its own object (`pack` empty) or a byte range of a pack."""

    pack: str
    offset: int
    length: int


@dataclass
class Entry:
    """One file, directory or symbolic link; `path` is relative and '/'-separated."""

    path: str
    type: EntryType
    mode: int
    uid: int
    gid: int
    mtime_ns: int
    size: int = 0
    target: str = ""
    # Not restored: they only tell an unchanged file from a changed one on the next backup.
    inode: int = 0
    ctime_ns: int = 0
    # (chunk id, plaintext size), in file order.
    chunks: list[tuple[bytes, int]] = field(default_factory=list)

    def unchanged_since(self, before: Entry) -> bool:
        """Whether a file may reuse `before`'s chunks without being read (restic's test too)."""
        return (
            self.type == before.type == EntryType.FILE
            and self.size == before.size
            and self.mtime_ns == before.mtime_ns
            and self.ctime_ns == before.ctime_ns
            and self.inode == before.inode
        )


@dataclass
class Tree:
    """A snapshot's or a checkpoint's content: entries plus where each chunk they use lives."""

    id: str
    source: str
    entries: list[Entry]
    locations: dict[bytes, Location]
    parent: str | None = None
    created: str = ""


def new_snapshot_id() -> str:
    """A fresh id that sorts by creation time: `20260102T030405Z-<16 hex>`."""
    return f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(8)}"


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def encode(tree: Tree, *, kind: str) -> bytes:
    """The JSON of a tree (`kind` is "snapshot" or "checkpoint")."""
    table: dict[bytes, int] = {}
    rows: list[list[Any]] = []
    entries: list[dict[str, Any]] = []
    for entry in tree.entries:
        row: dict[str, Any] = {
            "path": entry.path,
            "type": entry.type.value,
            "mode": entry.mode,
            "uid": entry.uid,
            "gid": entry.gid,
            "mtime_ns": entry.mtime_ns,
        }
        if entry.type == EntryType.SYMLINK:
            row["target"] = entry.target
        elif entry.type == EntryType.FILE:
            indexes = []
            for chunk_id, size in entry.chunks:
                index = table.get(chunk_id)
                if index is None:
                    index = table[chunk_id] = len(rows)
                    pack, offset, length = tree.locations[chunk_id]
                    rows.append([chunk_id.hex(), size, pack, offset, length])
                indexes.append(index)
            row |= {
                "size": entry.size,
                "inode": entry.inode,
                "ctime_ns": entry.ctime_ns,
                "chunks": indexes,
            }
        entries.append(row)
    document = {
        "format": FORMAT_VERSION,
        "kind": kind,
        "id": tree.id,
        "created": tree.created or now_iso(),
        "source": tree.source,
        "parent": tree.parent,
        "chunks": rows,
        "entries": entries,
    }
    return json.dumps(document, separators=(",", ":")).encode()


def decode(data: bytes, *, what: str) -> Tree:
    """A tree from its JSON; `IntegrityError` if it is not one this version can restore."""
    try:
        document = json.loads(data)
        if document.get("format") != FORMAT_VERSION:
            raise IntegrityError(
                f"{what} has format {document.get('format')!r}; this mover reads format "
                f"{FORMAT_VERSION}"
            )
        rows = document["chunks"]
        ids = [bytes.fromhex(row[0]) for row in rows]
        locations = {
            chunk_id: Location(str(row[2]), int(row[3]), int(row[4]))
            for chunk_id, row in zip(ids, rows, strict=True)
        }
        entries = [_entry(row, ids, rows, what) for row in document["entries"]]
        return Tree(
            id=str(document["id"]),
            source=str(document["source"]),
            entries=entries,
            locations=locations,
            parent=document.get("parent"),
            created=str(document.get("created", "")),
        )
    except (ValueError, KeyError, TypeError, IndexError) as error:
        raise IntegrityError(f"{what} is malformed: {error!r}") from None


def _entry(row: dict[str, Any], ids: list[bytes], rows: list[list[Any]], what: str) -> Entry:
    entry = Entry(
        path=check_relative_path(str(row["path"]), what=what),
        type=EntryType(row["type"]),
        mode=int(row["mode"]),
        uid=int(row["uid"]),
        gid=int(row["gid"]),
        mtime_ns=int(row["mtime_ns"]),
        size=int(row.get("size", 0)),
        target=str(row.get("target", "")),
        inode=int(row.get("inode", 0)),
        ctime_ns=int(row.get("ctime_ns", 0)),
        chunks=[(ids[index], int(rows[index][1])) for index in row.get("chunks", [])],
    )
    if entry.type == EntryType.FILE and sum(size for _, size in entry.chunks) != entry.size:
        raise IntegrityError(f"{what}: the chunks of {entry.path!r} do not add up to its size")
    return entry


def check_relative_path(path: str, *, what: str) -> str:
    """`path` if it stays inside the restore target, else `IntegrityError`.

    Snapshots are authenticated, so this guards against bugs rather than attackers; a restore
    must never write outside its target either way. `ROOT_PATH` names the source directory
    itself, whose owner and mode matter as much as any (a database's data directory).
    """
    if path == ROOT_PATH:
        return path
    parts = path.split("/")
    if not path or path.startswith("/") or "\0" in path or any(p in ("", ".", "..") for p in parts):
        raise IntegrityError(f"{what} holds an unsafe path {path!r}")
    return path


def fs_path(root: str, path: str) -> str:
    """The file system path of a relative snapshot path under `root`."""
    return os.path.join(root, *path.split("/"))
