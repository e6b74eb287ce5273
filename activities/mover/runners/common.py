"""What both runners share: the task, its heartbeats, and the failure no retry cures."""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

from kubernetes.client.exceptions import ApiException
from temporalio import activity

from activities.heartbeat import ThreadHeartbeat
from activities.kube import REQUEST_TIMEOUT
from activities.mover import Progress, ResumeState

# A Job name becomes its pods' `job-name` label, whose values are at most 63 characters.
NAME_LIMIT = 63


class MoverFailed(Exception):
    """The mover failed for good; the message is the volume's reason."""


@dataclass(frozen=True)
class MoverTask:
    """One run of the mover over one claim, for one backup or restore."""

    operation: Literal["backup", "restore", "verify"]
    namespace: str
    # The claim backed up or restored, and the claim the mover reads or fills: a backup reads
    # a temporary claim restored from the volume's snapshot.
    volume: str
    claim: str
    # The label naming the backup or restore on the Job, its pod and its Secret.
    owner_label: str
    owner_uid: str
    # restore, verify: the data snapshot to restore into the claim (and, verify, compare).
    snapshot_id: str = ""

    @property
    def job_name(self) -> str:
        """The Job's (and its Secret's) name: the same on every attempt."""
        name = f"lifeboat-{self.operation}-{self.owner_uid.split('-')[0]}-{self.volume}"
        if len(name) <= NAME_LIMIT:
            return name
        digest = hashlib.sha256(name.encode()).hexdigest()[:10]
        return f"{name[: NAME_LIMIT - 11].rstrip('-.')}-{digest}"


# A kubeconfig fetched fresh from the catalog.
Connect = Callable[[], Awaitable[dict[str, Any]]]


class MoverHeartbeat:
    """Heartbeats of a moving volume, from any thread: bytes done and total (the API's progress
    bar) and, for a backup, the latest resume point."""

    def __init__(self, resume: ResumeState | None) -> None:
        self._beat = ThreadHeartbeat()
        self._details: dict[str, Any] = {
            "bytes_done": 0,
            "bytes_total": 0,
            "resume": resume.to_json() if resume else "",
        }

    def progress(self, progress: Progress) -> None:
        """Report the mover's progress."""
        self._details = {
            "bytes_done": progress.bytes_done,
            "bytes_total": progress.bytes_total,
            "resume": progress.resume.to_json() if progress.resume else self._details["resume"],
        }
        self._beat(self._details)

    def alive(self) -> None:
        """Report that the mover still runs, with the last progress known."""
        self._beat(self._details)


def last_resume() -> ResumeState | None:
    """Where the previous attempt's backup got to, from its last heartbeat."""
    details = activity.info().heartbeat_details
    if not details or not isinstance(details[0], dict) or not details[0].get("resume"):
        return None
    return ResumeState.from_json(details[0]["resume"])


def read_claim(core: Any, namespace: str, claim: str) -> Any:
    try:
        return core.read_namespaced_persistent_volume_claim(
            claim, namespace, _request_timeout=REQUEST_TIMEOUT
        )
    except ApiException as exc:
        if exc.status != 404:
            raise
        raise MoverFailed(
            f"claim {namespace}/{claim} does not exist (was it restored? see the results)"
        ) from exc
