"""Envelope encryption of a backup location's data: its repository key and key files.

Everything a location stores (archive objects, the data mover's chunks, snapshots and
indexes) is encrypted under the repository's *data key*, a random key made once. The data key
is kept in the bucket, wrapped (AES-256-GCM) by the location's key, in a key file per location
key, as restic keeps its key files:

    <prefix>/lifeboat/keys/<key id>.json

`<key id>` is derived from the location key, so each location key finds its own file without
trying the others. Rotating the location key writes the data key's file under the new key and
removes the old file: nothing else is rewritten, no data is uploaded again.

A repository without any key file (made before key files existed, or found holding data
without one) uses the location's key itself as its data key; its first rotation writes the
key file that keeps it so.
"""

from __future__ import annotations

import base64
import json
import os
import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

KEY_FILE_VERSION = 1
_NONCE_BYTES = 12


class KeyFileError(Exception):
    """A key file cannot be opened with the location's key: another key's, or altered."""


def _derive(location_key: bytes, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(location_key)


def repository_root(location_prefix: str) -> str:
    """What every object Lifeboat stores in a location starts with (archive, volume data)."""
    return "/".join(p for p in (location_prefix.strip("/"), "lifeboat") if p)


def keys_prefix(location_prefix: str) -> str:
    """Where a location's key files are."""
    return "/".join(p for p in (location_prefix.strip("/"), "lifeboat", "keys") if p) + "/"


def key_file_key(location_prefix: str, location_key: bytes) -> str:
    """The key file of `location_key`: its name reveals nothing about the key."""
    key_id = _derive(location_key, b"lifeboat-key-id-v1")[:16].hex()
    return f"{keys_prefix(location_prefix)}{key_id}.json"


def new_data_key() -> bytes:
    """A random data key, as text (the data mover's Job reads it from its environment)."""
    return secrets.token_urlsafe(32).encode()


def wrap(data_key: bytes, location_key: bytes) -> bytes:
    """A key file holding `data_key`, which only `location_key` opens."""
    nonce = os.urandom(_NONCE_BYTES)
    sealed = AESGCM(_derive(location_key, b"lifeboat-key-wrap-v1")).encrypt(
        nonce, data_key, b"lifeboat-data-key"
    )
    document = {
        "version": KEY_FILE_VERSION,
        "algorithm": "AES-256-GCM, key by HKDF-SHA256 from the location key",
        "nonce": base64.b64encode(nonce).decode(),
        "data_key": base64.b64encode(sealed).decode(),
    }
    return json.dumps(document, indent=2).encode()


def unwrap(key_file: bytes, location_key: bytes) -> bytes:
    """The data key in a key file, opened with `location_key`."""
    try:
        document = json.loads(key_file)
        if document.get("version") != KEY_FILE_VERSION:
            raise KeyFileError(f"key file version {document.get('version')!r} is not known")
        nonce = base64.b64decode(document["nonce"])
        sealed = base64.b64decode(document["data_key"])
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise KeyFileError("the key file is not a Lifeboat key file") from exc
    try:
        return AESGCM(_derive(location_key, b"lifeboat-key-wrap-v1")).decrypt(
            nonce, sealed, b"lifeboat-data-key"
        )
    except InvalidTag as exc:
        raise KeyFileError("the key file was altered or belongs to another key") from exc
