"""Immutable and key-wrapped locations against a real S3 server (SeaweedFS, which implements
S3 Object Lock): locked writes, deletes that leave locked objects alone, a prune that keeps
them, the mover command writing locked, conditional creates, and key files."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from minio import Minio
from minio.deleteobjects import DeleteObject

from activities.locations import repository_key
from activities.mover import ChunkStore, backup
from activities.mover.prune import forget, prune
from activities.volumes import hold_volume_data
from deploy.local.servers.s3 import S3Server, start_s3, stop_s3
from lifeboat import keyring
from lifeboat.credentials import AccessKeys
from lifeboat.locations import (
    LocationAddress,
    LocationBackend,
    LocationKind,
    LockMode,
    ObjectLock,
    open_backend,
)
from lifeboat.locations.locked import LockedBackend

ROOT = Path(__file__).resolve().parents[2]
LOCATION_KEY = b"location-key-of-the-vault-tests"


@pytest.fixture(scope="module")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    home = tmp_path_factory.mktemp("s3")
    server = start_s3(home)
    try:
        yield server
    finally:
        stop_s3(home)


def _admin(s3: S3Server) -> Minio:
    return Minio(s3.endpoint.removeprefix("http://"), s3.access_key, s3.secret_key, secure=False)


def _bucket(s3: S3Server, *, object_lock: bool) -> str:
    name = f"vault-{secrets.token_hex(4)}"
    _admin(s3).make_bucket(name, object_lock=object_lock)
    return name


def _backend(s3: S3Server, bucket: str) -> LocationBackend:
    keys = AccessKeys(s3.access_key, s3.secret_key)
    return open_backend(LocationAddress(LocationKind.S3, s3.endpoint, bucket), keys)


def _versions(s3: S3Server, bucket: str) -> list[tuple[str, str]]:
    listing = _admin(s3).list_objects(bucket, recursive=True, include_version=True)
    return [(o.object_name or "", o.version_id or "") for o in listing if not o.is_delete_marker]


def _soon(hours: int = 1) -> datetime:
    return (datetime.now(UTC) + timedelta(hours=hours)).replace(microsecond=0)


def test_a_locked_object_cannot_be_removed_before_its_lock_ends(s3: S3Server) -> None:
    bucket = _bucket(s3, object_lock=True)
    until = _soon()
    locked = LockedBackend(_backend(s3, bucket), ObjectLock(LockMode.COMPLIANCE, until))

    locked.put("backups/a/manifest", b"manifest")
    assert locked.retained_until("backups/a/manifest") == until
    # Through Lifeboat: a delete leaves it where it is (no delete marker hides it).
    locked.delete(["backups/a/manifest"])
    assert locked.get("backups/a/manifest") == b"manifest"
    # Behind Lifeboat's back: the server itself refuses to remove the locked version.
    [(name, version)] = _versions(s3, bucket)
    failures = list(_admin(s3).remove_objects(bucket, [DeleteObject(name, version)]))
    assert [f.code for f in failures] == ["AccessDenied"]
    assert _admin(s3).get_object(bucket, name).read() == b"manifest"


def test_objects_without_a_lock_are_removed_as_usual(s3: S3Server) -> None:
    bucket = _bucket(s3, object_lock=True)
    backend = LockedBackend(_backend(s3, bucket), None)  # a prune writes nothing locked
    backend.put("scratch", b"x")
    assert backend.retained_until("scratch") is None
    backend.delete(["scratch", "never-there"])
    assert not backend.exists("scratch")


def test_a_plain_bucket_refuses_locked_writes(s3: S3Server) -> None:
    bucket = _bucket(s3, object_lock=False)
    backend = _backend(s3, bucket)
    assert not backend.capabilities().object_lock
    with pytest.raises(Exception, match="could not upload"):
        backend.put("x", b"x", lock=ObjectLock(LockMode.GOVERNANCE, _soon()))


def _fill(directory: Path) -> None:
    (directory / "db").mkdir(parents=True)
    (directory / "db" / "table.txt").write_text("row,value\n" * 50_000)
    (directory / "db" / "blob.bin").write_bytes(os.urandom(512 * 1024))


def test_a_backup_to_an_immutable_location_locks_every_object_and_prune_keeps_them(
    s3: S3Server, tmp_path: Path
) -> None:
    bucket = _bucket(s3, object_lock=True)
    until = _soon()
    source = tmp_path / "source"
    _fill(source)
    locked = LockedBackend(_backend(s3, bucket), ObjectLock(LockMode.GOVERNANCE, until))
    summary = backup(source, ChunkStore(locked, "loc", LOCATION_KEY))

    written = [key for key, _ in locked.list_objects("loc/")]
    assert written, "the backup wrote its repository"
    assert {locked.retained_until(key) for key in written} == {until}

    # A locked snapshot outlives a forget through Lifeboat...
    pruning = ChunkStore(LockedBackend(_backend(s3, bucket), None), "loc", LOCATION_KEY)
    forget(pruning, [summary.snapshot_id])
    assert pruning.list_snapshots() == [summary.snapshot_id]
    # ...and when it is hidden behind Lifeboat's back (a delete marker), its chunks are
    # referenced no more, yet the prune (which writes nothing locked) removes none of them.
    forget(ChunkStore(_backend(s3, bucket), "loc", LOCATION_KEY), [summary.snapshot_id])
    chunks = [key for key in written if "/snapshots/" not in key]
    prune(pruning)
    assert sorted(key for key, _ in locked.list_objects("loc/")) == sorted(chunks)


def test_a_later_backup_lengthens_the_lock_of_the_data_it_reuses(
    s3: S3Server, tmp_path: Path
) -> None:
    bucket = _bucket(s3, object_lock=True)
    source = tmp_path / "source"
    _fill(source)
    first_lock, second_lock = _soon(1), _soon(5)

    def backed_up(until: datetime) -> tuple[LockedBackend, ChunkStore, str]:
        locked = LockedBackend(_backend(s3, bucket), ObjectLock(LockMode.GOVERNANCE, until))
        store = ChunkStore(locked, "loc", LOCATION_KEY)
        return locked, store, backup(source, store).snapshot_id

    backed_up(first_lock)
    locked, store, second = backed_up(second_lock)
    needed = store.objects_of(second)
    # The second backup reused the first one's data, locked only as long as the first.
    assert {locked.retained_until(key) for key in needed} == {first_lock, second_lock}

    lengthened = hold_volume_data(locked, store, second)
    assert 0 < lengthened < len(needed)
    assert {locked.retained_until(key) for key in needed} == {second_lock}
    # Never shortened: holding for a shorter lock changes nothing.
    shorter = LockedBackend(_backend(s3, bucket), ObjectLock(LockMode.GOVERNANCE, first_lock))
    assert hold_volume_data(shorter, store, second) == 0
    assert {locked.retained_until(key) for key in needed} == {second_lock}


def test_the_mover_command_writes_locked_objects(s3: S3Server, tmp_path: Path) -> None:
    bucket = _bucket(s3, object_lock=True)
    source = tmp_path / "source"
    _fill(source)
    until = _soon(2)
    env = {
        **os.environ,
        "LIFEBOAT_MOVER_ACCESS_KEY": s3.access_key,
        "LIFEBOAT_MOVER_SECRET_KEY": s3.secret_key,
        "LIFEBOAT_MOVER_LOCATION_KEY": LOCATION_KEY.decode(),
    }
    location = ["--endpoint", s3.endpoint, "--bucket", bucket, "--prefix", "cmd"]

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "activities.mover", *args],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip

    half = run("backup", *location, "--source", str(source), "--lock-mode", "compliance")
    assert half.returncode == 2
    assert "give both --lock-mode and --lock-until" in half.stderr

    done = run(
        "backup", *location, "--source", str(source),
        "--lock-mode", "compliance", "--lock-until", until.isoformat(),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    backend = _backend(s3, bucket)
    written = [key for key, _ in backend.list_objects("cmd/")]
    assert written
    assert {backend.retained_until(key) for key in written} == {until}


def test_create_stores_only_when_the_key_is_free(s3: S3Server) -> None:
    backend = _backend(s3, _bucket(s3, object_lock=False))
    assert backend.create("keys/one", b"first")
    assert not backend.create("keys/one", b"second")
    assert backend.get("keys/one") == b"first"


def test_a_new_repository_gets_a_random_data_key_and_an_old_one_keeps_its_location_key(
    s3: S3Server,
) -> None:
    backend = _backend(s3, _bucket(s3, object_lock=False))

    data_key = repository_key(backend, "new", LOCATION_KEY, create=True)
    assert data_key != LOCATION_KEY
    # Found again, by every worker: the key file in the bucket holds it.
    assert repository_key(backend, "new", LOCATION_KEY, create=True) == data_key
    [(name, _)] = list(backend.list_objects("new/lifeboat/keys/"))
    stored = backend.get(name)
    assert data_key not in stored and LOCATION_KEY not in stored
    assert keyring.unwrap(stored, LOCATION_KEY) == data_key
    with pytest.raises(keyring.KeyFileError, match="another key"):
        keyring.unwrap(stored, b"some-other-location-key")

    # A location made before key files: its key is its data key, and nothing is written.
    assert repository_key(backend, "old", LOCATION_KEY, create=False) == LOCATION_KEY
    assert list(backend.list_objects("old/")) == []
    # So too a repository of data without a key file, whatever the catalog says (a location
    # added again over an old repository).
    backend.put("readded/lifeboat-data/v1/config", b"data of an old repository")
    assert repository_key(backend, "readded", LOCATION_KEY, create=True) == LOCATION_KEY
    assert list(backend.list_objects("readded/lifeboat/keys/")) == []


def test_a_key_file_altered_in_the_bucket_is_refused(s3: S3Server) -> None:
    backend = _backend(s3, _bucket(s3, object_lock=False))
    repository_key(backend, "loc", LOCATION_KEY, create=True)
    name = keyring.key_file_key("loc", LOCATION_KEY)
    altered = backend.get(name).replace(b'"data_key": "', b'"data_key": "AAAA')
    backend.put(name, altered)
    with pytest.raises(keyring.KeyFileError, match="altered"):
        repository_key(backend, "loc", LOCATION_KEY, create=True)
    # Never replaced by a new key: the backups under the old one stay recoverable.
    assert backend.get(name) == altered
