"""Backup locations' object storage behind one interface, `LocationBackend` (see `backend`).

`open_backend(address, keys)` opens a location of any kind (`kinds.KINDS`); only the module
of a kind (`s3`, `azure`) imports its storage's client library. Adding a kind of storage is a new
backend module, a row in `KINDS` and, when it needs them, a kind of keys in
`lifeboat.credentials`.
"""

from lifeboat.locations.backend import (
    CHECK,
    TRANSFER,
    Capabilities,
    LocationAddress,
    LocationBackend,
    LocationError,
    LocationKind,
    LocationRefused,
    LockMode,
    ObjectLock,
    RefusedField,
    Timeouts,
)
from lifeboat.locations.kinds import KINDS, open_backend

__all__ = [
    "CHECK",
    "KINDS",
    "TRANSFER",
    "Capabilities",
    "LocationAddress",
    "LocationBackend",
    "LocationError",
    "LocationKind",
    "LocationRefused",
    "LockMode",
    "ObjectLock",
    "RefusedField",
    "Timeouts",
    "open_backend",
]
