"""Where the data mover runs for one claim: in the worker (`local`) or as a Kubernetes Job in
the claim's namespace (`job`), as LIFEBOAT_MOVER_RUNNER says.

Both runners take a `MoverTask` and give the mover's summary as the command prints it (a dict),
or raise `MoverFailed` for a failure no retry cures (the volume is then reported Failed with
that reason); any other exception fails the attempt, and Temporal retries it. Both heartbeat
through one `MoverHeartbeat`: bytes for the progress bar, and a backup's resume point, which
the next attempt passes back.

`local` (LocalMover): the mover library in the worker, on the claim's hostPath directory: only
the dev stack's volumes have one, and the dev stack chooses it. `job` (JobMover, the default):
the mover command as a Kubernetes Job in the claim's namespace (see `job`).
"""

from __future__ import annotations

from activities.mover.runners.common import (
    MoverFailed,
    MoverHeartbeat,
    MoverTask,
    last_resume,
)
from activities.mover.runners.job import JobMover, remove_jobs
from activities.mover.runners.local import LocalMover
from lifeboat.settings import MoverRunner, Settings

Mover = LocalMover | JobMover


def mover_for(settings: Settings) -> Mover:
    """The runner LIFEBOAT_MOVER_RUNNER chooses."""
    if settings.mover_runner is MoverRunner.JOB:
        return JobMover(
            settings.mover_image,
            settings.mover_job_timeout_seconds,
            settings.mover_cpu_request,
            settings.mover_memory_request,
        )
    return LocalMover(settings.progress_interval_seconds)


__all__ = [
    "JobMover",
    "LocalMover",
    "Mover",
    "MoverFailed",
    "MoverHeartbeat",
    "MoverTask",
    "last_resume",
    "mover_for",
    "remove_jobs",
]
