"""Benchmark: the data mover against Debian's `restic`, side by side on one S3 server.

    .venv/bin/python tests/bench/bench_mover.py [--size 2GiB] [--workdir DIR] [--keep]

It generates mixed data (a third compressible text in large files, a third random bytes in
large files, a third many small files), starts its own SeaweedFS, and times in one run:
a raw S3 upload of the same bytes (the ceiling), full backups, incremental backups after
changing 1 % of the data, and restores of the incremental snapshot. Both tools run as
commands (process start included), read the same files (warm in the page cache for both),
and write to the same server; bytes uploaded are measured the same way for both, as the
growth of their prefix in the bucket. CPU seconds of each tool and of the S3 server show
where a small machine's time goes. Named bench_*.py so that pytest does not collect it.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import hashlib
import io
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
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from minio import Minio

from activities.mover import s3_client
from deploy.local.procs import ManagedProcess
from deploy.local.s3 import S3Server, start_s3, stop_s3

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


def raw_upload(client: Minio, root: Path, *, part: int = 1024 * 1024, threads: int = 8) -> float:
    """Seconds to PUT every byte of `root` as 1 MiB objects from 8 threads (SeaweedFS's best
    shape here), reading files as the tools do."""

    def parts() -> Iterator[bytes]:
        pending = b""
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            data = pending + path.read_bytes()
            whole = len(data) // part
            for number in range(whole):
                yield data[number * part : (number + 1) * part]
            pending = data[whole * part :]
        if pending:
            yield pending

    room = threading.BoundedSemaphore(4 * threads)  # a bounded amount of data in memory

    def put(number: int, data: bytes) -> None:
        try:
            client.put_object(BUCKET, f"raw/{number:07d}", io.BytesIO(data), len(data))
        finally:
            room.release()

    started = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
        futures = []
        for number, data in enumerate(parts()):
            room.acquire()
            futures.append(pool.submit(put, number, data))
        for future in futures:
            future.result()
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


def run(size: int, workdir: Path) -> list[Row]:
    source, home = workdir / "data", workdir / "s3"
    print(f"generating {size / 1e6:.0f} MB of mixed data in {source} ...", flush=True)
    started = time.perf_counter()
    files = generate(source, size, random.Random(2026))
    total = sizes(source)
    print(f"  {files} files, {total / 1e6:.0f} MB in {time.perf_counter() - started:.0f} s")

    server: S3Server = start_s3(home)
    try:
        client = s3_client(server.endpoint, server.access_key, server.secret_key)
        client.make_bucket(BUCKET)
        pid = ManagedProcess("s3", home).pid()
        assert pid is not None
        return compare(server, client, Cpu(pid), source, workdir, total)
    finally:
        stop_s3(home)


def compare(
    server: S3Server, client: Minio, cpu: Cpu, source: Path, work: Path, total: int
) -> list[Row]:
    rows: list[Row] = []
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
        "RESTIC_CACHE_DIR": str(work / "restic-cache"),
    }
    mover = [sys.executable, "-m", "activities.mover"]
    location = ["--endpoint", server.endpoint, "--bucket", BUCKET, "--prefix", "mover"]
    repository = ["restic", "-r", f"s3:{server.endpoint}/{BUCKET}/restic"]
    subprocess.run([*repository, "init"], env=restic_env, check=True, capture_output=True)

    def step(name: str, tool: str, prefix: str, data: int, action: Callable[[], float]) -> str:
        before = prefix_bytes(client, prefix)
        own, children, server = cpu.now()
        seconds = action()
        after = cpu.now()
        used = (after[1] - children) if tool != "s3" else (after[0] - own)
        uploaded = prefix_bytes(client, prefix) - before if prefix else None
        rows.append(Row(name, tool, seconds, data, uploaded, used, after[2] - server))
        print(f"  {name:<12} {tool:<7} {seconds:7.2f} s", flush=True)
        return name

    print("raw S3 upload of the same bytes ...", flush=True)
    step("raw upload", "s3", "raw/", total, lambda: raw_upload(client, source))

    output: dict[str, str] = {}

    def mover_run(key: str, *args: str) -> Callable[[], float]:
        def action() -> float:
            seconds, output[key] = timed([*mover, *args, *location], mover_env)
            return seconds

        return action

    def restic_run(*args: str) -> Callable[[], float]:
        return lambda: timed([*repository, *args], restic_env)[0]

    print("full backups ...", flush=True)
    step("full", "mover", "mover/", total, mover_run("full", "backup", "--source", str(source)))
    step("full", "restic", "restic/", total, restic_run("backup", "--quiet", str(source)))
    first = json.loads(output["full"])["snapshot_id"]

    changed = change_one_percent(source, random.Random(7))
    total = sizes(source)
    print(f"changed {changed / 1e6:.1f} MB ({100 * changed / total:.2f} %); incrementals ...")
    incremental = mover_run("incr", "backup", "--source", str(source), "--parent", first)
    step("incremental", "mover", "mover/", total, incremental)
    step("incremental", "restic", "restic/", total, restic_run("backup", "--quiet", str(source)))
    second = json.loads(output["incr"])["snapshot_id"]

    print("restores of the incremental snapshots ...", flush=True)
    mover_target, restic_target = work / "restore-mover", work / "restore-restic"
    restore = mover_run("restore", "restore", "--snapshot", second, "--target", str(mover_target))
    step("restore", "mover", "", total, restore)
    restic_restore = restic_run("restore", "latest", "--target", str(restic_target))
    step("restore", "restic", "", total, restic_restore)

    print("checking both restores ...", flush=True)
    expected = tree_digest(source)
    if tree_digest(mover_target) != expected:
        raise SystemExit("the mover's restore differs from the source")
    restic_copy = restic_target / source.relative_to(source.anchor)
    if tree_digest(restic_copy) != expected:
        raise SystemExit("restic's restore differs from the source")
    print("  both identical to the source")
    return rows


def report(rows: list[Row]) -> None:
    print()
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
        if mover.uploaded is not None and restic.uploaded:
            line += f"   bytes uploaded x{mover.uploaded / restic.uploaded:.2f} (aim <= 1)"
        print(line)
    raw = by["raw upload", "s3"]
    print(
        f"  full backup vs raw S3 upload of the same bytes: mover x"
        f"{raw.seconds / by['full', 'mover'].seconds:.2f}, restic x"
        f"{raw.seconds / by['full', 'restic'].seconds:.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=parse_size, default=2 * GiB, help="default 2GiB")
    parser.add_argument("--workdir", type=Path, help="default: a fresh temporary directory")
    parser.add_argument("--keep", action="store_true", help="keep the data and the server's")
    args = parser.parse_args()
    if shutil.which("restic") is None:
        raise SystemExit("restic is missing: apt-get install -y restic")
    version = subprocess.run(["restic", "version"], capture_output=True, text=True).stdout
    print(f"{os.cpu_count()} CPUs; {version.strip()}; SeaweedFS via deploy.local.s3")
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="bench-mover-"))
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        report(run(args.size, workdir))
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
