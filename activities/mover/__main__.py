"""The data mover as a command: `python -m activities.mover backup|restore|verify|check ...`.

`verify` restores a snapshot into an empty `--target` and compares every file with what the
snapshot recorded (see `activities.mover.verify`); `check` checks the whole repository (see
`activities.mover.check`). Both print their findings in the summary and exit 0: a difference
is a finding, not a failure of the command.

Secrets come from the environment only, never from arguments (arguments show in process
lists): `LIFEBOAT_MOVER_ACCESS_KEY` and `LIFEBOAT_MOVER_SECRET_KEY` (the location's keys:
for S3 its access key id and secret access key), and `LIFEBOAT_MOVER_LOCATION_KEY` (the
repository's data key, as text, which the location's key unwraps: lifeboat.keyring); see
`activities.mover.command`. `--provider` says which kind of storage the location is on
(default `s3`). The summary is printed as one JSON object on stdout; with `--progress`,
progress goes to stderr as JSON lines, each with the resume state to pass back with
`--resume` after an interruption.

`--lock-mode governance|compliance --lock-until ISO-DATETIME` (a backup to an immutable
location) writes every object with that S3 Object Lock retention.

`--summary-file PATH` also writes the summary there, or `error: <reason>` when the command
fails: in a Kubernetes Job, PATH is the container's termination message path
(`/dev/termination-log`), so whoever runs the Job reads the outcome from the pod's status.

Exit codes: 0 done; 1 failed, a retry may succeed (the store was unreachable, say); 2 misuse;
3 failed for good (stored data damaged or read with the wrong key, no such snapshot).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime
from pathlib import Path

from activities.mover.backup import backup
from activities.mover.check import check_repository
from activities.mover.command import (
    ENV_ACCESS_KEY,
    ENV_LOCATION_KEY,
    ENV_SECRET_KEY,
    EXIT_FAILED,
    EXIT_PERMANENT,
    EXIT_USAGE,
    PERMANENT,
)
from activities.mover.errors import MoverError
from activities.mover.progress import Progress, ProgressCallback, ResumeState
from activities.mover.restore import restore
from activities.mover.store import DEFAULT_WORKERS, ChunkStore, connections_for
from activities.mover.verify import verify
from lifeboat.locations import (
    KINDS,
    LocationAddress,
    LocationBackend,
    LocationKind,
    LockMode,
    ObjectLock,
    open_backend,
)
from lifeboat.locations.locked import LockedBackend


def _aware(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    if value.utcoffset() is None:
        raise ValueError(f"{text!r} has no time zone; write it as 2030-01-31T00:00:00+00:00")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m activities.mover",
        description="Back up a directory to, or restore it from, a Lifeboat backup location. "
        f"Secrets come from ${ENV_ACCESS_KEY}, ${ENV_SECRET_KEY} and ${ENV_LOCATION_KEY}.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    for name, summary in (
        ("backup", "back up --source into a new snapshot"),
        ("restore", "restore --snapshot into --target"),
        ("verify", "restore --snapshot into an empty --target and compare every file"),
        ("check", "check every snapshot's chunks; open --sample-fraction of them"),
    ):
        command = commands.add_parser(name, help=summary, description=summary)
        command.add_argument(
            "--provider",
            default=LocationKind.S3,
            type=LocationKind,
            choices=list(LocationKind),
            help="the kind of storage the location is on",
        )
        command.add_argument("--endpoint", required=True, help="http(s)://host[:port]")
        command.add_argument("--bucket", required=True)
        command.add_argument("--prefix", default="", help="the location's prefix")
        command.add_argument("--region", default="")
        command.add_argument("--workers", type=int, default=DEFAULT_WORKERS)
        command.add_argument(
            "--progress", action="store_true", help="JSON progress lines on stderr"
        )
        command.add_argument(
            "--summary-file",
            type=Path,
            help="also write the summary (or `error: <reason>`) here, e.g. /dev/termination-log",
        )
        if name == "backup":
            command.add_argument("--source", required=True, type=Path)
            command.add_argument("--parent", help="the previous snapshot of this source")
            command.add_argument(
                "--resume", type=ResumeState.from_json, help="a resume state, as JSON"
            )
            command.add_argument(
                "--lock-mode", type=LockMode, choices=list(LockMode), help="S3 Object Lock mode"
            )
            command.add_argument(
                "--lock-until", type=_aware, help="lock every object written until then"
            )
        elif name == "check":
            command.add_argument("--sample-fraction", type=float, default=0.0)
        else:
            command.add_argument("--snapshot", required=True)
            command.add_argument("--target", required=True, type=Path)
    return parser


def _secret(name: str) -> str:
    value = os.environ.get(name, "")
    if not value:
        raise SystemExit(f"error: set ${name}; secrets are never read from arguments")
    return value


def _print_progress(progress: Progress) -> None:
    print(json.dumps({"progress": asdict(progress)}), file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; its exit code (see the module's docstring), the reason on stderr."""
    args = _parser().parse_args(argv)
    # The calling thread reads files while the pool compresses and uploads; after each system
    # call it waits for the GIL, by default up to 5 ms. A shorter switch interval made backups
    # of many small files ~6 % faster here. Process-wide, so only where the process is ours.
    sys.setswitchinterval(0.0005)
    access_key = _secret(ENV_ACCESS_KEY)
    secret_key = _secret(ENV_SECRET_KEY)
    location_key = _secret(ENV_LOCATION_KEY).encode()
    on_progress: ProgressCallback | None = _print_progress if args.progress else None
    try:
        address = LocationAddress(args.provider, args.endpoint, args.bucket, args.region)
        backend: LocationBackend = open_backend(
            address,
            KINDS[args.provider].keys(access_key, secret_key),
            connections=connections_for(args.workers),
        )
        lock_mode, lock_until = getattr(args, "lock_mode", None), getattr(args, "lock_until", None)
        if (lock_mode is None) != (lock_until is None):
            raise ValueError("give both --lock-mode and --lock-until, or neither")
        if lock_mode is not None and lock_until is not None:
            backend = LockedBackend(backend, ObjectLock(lock_mode, lock_until))
        store = ChunkStore(backend, args.prefix, location_key, workers=args.workers)
    except ValueError as error:
        return _fail(args.summary_file, error, EXIT_USAGE)
    try:
        if args.command == "backup":
            summary = asdict(
                backup(
                    args.source,
                    store,
                    parent=args.parent,
                    progress=on_progress,
                    resume=args.resume,
                )
            )
        elif args.command == "restore":
            summary = asdict(restore(args.snapshot, store, args.target, progress=on_progress))
        elif args.command == "verify":
            summary = asdict(verify(args.snapshot, store, args.target, progress=on_progress))
        else:
            summary = asdict(check_repository(store, args.sample_fraction, progress=on_progress))
    except PERMANENT as error:
        return _fail(args.summary_file, error, EXIT_PERMANENT)
    except (MoverError, ValueError) as error:
        return _fail(args.summary_file, error, EXIT_FAILED)
    text = json.dumps(summary)
    print(text)
    if args.summary_file is not None:
        args.summary_file.write_text(text)
    return 0


def _fail(summary_file: Path | None, error: Exception, code: int) -> int:
    message = f"error: {error}"
    print(message, file=sys.stderr)
    if summary_file is not None:
        summary_file.write_text(message)
    return code


if __name__ == "__main__":
    sys.exit(main())
