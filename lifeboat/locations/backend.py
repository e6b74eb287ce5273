"""What Lifeboat needs from the object storage a backup location is on.

Backups (the archive of resources, the data mover's repository) use a location only through
`LocationBackend`: plain objects under keys, written once, read whole or by range, listed by
prefix and deleted. Each kind of storage (`LocationKind`) has one implementation, the only
module that imports that storage's client library.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal, Protocol


class LocationKind(enum.StrEnum):
    """A kind of object storage (a location's `provider`)."""

    S3 = "s3"
    AZURE = "azure"


@dataclass(frozen=True)
class LocationAddress:
    """Where a location's bucket is: the storage's endpoint, the bucket, its region if any."""

    kind: LocationKind
    endpoint: str
    bucket: str
    region: str = ""


@dataclass(frozen=True)
class Capabilities:
    """What the bucket offers beyond plain objects (immutable backups need object lock)."""

    object_lock: bool
    versioning: bool


class LockMode(enum.StrEnum):
    """S3 Object Lock retention modes. Under `governance`, users with the bypass permission
    may still remove a version early; under `compliance`, nobody can, the root account
    neither, until it expires."""

    GOVERNANCE = "governance"
    COMPLIANCE = "compliance"


@dataclass(frozen=True)
class ObjectLock:
    """The retention an object is written with: no version of it can be removed before
    `retain_until` (timezone-aware)."""

    mode: LockMode
    retain_until: datetime


@dataclass(frozen=True)
class Timeouts:
    """How long a request may take, and how often a failed one is tried again."""

    connect: float
    read: float
    retries: int


# Moving data: patient, and retried (every request Lifeboat sends is idempotent: keys are
# content-addressed or written once).
TRANSFER = Timeouts(connect=10, read=120, retries=5)
# A check a user waits for.
CHECK = Timeouts(connect=3, read=10, retries=1)

# The field of a location a refusal asks the user to correct. `credentials`: the keys the
# location is reached with (its own, or its cloud account's).
RefusedField = Literal["endpoint", "bucket", "region", "credentials"]


class LocationError(Exception):
    """A request to the location failed; the message names what, which key and the bucket."""


class LocationRefused(Exception):
    """The location cannot be used as given; `field` names what to correct, `reason` how."""

    def __init__(self, field: RefusedField, reason: str) -> None:
        super().__init__(reason)
        self.field: RefusedField = field
        self.reason = reason


class LocationBackend(Protocol):
    """One bucket of one object storage, reached with one set of keys.

    Safe to share between threads. Every method but `validate` raises `LocationError` when
    the storage cannot be reached or refuses.
    """

    @property
    def bucket(self) -> str: ...

    def put(self, key: str, data: bytes, *, lock: ObjectLock | None = None) -> int:
        """Store an object (replacing any under that key), locked until `lock.retain_until`
        when given; the bytes sent."""
        ...

    def create(self, key: str, data: bytes) -> bool:
        """Store an object unless one is already under `key`; whether this call stored it."""
        ...

    def retained_until(self, key: str) -> datetime | None:
        """When the object's lock ends; None when it has none (or there is no object)."""
        ...

    def extend_lock(self, key: str, lock: ObjectLock) -> None:
        """Lock an object already stored until `lock.retain_until` (never earlier than it was)."""
        ...

    def get(self, key: str, *, offset: int = 0, length: int = 0) -> bytes:
        """An object, or `length` bytes of it from `offset` (all of it when `length` is 0)."""
        ...

    def list_objects(self, prefix: str) -> Iterator[tuple[str, int]]:
        """(key, size) of every object whose key starts with `prefix`."""
        ...

    def delete(self, keys: Iterable[str]) -> None:
        """Remove objects; a key with no object is no error."""
        ...

    def exists(self, key: str) -> bool:
        """Whether an object is stored under `key`."""
        ...

    def bucket_exists(self) -> bool:
        """Whether the bucket is there (with these keys)."""
        ...

    def presign(self, method: Literal["GET", "PUT"], key: str, expires: timedelta) -> str:
        """A URL that reads (GET) or writes (PUT) one object without the keys, for `expires`."""
        ...

    def capabilities(self) -> Capabilities:
        """Whether the bucket has object lock and versioning enabled."""
        ...

    def validate(self, probe_key: str, *, whose_keys: str) -> None:
        """Reach the bucket and write (then remove) a small object under `probe_key`.

        Raises `LocationRefused` naming the field to correct; `whose_keys` (`the location's`,
        `cloud account prod's`) says in its reason whose credentials were refused.
        """
        ...

    def close(self) -> None:
        """Release connections."""
        ...
