"""Benchmark: the data mover against Debian's `restic`, side by side on one S3 server.

    .venv/bin/python tests/bench/bench_mover.py [--size 2GiB] [--repeat 3] [--workdir DIR] [--keep]

It generates mixed data (a third compressible text in large files, a third random bytes in
large files, a third many small files), starts its own SeaweedFS, and times in one run:
a raw S3 upload of the same bytes (the ceiling), full backups, incremental backups after
changing 1 % of the data, and restores of the incremental snapshot. Two floors bound what
any tool can do here: uploading the mover's bytes from memory, and writing the restored
files from memory (on a small machine the S3 server and the file system take much of the
CPU that both tools need). Both tools run as commands (process start included), read the
same files (warm in the page cache for both), and write to the same server; bytes uploaded
are measured the same way for both, as the growth of their prefix in the bucket. CPU
seconds of each tool and of the S3 server show where a small machine's time goes. It runs
`--repeat` rounds (3 by default), each into fresh repositories, the tools' order alternating
from round to round, and reports each step's median. Named bench_*.py so that pytest does
not collect it.

Creating files is slow for minutes after many were deleted on an ext4 file system without a
journal (this VM's: each new inode is checked against recently freed ones), and whichever
restore runs first pays most (the alternating order shares that out). Start a run five
minutes or more after deleting a large tree, a previous run's included.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import hashlib
import json
import os
import random
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from minio import Minio

from activities.mover import ChunkStore
from deploy.local.servers.procs import ManagedProcess
from deploy.local.servers.s3 import S3Server, start_s3, stop_s3
from lifeboat.credentials import AccessKeys
from lifeboat.locations import LocationAddress, LocationKind, open_backend

BUCKET = "bench"
LOCATION_KEY = "benchmark-location-key-0123456789"
RESTIC_PASSWORD = "benchmark-restic-password"
BIG_FILE = 64 * 1024 * 1024
SMALL_FILES_AT_2GIB = 20_000
GiB = 1024**3
UNITS = {"": 1, "b": 1, "kb": 1000, "mb": 1000**2, "gb": 1000**3}
UNITS |= {"kib": 1024, "mib": 1024**2, "gib": GiB}


def parse_size(text: str) -> int:
    """`2GiB`, `512MiB`, `100MB` or a plain number of bytes."""
    match = re.fullmatch(r"\s*([0-9.]+)\s*([a-zA-Z]*)\s*", text)
    if not match or match.group(2).lower() not in UNITS:
        raise argparse.ArgumentTypeError(f"{text!r} is not a size like 2GiB or 500MiB")
    return int(float(match.group(1)) * UNITS[match.group(2).lower()])


# The data.


class TextSource:
    """Log-like text: random phrases over a fixed vocabulary (zstd -1 gets about 45 %)."""

    def __init__(self, rng: random.Random) -> None:
        letters = "abcdefghijklmnopqrstuvwxyz"
        words = ["".join(rng.choices(letters, k=rng.randint(2, 10))) for _ in range(5000)]
        ends = [" ", " ", " ", ", ", ".\n", "\n"]
        self.phrases = [
            (" ".join(rng.choices(words, k=rng.randint(1, 4))) + rng.choice(ends)).encode()
            for _ in range(65536)
        ]
        self.rng = rng

    def take(self, size: int) -> bytes:
        out = bytearray()
        while len(out) < size:
            out += b"".join(self.rng.choices(self.phrases, k=20_000))
        return bytes(out[:size])


def generate(root: Path, size: int, rng: random.Random) -> int:
    """Write `size` bytes of mixed data under `root`; the number of files."""
    text = TextSource(rng)
    third = size // 3
    big = min(BIG_FILE, max(1, third // 4))
    files = 0
    for kind, make in (("text", text.take), ("random", rng.randbytes)):
        folder = root / kind
        folder.mkdir(parents=True)
        left = third
        while left > 0:
            count = min(big, left)
            (folder / f"{kind}-{files:03d}.dat").write_bytes(make(count))
            left -= count
            files += 1
    small_total = size - 2 * third
    count = max(100, round(SMALL_FILES_AT_2GIB * size / (2 * GiB)))
    average = max(2, small_total // count)
    left, index = small_total, 0
    while left > 0:
        folder = root / "small" / f"d{index // 200:03d}"
        folder.mkdir(parents=True, exist_ok=True)
        length = min(left, rng.randint(1, 2 * average - 1))
        data = text.take(length) if index % 2 else rng.randbytes(length)
        (folder / f"f{index:05d}").write_bytes(data)
        left -= length
        index += 1
    return files + index


def change_one_percent(root: Path, rng: random.Random) -> int:
    """Change about 1 % of the bytes: regions of big files, rewritten and new small files."""
    total = sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
    budget = total // 100
    text = TextSource(random.Random(rng.random()))
    changed = 0
    big = sorted(p for p in root.glob("*/*.dat"))
    region = 256 * 1024
    while changed < budget // 2 and big:
        path = rng.choice(big)
        data = text.take(region) if "text" in path.name else rng.randbytes(region)
        with open(path, "r+b") as stream:
            stream.seek(rng.randrange(0, max(1, path.stat().st_size - region)))
            stream.write(data)
        changed += region
    small = sorted(p for p in (root / "small").rglob("f*"))
    while changed < budget * 3 // 4 and small:
        path = small.pop(rng.randrange(len(small)))
        length = path.stat().st_size
        path.write_bytes(text.take(length) if length % 2 else rng.randbytes(length))
        changed += length
    fresh = root / "small" / "new"
    fresh.mkdir(exist_ok=True)
    index = 0
    while changed < budget:
        length = rng.randint(1024, 64 * 1024)
        (fresh / f"n{index:04d}").write_bytes(text.take(length))
        changed += length
        index += 1
    return changed


# Measuring.


@dataclass
class Row:
    step: str
    tool: str
    seconds: float
    data_bytes: int  # the bytes the step covers (backed up or restored)
    uploaded: int | None
    tool_cpu: float  # CPU seconds of the tool (user + system)
    server_cpu: float  # CPU seconds of the S3 server during the step

    @property
    def mb_per_second(self) -> float:
        return self.data_bytes / self.seconds / 1e6


class Cpu:
    """CPU seconds used so far by this process, its finished children, and the S3 server."""

    def __init__(self, server_pid: int) -> None:
        self.server_pid = server_pid

    def now(self) -> tuple[float, float, float]:
        own = resource.getrusage(resource.RUSAGE_SELF)
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        fields = Path(f"/proc/{self.server_pid}/stat").read_text().rsplit(")", 1)[1].split()
        server = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        return own.ru_utime + own.ru_stime, children.ru_utime + children.ru_stime, server


def prefix_bytes(client: Minio, prefix: str) -> int:
    return sum(int(o.size or 0) for o in client.list_objects(BUCKET, prefix, recursive=True))


def timed(command: list[str], env: dict[str, str]) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command[:4])} failed:\n{done.stderr[-2000:]}")
    return seconds, done.stdout


PART = 1024 * 1024
UPLOAD_THREADS = 8


def put_all(store: ChunkStore, prefix: str, parts: Iterable[bytes]) -> float:
    """Seconds to PUT `parts` as objects under `prefix` from 8 threads, 1 MiB each being
    SeaweedFS's best shape here. Through presigned URLs, as the mover uploads: a signed
    payload would also make the server hash every body with SHA-256."""
    room = threading.BoundedSemaphore(4 * UPLOAD_THREADS)  # bounded data in memory

    def put(number: int, data: bytes) -> None:
        try:
            store.put(f"{prefix}{number:07d}", data)
        finally:
            room.release()

    started = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(UPLOAD_THREADS) as pool:
        futures = []
        for number, data in enumerate(parts):
            room.acquire()
            futures.append(pool.submit(put, number, data))
        for future in futures:
            future.result()
    return time.perf_counter() - started


def raw_upload(store: ChunkStore, root: Path, prefix: str) -> float:
    """Seconds to upload every byte of `root` as it is, reading files as the tools do: the
    ceiling of a backup that neither compresses nor deduplicates."""

    def parts() -> Iterator[bytes]:
        pending = b""
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            data = pending + path.read_bytes()
            whole = len(data) // PART
            for number in range(whole):
                yield data[number * PART : (number + 1) * PART]
            pending = data[whole * PART :]
        if pending:
            yield pending

    return put_all(store, f"{prefix}/", parts())


def upload_floor(store: ChunkStore, size: int, prefix: str) -> float:
    """Seconds to upload `size` bytes of incompressible data from memory: the least a backup
    that uploads that much can take on this server, with no reading, chunking, hashing,
    compressing or encrypting at all."""
    block = random.Random(1).randbytes(PART)
    count = -(-size // PART)
    parts = (block[: min(PART, size - n * PART)] for n in range(count))
    return put_all(store, f"{prefix}/", parts)


def write_floor(source: Path, target: Path) -> float:
    """Seconds to write files of the sizes and paths of `source` into `target` from memory:
    the least a restore of that tree can take on this machine's file system."""
    files = [(p.relative_to(source), p.stat().st_size) for p in sorted(source.rglob("*"))]
    block = random.Random(2).randbytes(max((size for _, size in files), default=0))
    started = time.perf_counter()
    for relative, size in files:
        path = target / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if (source / relative).is_file():
            path.write_bytes(memoryview(block)[:size])
    return time.perf_counter() - started


