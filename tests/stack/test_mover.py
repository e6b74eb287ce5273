"""The data mover against a real S3 server (SeaweedFS): backup, dedup, tamper, resume, command."""

from __future__ import annotations

import hashlib
import json
import os
import random
import secrets
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from minio import Minio
from minio.commonconfig import ENABLED
from minio.versioningconfig import VersioningConfig

from activities.mover import (
    ChunkStore,
    IntegrityError,
    MoverError,
    Progress,
    ResumeState,
    SnapshotNotFoundError,
    backup,
    restore,
)
from activities.mover.check import check_repository
from activities.mover.chunks import CHUNK_MAX
from activities.mover.prune import forget, prune
from activities.mover.verify import VerifySummary, compare, verify
from deploy.local.servers.s3 import S3Server, start_s3, stop_s3
from lifeboat.credentials import AccessKeys
from lifeboat.locations import (
    Capabilities,
    LocationAddress,
    LocationBackend,
    LocationKind,
    open_backend,
)

ROOT = Path(__file__).resolve().parents[2]
BUCKET = "mover-tests"
LOCATION_KEY = b"location-key-of-the-mover-tests"
MiB = 1024 * 1024


@pytest.fixture(scope="module")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    home = tmp_path_factory.mktemp("s3")
    server = start_s3(home)
    try:
        yield server
    finally:
        stop_s3(home)


def _backend(s3: S3Server, bucket: str = BUCKET) -> LocationBackend:
    keys = AccessKeys(s3.access_key, s3.secret_key)
    return open_backend(LocationAddress(LocationKind.S3, s3.endpoint, bucket), keys, connections=32)


@pytest.fixture(scope="module")
def backend(s3: S3Server) -> LocationBackend:
    Minio(
        s3.endpoint.removeprefix("http://"), s3.access_key, s3.secret_key, secure=False
    ).make_bucket(BUCKET)
    return _backend(s3)


@pytest.fixture
def store(backend: LocationBackend) -> ChunkStore:
    """A repository of its own per test, so dedup across tests cannot hide uploads."""
    return ChunkStore(backend, f"locations/{secrets.token_hex(4)}", LOCATION_KEY)


