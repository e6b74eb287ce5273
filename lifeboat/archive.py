"""The backup layout in object storage, and the sealing and reading of what goes there.

Under a backup location's bucket and prefix, layout version 2 (backups since packs):

    <prefix>/lifeboat/v2/backups/<backup uid>/manifest.json.sealed
        written once, last: what the backup holds (namespaces, packs, resources, volumes,
        results); a backup without a manifest is incomplete. Its SHA-256 is kept in the
        catalog, so a manifest modified or substituted in the bucket is refused at restore.
    <prefix>/lifeboat/v2/backups/<backup uid>/packs/<type>/<number>.jsonl.zst.sealed
        the objects of one Kubernetes type, server-set fields stripped, one JSON document a
        line, compressed (zstd) then sealed; at most `PACK_MAX_OBJECTS` objects or about
        `PACK_MAX_BYTES` bytes of JSON each. The manifest records each pack's key, object
        count, size and SHA-256: a pack deleted, truncated, substituted or modified is refused.
    <prefix>/lifeboat/v2/backups/<backup uid>/resources-index.json.sealed
        the packs and the objects they hold, written by the export; the manifest copies it
    <prefix>/lifeboat-data/v1/...
        volume data: the data mover's chunk repository, shared by the location's backups

Version 1 (backups made before packs) kept one sealed object per Kubernetes object under
`<prefix>/lifeboat/v1/backups/<backup uid>/resources/<group>/<version>/<plural>/<ns>/<name>
.json.sealed` (`_` for the core group, `_cluster` for cluster-scoped objects) and a manifest
listing each object's key; they are still read.

Every object is sealed with AES-256-GCM under a key derived from the location's key, with its
own key in the bucket bound in, so the bucket alone reveals neither Secrets nor data and a
sealed object cannot be moved to another key. Nothing is rewritten in place.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from typing import Any

import zstandard
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

LAYOUT_VERSION = 2
LAYOUT_VERSIONS = (1, 2)  # the layouts backups may have: each is read, and deleted
_NONCE_BYTES = 12
_MAGIC = b"LBA1"
# A pack closes at whichever comes first: memory stays bounded per pack being written, and a
# restore reads a type's objects in a few large requests rather than one per object.
PACK_MAX_OBJECTS = 5000
PACK_MAX_BYTES = 4 * 1024 * 1024
_ZSTD_LEVEL = 3


class ArchiveError(Exception):
    """An archive object is missing, altered, or sealed with another key."""


def backup_prefix(location_prefix: str, backup_uid: str, version: int = LAYOUT_VERSION) -> str:
    root = location_prefix.strip("/")
    return "/".join(p for p in (root, "lifeboat", f"v{version}", "backups", backup_uid) if p)


def manifest_key(
    location_prefix: str, backup_uid: str, attempt: int = 1, version: int = LAYOUT_VERSION
) -> str:
    """The manifest of a backup's first run; a retry of its failed parts writes a new one."""
    name = "manifest" if attempt == 1 else f"manifest-{attempt}"
    return f"{backup_prefix(location_prefix, backup_uid, version)}/{name}.json.sealed"


def index_key(location_prefix: str, backup_uid: str, version: int = LAYOUT_VERSION) -> str:
    """The export's list of packs and objects (version 1: of objects), which the manifest
    copies."""
    return f"{backup_prefix(location_prefix, backup_uid, version)}/resources-index.json.sealed"


def pack_key(location_prefix: str, backup_uid: str, type_name: str, number: int) -> str:
    """The `number`th pack of a type (`configmaps`, `deployments.apps`) of a backup."""
    folder = f"{backup_prefix(location_prefix, backup_uid)}/packs/{type_name}"
    return f"{folder}/{number:06d}.jsonl.zst.sealed"


def digest(blob: bytes) -> str:
    """The SHA-256 (hex) of a sealed object as stored: what manifests and the catalog keep."""
    return hashlib.sha256(blob).hexdigest()


def resource_key(
    location_prefix: str,
    backup_uid: str,
    *,
    api_version: str,
    plural: str,
    namespace: str | None,
    name: str,
) -> str:
    """Where layout version 1 kept one object (read for old backups, see the module's text)."""
    group, _, version = api_version.rpartition("/")
    parts = (group or "_", version, plural, namespace or "_cluster", f"{name}.json.sealed")
    return f"{backup_prefix(location_prefix, backup_uid, 1)}/resources/" + "/".join(parts)