def tree_digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in root.rglob("*")
        if p.is_file() and not p.is_symlink()
    }


def sizes(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file() and not p.is_symlink())


# The run.


def run(size: int, workdir: Path, repeat: int) -> list[Row]:
    source, home = workdir / "data", workdir / "s3"
    print(f"generating {size / 1e6:.0f} MB of mixed data in {source} ...", flush=True)
    started = time.perf_counter()
    files = generate(source, size, random.Random(2026))
    total = sizes(source)
    print(f"  {files} files, {total / 1e6:.0f} MB in {time.perf_counter() - started:.0f} s")

    server: S3Server = start_s3(home)
    try:
        client = Minio(
            server.endpoint.removeprefix("http://"),
            server.access_key,
            server.secret_key,
            secure=False,
        )
        client.make_bucket(BUCKET)
        pid = ManagedProcess("s3", home).pid()
        assert pid is not None
        rounds = []
        for number in range(repeat):
            # Alternating order: whichever tool goes first in a round goes second in the next.
            print(f"round {number + 1} of {repeat} ...", flush=True)
            rounds.append(
                compare(
                    server, client, Cpu(pid), source, workdir, number, mover_first=number % 2 == 0
                )
            )
        return medians(rounds)
    finally:
        stop_s3(home)


def medians(rounds: list[list[Row]]) -> list[Row]:
    """Per step and tool, the round whose time is the median."""
    by: dict[tuple[str, str], list[Row]] = {}
    for row in (r for rows in rounds for r in rows):
        by.setdefault((row.step, row.tool), []).append(row)
    return [sorted(rows, key=lambda r: r.seconds)[len(rows) // 2] for rows in by.values()]


def compare(
    server: S3Server,
    client: Minio,
    cpu: Cpu,
    source: Path,
    work: Path,
    number: int,
    mover_first: bool,
) -> list[Row]:
    """One round: each step by both tools, in fresh repositories of the round's own."""
    rows: list[Row] = []
    total = sizes(source)
    base = {"PATH": os.environ.get("PATH", ""), "HOME": str(work)}
    mover_env = base | {
        "LIFEBOAT_MOVER_ACCESS_KEY": server.access_key,
        "LIFEBOAT_MOVER_SECRET_KEY": server.secret_key,
        "LIFEBOAT_MOVER_LOCATION_KEY": LOCATION_KEY,
    }
    restic_env = base | {
        "AWS_ACCESS_KEY_ID": server.access_key,
        "AWS_SECRET_ACCESS_KEY": server.secret_key,
        "RESTIC_PASSWORD": RESTIC_PASSWORD,
        "RESTIC_CACHE_DIR": str(work / f"restic-cache-{number}"),
    }
    mover_prefix, restic_prefix = f"mover-{number}", f"restic-{number}"
    mover = [sys.executable, "-m", "activities.mover"]
    location = ["--endpoint", server.endpoint, "--bucket", BUCKET, "--prefix", mover_prefix]
    repository = ["restic", "-r", f"s3:{server.endpoint}/{BUCKET}/{restic_prefix}"]
    subprocess.run([*repository, "init"], env=restic_env, check=True, capture_output=True)

    def step(name: str, tool: str, prefix: str, data: int, action: Callable[[], float]) -> Row:
        before = prefix_bytes(client, prefix)
        own, children, server = cpu.now()
        seconds = action()
        after = cpu.now()
        # The floors run in this process, the tools as its children.
        used = (after[0] - own) if tool in ("s3", "fs") else (after[1] - children)
        uploaded = prefix_bytes(client, prefix) - before if prefix else None
        row = Row(name, tool, seconds, data, uploaded, used, after[2] - server)
        rows.append(row)
        print(f"  {name:<12} {tool:<7} {seconds:7.2f} s", flush=True)
        return row

    def both(name: str, data: int, mover_action: Callable[[], float],
             restic_action: Callable[[], float], *, uploads: bool) -> Row:  # fmt: skip
        """The step by both tools in this round's order; the mover's row."""
        runs = [("mover", f"{mover_prefix}/" if uploads else "", mover_action),
                ("restic", f"{restic_prefix}/" if uploads else "", restic_action)]  # fmt: skip
        by_tool = {}
        for tool, prefix, action in runs if mover_first else reversed(runs):
            by_tool[tool] = step(name, tool, prefix, data, action)
        return by_tool["mover"]

    print("raw S3 upload of the same bytes ...", flush=True)
    # A plain uploader: only `put`, which is one PUT through a presigned URL, is used.
    keys = AccessKeys(server.access_key, server.secret_key)
    backend = open_backend(
        LocationAddress(LocationKind.S3, server.endpoint, BUCKET), keys, connections=32
    )
    uploads = ChunkStore(backend, "", LOCATION_KEY.encode())
    step("raw upload", "s3", f"raw-{number}/", total,
         lambda: raw_upload(uploads, source, f"raw-{number}"))  # fmt: skip

    output: dict[str, str] = {}

    def mover_run(key: str, *args: str) -> Callable[[], float]:
        def action() -> float:
            seconds, output[key] = timed([*mover, *args, *location], mover_env)
            return seconds

        return action

    def restic_run(*args: str) -> Callable[[], float]:
        return lambda: timed([*repository, *args], restic_env)[0]

    print("full backups ...", flush=True)
    full = mover_run("full", "backup", "--source", str(source))
    restic_full = restic_run("backup", "--quiet", str(source))
    sent = both("full", total, full, restic_full, uploads=True).uploaded or 0
    first = json.loads(output["full"])["snapshot_id"]
    print("the least those uploads take on this server ...", flush=True)
    step("upload floor", "s3", f"floor-{number}/", sent,
         lambda: upload_floor(uploads, sent, f"floor-{number}"))  # fmt: skip

    changed = change_one_percent(source, random.Random(7 + number))
    total = sizes(source)
    print(f"changed {changed / 1e6:.1f} MB ({100 * changed / total:.2f} %); incrementals ...")
    incremental = mover_run("incr", "backup", "--source", str(source), "--parent", first)
    restic_incremental = restic_run("backup", "--quiet", str(source))
    both("incremental", total, incremental, restic_incremental, uploads=True)
    second = json.loads(output["incr"])["snapshot_id"]

    print("restores of the incremental snapshots ...", flush=True)
    print("the least writing those files takes here ...", flush=True)
    floor_target = work / f"restore-floor-{number}"
    step("write floor", "fs", "", total, lambda: write_floor(source, floor_target))
    mover_target, restic_target = (
        work / f"restore-mover-{number}",
        work / f"restore-restic-{number}",
    )
    restore = mover_run("restore", "restore", "--snapshot", second, "--target", str(mover_target))
    restic_restore = restic_run("restore", "latest", "--target", str(restic_target))
    both("restore", total, restore, restic_restore, uploads=False)

    print("checking both restores ...", flush=True)
    expected = tree_digest(source)
    if tree_digest(mover_target) != expected:
        raise SystemExit("the mover's restore differs from the source")
    restic_copy = restic_target / source.relative_to(source.anchor)
    if tree_digest(restic_copy) != expected:
        raise SystemExit("restic's restore differs from the source")
    print("  both identical to the source")
    for target in (floor_target, mover_target, restic_target):
        shutil.rmtree(target, ignore_errors=True)
    return rows


def report(rows: list[Row], repeat: int) -> None:
    print()
    print(f"medians of {repeat} rounds, the tools' order alternating from round to round")
    print(
        f"{'step':<12} {'tool':<7} {'seconds':>8} {'MB/s':>8} {'uploaded MB':>12} "
        f"{'tool CPU s':>11} {'S3 CPU s':>9}"
    )
    for row in rows:
        uploaded = f"{row.uploaded / 1e6:12.1f}" if row.uploaded is not None else f"{'-':>12}"
        print(
            f"{row.step:<12} {row.tool:<7} {row.seconds:8.2f} {row.mb_per_second:8.1f} {uploaded} "
            f"{row.tool_cpu:11.2f} {row.server_cpu:9.2f}"
        )
    by = {(r.step, r.tool): r for r in rows}
    print()
    print("ratios mover/restic (throughput: higher is better; bytes: lower is better)")
    for name in ("full", "incremental", "restore"):
        mover, restic = by[name, "mover"], by[name, "restic"]
        speed = restic.seconds / mover.seconds
        line = f"  {name:<12} throughput x{speed:.2f} (aim >= 2)"
        line += f"   tool CPU x{mover.tool_cpu / restic.tool_cpu:.2f}"
        if mover.uploaded is not None and restic.uploaded:
            line += f"   bytes uploaded x{mover.uploaded / restic.uploaded:.2f} (aim <= 1)"
        print(line)
    raw = by["raw upload", "s3"]
    print(
        f"  full backup vs raw S3 upload of the same bytes: mover x"
        f"{raw.seconds / by['full', 'mover'].seconds:.2f}, restic x"
        f"{raw.seconds / by['full', 'restic'].seconds:.2f}"
    )
    print("floors on this machine (no tool can be faster; twice restic's throughput needs):")
    for name, floor, what in (
        ("full", ("upload floor", "s3"), "uploading as many bytes as the mover did, from memory"),
        ("restore", ("write floor", "fs"), "writing the same files from memory"),
    ):
        print(
            f"  {name:<12} {what}: {by[floor].seconds:.2f} s"
            f" (twice restic: {by[name, 'restic'].seconds / 2:.2f} s)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=parse_size, default=2 * GiB, help="default 2GiB")
    parser.add_argument("--workdir", type=Path, help="default: a fresh temporary directory")
    parser.add_argument("--keep", action="store_true", help="keep the data and the server's")
    parser.add_argument("--repeat", type=int, default=3, help="rounds (default 3): medians")
    args = parser.parse_args()
    if shutil.which("restic") is None:
        raise SystemExit("restic is missing: apt-get install -y restic")
    version = subprocess.run(["restic", "version"], capture_output=True, text=True).stdout
    print(f"{os.cpu_count()} CPUs; {version.strip()}; SeaweedFS via deploy.local.servers.s3")
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="bench-mover-"))
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        report(run(args.size, workdir, args.repeat), args.repeat)
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