def words(rng: random.Random, size: int) -> bytes:
    vocabulary = [rng.randbytes(rng.randint(2, 9)).hex().encode() for _ in range(300)]
    return b" ".join(rng.choices(vocabulary, k=size // 8))[:size]


def make_source(root: Path) -> Path:
    """Mixed data: text, random bytes, zeros, empty, nested dirs, modes, symlinks, 1000 files."""
    rng = random.Random(42)
    root.mkdir()
    (root / "text.log").write_bytes(words(rng, 3 * MiB))
    (root / "random.bin").write_bytes(rng.randbytes(6 * MiB + 123))
    (root / "zeros.img").write_bytes(bytes(2 * CHUNK_MAX + 10))
    (root / "empty").write_bytes(b"")
    nested = root / "a" / "b" / "c"
    nested.mkdir(parents=True)
    (nested / "deep.txt").write_bytes(b"deep\n" * 1000)
    (root / "run.sh").write_text("#!/bin/sh\necho hi\n")
    (root / "run.sh").chmod(0o755)
    (root / "a" / "secret").write_bytes(b"s3cr3t")
    (root / "a" / "secret").chmod(0o400)
    (root / "a" / "b").chmod(0o750)
    os.symlink("a/b/c/deep.txt", root / "link")
    os.symlink("does/not/exist", root / "a" / "dangling")
    os.mkdir(root / "empty-dir")
    (root / os.fsdecode(b"caf\xe9-latin1")).write_bytes(b"not utf-8 name")
    many = root / "many"
    many.mkdir()
    for i in range(1000):
        data = rng.randbytes(rng.randint(0, 4000)) if i % 2 else words(rng, rng.randint(0, 8000))
        (many / f"f{i:04d}").write_bytes(data)
    os.utime(root / "text.log", ns=(1_600_000_000_123_456_789, 1_600_000_000_123_456_789))
    return root


def describe(root: Path) -> dict[str, tuple[object, ...]]:
    """Everything a restore must reproduce, per relative path (the root itself is ".")."""
    paths = [str(root)]
    for directory, dirnames, filenames in os.walk(root):
        paths += [os.path.join(directory, name) for name in dirnames + filenames]
    found: dict[str, tuple[object, ...]] = {}
    for path in paths:
        info = os.lstat(path)
        content: object = None
        if stat.S_ISLNK(info.st_mode):
            content = os.readlink(path)
        elif stat.S_ISREG(info.st_mode):
            content = hashlib.sha256(Path(path).read_bytes()).hexdigest()
        found[os.path.relpath(path, root)] = (
            stat.S_IFMT(info.st_mode),
            stat.S_IMODE(info.st_mode),
            content,
            info.st_mtime_ns,
        )
    return found


@pytest.fixture
def source(tmp_path: Path) -> Path:
    return make_source(tmp_path / "source")


def test_backup_and_restore_are_identical(source: Path, store: ChunkStore, tmp_path: Path) -> None:
    summary = backup(source, store)
    assert summary.files == 1000 + 8
    assert summary.symlinks == 2
    assert summary.bytes_read == summary.bytes_total > 11 * MiB
    # Text compresses, zeros dedupe: less goes up than was read.
    assert summary.bytes_uploaded < summary.bytes_total * 0.9
    assert store.list_snapshots() == [summary.snapshot_id]

    target = tmp_path / "restored"
    result = restore(summary.snapshot_id, store, target)
    assert describe(target) == describe(source)
    assert result.files == summary.files
    assert result.bytes_written == summary.bytes_total
    # The zero chunks are not fetched and stay holes.
    assert os.stat(target / "zeros.img").st_blocks * 512 < CHUNK_MAX


def test_a_second_backup_uploads_only_what_changed(
    source: Path, store: ChunkStore, tmp_path: Path
) -> None:
    first = backup(source, store)
    with open(source / "random.bin", "r+b") as changed:
        changed.seek(3 * MiB)
        changed.write(b"a few changed bytes")

    second = backup(source, store, parent=first.snapshot_id)
    assert second.files_unchanged == second.files - 1
    assert second.bytes_read == (source / "random.bin").stat().st_size
    assert 1 <= second.chunks_new <= 2
    assert second.bytes_uploaded < 2 * CHUNK_MAX + 256 * 1024
    assert second.bytes_uploaded < first.bytes_uploaded / 5

    # Without a parent every file is read, and the repository still has all but one chunk.
    third = backup(source, store)
    assert third.bytes_read == third.bytes_total
    assert third.chunks_new == 0
    assert third.bytes_uploaded < 256 * 1024

    target = tmp_path / "restored"
    restore(second.snapshot_id, store, target)
    assert describe(target) == describe(source)


def test_small_files_go_into_packs_of_at_most_4_mib(store: ChunkStore, tmp_path: Path) -> None:
    source = tmp_path / "small"
    source.mkdir()
    rng = random.Random(7)
    for i in range(700):  # about 14 MiB of random files of up to 40 KiB
        (source / f"f{i:03d}").write_bytes(rng.randbytes(rng.randint(1, 40_000)))

    summary = backup(source, store)
    packs = [size for _, size in store.keys(f"{store.layout.root}/packs/")]
    # Not one object per file, and never an object just over 4 MiB (a second piece of
    # storage on SeaweedFS).
    assert 3 <= len(packs) <= 6
    assert max(packs) <= 4 * MiB
    restore(summary.snapshot_id, store, tmp_path / "restored")
    assert describe(tmp_path / "restored") == describe(source)


def repository_bytes(store: ChunkStore) -> int:
    return sum(size for _, size in store.keys(store.layout.root + "/"))


def test_prune_keeps_what_remaining_snapshots_need_and_deletes_the_rest(
    source: Path, store: ChunkStore, tmp_path: Path
) -> None:
    first = backup(source, store)
    (source / "random.bin").write_bytes(random.Random(7).randbytes(6 * MiB))
    for i in range(0, 1000, 2):
        (source / "many" / f"f{i:04d}").unlink()
    second = backup(source, store, parent=first.snapshot_id)
    # A dead run's leftovers: a checkpoint and a pack whose index never arrived.
    store.put(store.layout.checkpoint("20260101T000000Z-dead", 0), b"x")
    store.put(store.layout.pack("f" * 32), b"y" * 1000)

    forget(store, [first.snapshot_id])
    both = repository_bytes(store)
    summary = prune(store)
    assert summary.snapshots == 1
    # The first backup's own random file (6 MiB, incompressible) is gone, and the leftovers.
    assert summary.bytes_deleted > 6 * MiB
    assert repository_bytes(store) == both - summary.bytes_deleted
    assert not list(store.keys(store.layout.root + "/checkpoints/"))
    assert not store.exists(store.layout.pack("f" * 32))
    target = tmp_path / "restored"
    restore(second.snapshot_id, store, target)
    assert describe(target) == describe(source)
    # Repeating changes nothing.
    assert prune(store).objects_deleted == 0

    forget(store, [second.snapshot_id])
    prune(store)
    assert repository_bytes(store) == 0


@pytest.mark.parametrize("kind", ["chunks", "packs"])
def test_a_tampered_chunk_fails_the_restore_clearly(
    kind: str, source: Path, store: ChunkStore, tmp_path: Path
) -> None:
    summary = backup(source, store)
    key = next(key for key, _ in store.keys(f"{store.layout.root}/{kind}/"))
    blob = bytearray(store.get(key))
    blob[len(blob) // 2] ^= 0x40
    store.put(key, bytes(blob))

    with pytest.raises(IntegrityError, match=r"chunk [0-9a-f]{64} \(in .+\) .*tampered") as err:
        restore(summary.snapshot_id, store, tmp_path / "restored")
    assert key in str(err.value)


def test_a_chunk_deleted_from_the_bucket_fails_the_restore_naming_it(
    source: Path, store: ChunkStore, tmp_path: Path
) -> None:
    """Objects removed behind Lifeboat's back (a bucket lifecycle rule, a manual cleanup)."""
    summary = backup(source, store)
    key = next(key for key, _ in store.keys(store.layout.chunks))
    store.delete([key])

    with pytest.raises(MoverError, match=r"could not download .* HTTP 404 NoSuchKey") as err:
        restore(summary.snapshot_id, store, tmp_path / "restored")
    assert key in str(err.value) and BUCKET in str(err.value)


def test_a_missing_bucket_fails_the_backup_naming_it(
    source: Path, s3: S3Server, tmp_path: Path
) -> None:
    store = ChunkStore(_backend(s3, "no-such-bucket"), "p", LOCATION_KEY)
    with pytest.raises(MoverError, match=r"in bucket 'no-such-bucket'.*NoSuchBucket"):
        backup(source, store)
    with pytest.raises(MoverError, match=r"could not upload 'p/object' in bucket .*NoSuchBucket"):
        store.put("p/object", b"data")


def test_the_wrong_location_key_or_an_unknown_snapshot_fail_clearly(
    source: Path, store: ChunkStore, backend: LocationBackend, tmp_path: Path
) -> None:
    summary = backup(source, store)
    other = ChunkStore(backend, store.layout.prefix, b"not-the-location-key")
    with pytest.raises(IntegrityError, match="location key is wrong"):
        restore(summary.snapshot_id, other, tmp_path / "restored")
    with pytest.raises(SnapshotNotFoundError, match="no snapshot"):
        restore("20200101T000000Z-0000000000000000", store, tmp_path / "restored")


class Interrupted(Exception):
    pass


def test_an_interrupted_backup_resumes_without_redoing_finished_files(
    source: Path, store: ChunkStore, tmp_path: Path
) -> None:
    reports: list[Progress] = []

    def interrupt(progress: Progress) -> None:
        reports.append(progress)
        if progress.resume is not None and progress.resume.files_done >= 100:
            raise Interrupted

    with pytest.raises(Interrupted):
        backup(source, store, progress=interrupt, progress_seconds=0, checkpoint_seconds=0)
    state = reports[-1].resume
    assert state is not None
    assert reports[-1].files_total == 1008
    assert [r.bytes_done for r in reports] == sorted(r.bytes_done for r in reports)
    assert store.list_snapshots() == []

    # The state travels as JSON (a heartbeat), then the backup starts over in a new process.
    resumed = ResumeState.from_json(state.to_json())
    summary = backup(source, store, resume=resumed)
    assert summary.snapshot_id == state.run_id
    assert summary.files_unchanged >= state.files_done
    assert summary.bytes_read <= summary.bytes_total - state.bytes_done
    assert list(store.keys(store.layout.checkpoints(state.run_id))) == []

    target = tmp_path / "restored"
    restore(summary.snapshot_id, store, target)
    assert describe(target) == describe(source)

    # A retry after the snapshot was written reports it and writes nothing new.
    again = backup(source, store, resume=resumed)
    assert again.snapshot_id == summary.snapshot_id
    assert again.bytes_uploaded == 0
    assert store.list_snapshots() == [summary.snapshot_id]


def run_command(s3: S3Server, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "activities.mover", *args, "--endpoint", s3.endpoint],
        cwd=ROOT,
        env={"PATH": os.environ.get("PATH", ""), **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_command_takes_secrets_from_the_environment_only(
    s3: S3Server, backend: LocationBackend, source: Path, tmp_path: Path
) -> None:
    prefix = f"locations/{secrets.token_hex(4)}"
    location = ["--bucket", BUCKET, "--prefix", prefix]
    env = {
        "LIFEBOAT_MOVER_ACCESS_KEY": s3.access_key,
        "LIFEBOAT_MOVER_SECRET_KEY": s3.secret_key,
        "LIFEBOAT_MOVER_LOCATION_KEY": LOCATION_KEY.decode(),
    }
    done = run_command(s3, "backup", *location, "--source", str(source), env=env)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["files"] == 1008
    for secret in env.values():
        assert secret not in done.args

    target, summary_file = tmp_path / "restored", tmp_path / "termination-log"
    done = run_command(
        s3, "restore", *location, "--snapshot", summary["snapshot_id"], "--target", str(target),
        "--progress", "--summary-file", str(summary_file), env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["bytes_written"] == summary["bytes_total"]
    assert json.loads(summary_file.read_text()) == json.loads(done.stdout)
    assert describe(target) == describe(source)

    # A failure no retry cures has its own exit code; the summary file says why.
    done = run_command(
        s3, "restore", *location, "--snapshot", "20200101T000000Z-0000000000000000",
        "--target", str(target), "--summary-file", str(summary_file), env=env,
    )  # fmt: skip
    assert done.returncode == 3, done.stderr
    assert summary_file.read_text().startswith("error: ") and "20200101T000000Z" in done.stderr
    # The library and the command read the same repository.
    store = ChunkStore(backend, prefix, LOCATION_KEY)
    assert store.list_snapshots() == [summary["snapshot_id"]]

    missing = {k: v for k, v in env.items() if k != "LIFEBOAT_MOVER_LOCATION_KEY"}
    done = run_command(s3, "backup", *location, "--source", str(source), env=missing)
    assert done.returncode != 0
    assert "LIFEBOAT_MOVER_LOCATION_KEY" in done.stderr

    wrong = env | {"LIFEBOAT_MOVER_SECRET_KEY": "not-the-secret"}
    done = run_command(s3, "backup", *location, "--source", str(source), env=wrong)
    assert done.returncode == 1
    assert done.stderr.startswith("error: could not list")


def test_the_backend_says_whether_its_bucket_keeps_versions_and_locks_objects(s3: S3Server) -> None:
    admin = Minio(s3.endpoint.removeprefix("http://"), s3.access_key, s3.secret_key, secure=False)
    bucket = f"versions-{secrets.token_hex(4)}"
    admin.make_bucket(bucket)
    backend = _backend(s3, bucket)
    assert backend.capabilities() == Capabilities(object_lock=False, versioning=False)
    admin.set_bucket_versioning(bucket, VersioningConfig(ENABLED))
    assert backend.capabilities().versioning
    locked = f"locked-{secrets.token_hex(4)}"
    admin.make_bucket(locked, object_lock=True)
    assert _backend(s3, locked).capabilities() == Capabilities(object_lock=True, versioning=True)


def test_verify_of_a_good_snapshot_finds_no_difference_and_sees_a_changed_file(
    source: Path, store: ChunkStore, tmp_path: Path
) -> None:
    """Holes, empty files, modes, symlinks, nested directories: all compare equal."""
    summary = backup(source, store)
    target = tmp_path / "verified"
    result = verify(summary.snapshot_id, store, target)
    assert result.restored and result.differences == [] and result.differences_total == 0
    assert result.files == summary.files and result.bytes_checked == summary.bytes_total

    # The restored copy changed behind the snapshot's back: each change is named.
    tree = store.read_snapshot(summary.snapshot_id)
    os.utime(target / "random.bin", ns=(0, 0))
    with open(target / "text.log", "r+b") as changed:
        changed.seek(MiB + 5)
        changed.write(b"X")
    (target / "run.sh").chmod(0o700)
    (target / "stray").write_text("not backed up")
    found = compare(tree, store, target, VerifySummary(summary.snapshot_id))
    problems = {d["path"]: d["problem"] for d in found}
    assert set(problems) == {"random.bin", "text.log", "run.sh", "stray"}, problems
    assert "content differs" in problems["text.log"]
    assert "mode 700" in problems["run.sh"] and problems["stray"] == "not in the backup"


def test_verify_names_the_file_whose_chunk_is_gone(
    source: Path, store: ChunkStore, tmp_path: Path
) -> None:
    summary = backup(source, store)
    tree = store.read_snapshot(summary.snapshot_id)
    random_bin = next(e for e in tree.entries if e.path == "random.bin")
    gone = store.layout.chunk(random_bin.chunks[0][0])
    store.delete([gone])

    result = verify(summary.snapshot_id, store, tmp_path / "verified")
    assert not result.restored
    named = [d for d in result.differences if d["path"] == "random.bin"]
    assert named and gone in named[0]["problem"], result.differences
    assert any("the restore failed" in d["problem"] for d in result.differences)


def test_the_repository_check_finds_missing_and_corrupt_chunks_with_their_snapshots(
    source: Path, store: ChunkStore
) -> None:
    first = backup(source, store)
    (source / "new.bin").write_bytes(random.Random(5).randbytes(2 * MiB))
    second = backup(source, store, parent=first.snapshot_id)
    clean = check_repository(store, 1.0)
    assert clean.problems == [] and clean.snapshots == 2
    assert clean.chunks_sampled == clean.chunks > 0

    tree = store.read_snapshot(first.snapshot_id)
    shared = next(e for e in tree.entries if e.path == "random.bin").chunks[0][0]
    missing = store.layout.chunk(shared)
    store.delete([missing])
    own = [key for key, _ in store.keys(store.layout.chunks) if key != missing]
    new_only = {
        store.layout.chunk(cid)
        for e in store.read_snapshot(second.snapshot_id).entries
        if e.path == "new.bin"
        for cid, _ in e.chunks
    }
    corrupt = next(key for key in own if key in new_only)
    blob = bytearray(store.get(corrupt))
    blob[len(blob) // 2] ^= 0x01
    store.put(corrupt, bytes(blob))

    # Without a sample, sizes only: the flipped bit goes unseen.
    assert [(p.object, p.problem) for p in check_repository(store, 0.0).problems] == [
        (missing, "missing")
    ]
    report = check_repository(store, 1.0)
    found = {p.object: p for p in report.problems}
    assert set(found) == {missing, corrupt}
    assert found[missing].problem == "missing"
    assert found[missing].snapshots == sorted([first.snapshot_id, second.snapshot_id])
    assert found[corrupt].problem == "corrupt" and found[corrupt].snapshots == [second.snapshot_id]
    with pytest.raises(ValueError, match="sample_fraction"):
        check_repository(store, 1.5)
