"""A location on a bucket with S3 Object Lock, as the backups written to it see it.

`LockedBackend` wraps the location's backend: every object it writes carries the backup's
retention (`lock`); `hold` lengthens the lock of objects a backup reuses (volume data
deduplicated against another backup's) to the backup's; and it never removes an object whose
retention is still running (a prune, or a deletion the catalog allowed, leaves such objects
where they are: the bucket would refuse to remove their versions anyway, and a delete marker
over them would hide data a locked backup still needs).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Literal

from lifeboat.locations.backend import Capabilities, LocationBackend, ObjectLock


class LockedBackend:
    """`backend` writing with `lock` (None: writes nothing locked, e.g. a prune) and never
    deleting what is still locked."""

    def __init__(self, backend: LocationBackend, lock: ObjectLock | None) -> None:
        self._backend = backend
        self.lock = lock

    @property
    def bucket(self) -> str:
        return self._backend.bucket

    def put(self, key: str, data: bytes, *, lock: ObjectLock | None = None) -> int:
        return self._backend.put(key, data, lock=lock or self.lock)

    def create(self, key: str, data: bytes) -> bool:
        return self._backend.create(key, data)

    def retained_until(self, key: str) -> datetime | None:
        return self._backend.retained_until(key)

    def extend_lock(self, key: str, lock: ObjectLock) -> None:
        self._backend.extend_lock(key, lock)

    def hold(self, keys: Iterable[str], *, workers: int = 8) -> int:
        """Lock objects already stored at least until this backup's lock ends (those locked
        longer keep their lock); how many were lengthened."""
        lock = self.lock
        if lock is None:
            return 0

        def lengthen(key: str) -> bool:
            until = self.retained_until(key)
            if until is not None and until >= lock.retain_until:
                return False
            self.extend_lock(key, lock)
            return True

        with ThreadPoolExecutor(workers) as pool:
            return sum(pool.map(lengthen, keys))

    def get(self, key: str, *, offset: int = 0, length: int = 0) -> bytes:
        return self._backend.get(key, offset=offset, length=length)

    def list_objects(self, prefix: str) -> Iterator[tuple[str, int]]:
        return self._backend.list_objects(prefix)

    def delete(self, keys: Iterable[str]) -> None:
        """Remove the objects whose retention has ended (or that have none)."""
        now = datetime.now(UTC)
        self._backend.delete(
            key for key in keys if (until := self.retained_until(key)) is None or until <= now
        )

    def exists(self, key: str) -> bool:
        return self._backend.exists(key)

    def bucket_exists(self) -> bool:
        return self._backend.bucket_exists()

    def presign(self, method: Literal["GET", "PUT"], key: str, expires: timedelta) -> str:
        return self._backend.presign(method, key, expires)

    def capabilities(self) -> Capabilities:
        return self._backend.capabilities()

    def validate(self, probe_key: str, *, whose_keys: str) -> None:
        self._backend.validate(probe_key, whose_keys=whose_keys)

    def close(self) -> None:
        self._backend.close()
