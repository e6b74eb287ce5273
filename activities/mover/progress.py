"""What the mover reports while it runs (for heartbeats) and when it is done."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class ResumeState:
    """Where an interrupted backup may pick up again; small enough for any heartbeat.

    `run_id` is also the id the snapshot will get. The files already done are recorded in the
    run's checkpoint objects in the store (big things go to the store, only keys travel);
    `files_done`, `bytes_done` and `checkpoints` say how far those reach.
    """

    run_id: str
    files_done: int = 0
    bytes_done: int = 0
    checkpoints: int = 0

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> ResumeState:
        """A state from `to_json`'s output; `ValueError` if it is not one."""
        try:
            data: Any = json.loads(text)
            return cls(
                run_id=str(data["run_id"]),
                files_done=int(data.get("files_done", 0)),
                bytes_done=int(data.get("bytes_done", 0)),
                checkpoints=int(data.get("checkpoints", 0)),
            )
        except (ValueError, KeyError, TypeError) as error:
            raise ValueError(f"not a resume state: {error}") from None


@dataclass(frozen=True)
class Progress:
    """How far a backup or restore is; `resume` (backups only) is the latest durable point."""

    operation: str
    files_done: int
    files_total: int
    bytes_done: int
    bytes_total: int
    bytes_transferred: int
    resume: ResumeState | None = None


ProgressCallback = Callable[[Progress], None]


@dataclass(frozen=True)
class SnapshotSummary:
    """The result of a backup.

    `bytes_read` counts what was read from files (unchanged files of the parent snapshot and
    files a resumed run had finished are not read); `bytes_uploaded` counts every byte sent to
    the store, metadata included.
    """

    snapshot_id: str
    files: int
    directories: int
    symlinks: int
    bytes_total: int
    bytes_read: int
    bytes_uploaded: int
    chunks_new: int
    chunks_reused: int
    files_unchanged: int
    seconds: float


@dataclass(frozen=True)
class RestoreSummary:
    """The result of a restore."""

    snapshot_id: str
    files: int
    directories: int
    symlinks: int
    bytes_written: int
    bytes_downloaded: int
    chunks: int
    seconds: float


class Throttle:
    """Calls a progress callback at most once per `interval` seconds."""

    def __init__(self, callback: ProgressCallback | None, interval: float) -> None:
        self._callback = callback
        self._interval = interval
        self._last = time.monotonic()

    def due(self) -> bool:
        return self._callback is not None and time.monotonic() - self._last >= self._interval

    def report(self, progress: Callable[[], Progress]) -> None:
        """Build and send a report if one is due; exceptions from the callback propagate."""
        if self._callback is not None and self.due():
            self._last = time.monotonic()
            self._callback(progress())