class Sealer:
    """Seals archive objects with a key derived from the location's key."""

    def __init__(self, location_key: bytes) -> None:
        key = HKDF(
            algorithm=hashes.SHA256(), length=32, salt=None, info=b"lifeboat-archive-v1"
        ).derive(location_key)
        self._aead = AESGCM(key)

    def seal(self, data: bytes, *, name: str) -> bytes:
        """Encrypt; the object's key is bound in, so a sealed object cannot be moved."""
        nonce = os.urandom(_NONCE_BYTES)
        return _MAGIC + nonce + self._aead.encrypt(nonce, data, name.encode())

    def open(self, blob: bytes, *, name: str) -> bytes:
        if not blob.startswith(_MAGIC):
            raise ArchiveError(f"{name} is not a Lifeboat archive object")
        nonce = blob[len(_MAGIC) : len(_MAGIC) + _NONCE_BYTES]
        try:
            return self._aead.decrypt(nonce, blob[len(_MAGIC) + _NONCE_BYTES :], name.encode())
        except Exception as exc:  # InvalidTag: altered, or another location's key
            raise ArchiveError(f"{name} was altered or sealed with another key") from exc

    def seal_json(self, value: Any, *, name: str) -> bytes:
        return self.seal(json.dumps(value, separators=(",", ":")).encode(), name=name)

    def open_json(self, blob: bytes, *, name: str) -> Any:
        return json.loads(self.open(blob, name=name))


@dataclass(frozen=True)
class Pack:
    """One pack as the manifest records it: enough to refuse one that is not what was written."""

    key: str
    type: str
    count: int
    size: int
    sha256: str


class PackWriter:
    """Collects one type's objects into packs; `add` returns a sealed pack when one is full."""

    def __init__(self, sealer: Sealer, location_prefix: str, backup_uid: str, type_name: str):
        self._sealer = sealer
        self._prefix, self._backup_uid, self._type = location_prefix, backup_uid, type_name
        self._lines: list[bytes] = []
        self._bytes = 0
        self._number = 0

    @property
    def next_key(self) -> str:
        """The key of the pack the next object goes into."""
        return pack_key(self._prefix, self._backup_uid, self._type, self._number)

    @property
    def position(self) -> int:
        """The line the next object takes in its pack."""
        return len(self._lines)

    def add(self, obj: dict[str, Any]) -> tuple[Pack, bytes] | None:
        line = json.dumps(obj, separators=(",", ":")).encode()
        self._lines.append(line)
        self._bytes += len(line) + 1
        if len(self._lines) >= PACK_MAX_OBJECTS or self._bytes >= PACK_MAX_BYTES:
            return self.close()
        return None

    def close(self) -> tuple[Pack, bytes] | None:
        """The sealed pack of what was added since the last one, and its record; None if empty."""
        if not self._lines:
            return None
        key = self.next_key
        plain = zstandard.ZstdCompressor(level=_ZSTD_LEVEL).compress(b"\n".join(self._lines))
        blob = self._sealer.seal(plain, name=key)
        pack = Pack(key=key, type=self._type, count=len(self._lines), size=len(blob),
                    sha256=digest(blob))  # fmt: skip
        self._lines, self._bytes = [], 0
        self._number += 1
        return pack, blob


def open_pack(sealer: Sealer, pack: Pack, blob: bytes | None) -> list[dict[str, Any]]:
    """A pack's objects, in the order written; `ArchiveError` naming the pack and what is wrong
    with it when it is gone (`blob` None), truncated, substituted or modified."""
    where = f"pack {pack.key} ({pack.count} {pack.type} objects)"
    if blob is None:
        raise ArchiveError(
            f"{where} is missing from the bucket: it was deleted behind Lifeboat's back"
        )
    if len(blob) != pack.size:
        raise ArchiveError(
            f"{where} has {len(blob)} bytes where the manifest recorded {pack.size}: "
            "it was truncated or replaced behind Lifeboat's back"
        )
    if digest(blob) != pack.sha256:
        raise ArchiveError(
            f"{where} does not match the SHA-256 the manifest recorded: "
            "it was modified or substituted behind Lifeboat's back"
        )
    plain = zstandard.ZstdDecompressor().decompress(sealer.open(blob, name=pack.key))
    objects = [json.loads(line) for line in plain.split(b"\n")]
    if len(objects) != pack.count:
        raise ArchiveError(f"{where} holds {len(objects)} objects")
    return objects


def check_manifest(blob: bytes, *, key: str, expected_sha256: str) -> None:
    """Refuse a manifest that is not the one the backup wrote (no digest kept: not checked)."""
    if expected_sha256 and digest(blob) != expected_sha256:
        raise ArchiveError(
            f"manifest {key} does not match the SHA-256 recorded in the catalog when the backup "
            "wrote it: it was modified or substituted behind Lifeboat's back"
        )


def packs_of(manifest: dict[str, Any]) -> dict[str, Pack]:
    """A version 2 manifest's packs by key (none in version 1)."""
    return {p["key"]: Pack(**p) for p in manifest.get("packs") or []}
