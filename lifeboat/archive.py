"""The backup layout in object storage, version 1, and the sealing of what goes there.

Under a backup location's bucket and prefix:

    <prefix>/lifeboat/v1/backups/<backup uid>/manifest.json.sealed
        written once, last: what the backup holds (namespaces, resources, volumes, results);
        a backup without a manifest is incomplete
    <prefix>/lifeboat/v1/backups/<backup uid>/resources/<group>/<version>/<plural>/<ns>/
        <name>.json.sealed: one Kubernetes object per file, server-set fields stripped
        (`_` stands for the core group, `_cluster` for the namespace of cluster-scoped objects)
    <prefix>/lifeboat-data/v1/...
        volume data: the data mover's chunk repository, shared by the location's backups

Every object is sealed with AES-256-GCM under a key derived from the location's key, so the
bucket alone reveals neither Secrets nor data. Nothing is rewritten in place.
"""

from __future__ import annotations

import json
import os
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

LAYOUT_VERSION = 1
_NONCE_BYTES = 12
_MAGIC = b"LBA1"


class ArchiveError(Exception):
    """An archive object is missing, altered, or sealed with another key."""


def backup_prefix(location_prefix: str, backup_uid: str) -> str:
    root = location_prefix.strip("/")
    return "/".join(p for p in (root, "lifeboat", f"v{LAYOUT_VERSION}", "backups", backup_uid) if p)


def manifest_key(location_prefix: str, backup_uid: str, attempt: int = 1) -> str:
    """The manifest of a backup's first run; a retry of its failed parts writes a new one."""
    name = "manifest" if attempt == 1 else f"manifest-{attempt}"
    return f"{backup_prefix(location_prefix, backup_uid)}/{name}.json.sealed"


def resource_key(
    location_prefix: str,
    backup_uid: str,
    *,
    api_version: str,
    plural: str,
    namespace: str | None,
    name: str,
) -> str:
    group, _, version = api_version.rpartition("/")
    parts = (group or "_", version, plural, namespace or "_cluster", f"{name}.json.sealed")
    return f"{backup_prefix(location_prefix, backup_uid)}/resources/" + "/".join(parts)


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
