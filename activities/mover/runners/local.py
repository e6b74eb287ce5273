"""The mover in the worker's process, on the claim's hostPath directory: only the dev
stack's volumes have one (LIFEBOAT_MOVER_RUNNER=local)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import kubernetes.client

from activities import mover
from activities.kube import api_client
from activities.locations import OpenLocation
from activities.mover import ResumeState
from activities.mover.command import PERMANENT
from activities.mover.runners.common import (
    Connect,
    MoverFailed,
    MoverHeartbeat,
    MoverTask,
    read_claim,
)
from activities.mover.store import ChunkStore
from activities.mover.verify import verify

POLL_SECONDS = 0.5
BIND_TIMEOUT_SECONDS = 300
# How often the in-worker mover reports progress, unless told otherwise.
PROGRESS_SECONDS = 0.5


def bound_host_path(core: Any, namespace: str, claim: str) -> Path:
    """Wait for a claim to be bound; its volume's directory (the dev stack's hostPath)."""
    deadline = time.monotonic() + BIND_TIMEOUT_SECONDS
    while True:
        pvc = read_claim(core, namespace, claim)
        if pvc.status.phase == "Bound":
            pv = core.read_persistent_volume(pvc.spec.volume_name)
            if pv.spec.host_path is None:
                raise MoverFailed(
                    f"volume {pv.metadata.name} is not a hostPath volume: the data mover in the "
                    "worker reads hostPath volumes only; run it as a Job in the cluster "
                    "(LIFEBOAT_MOVER_RUNNER=job)"
                )
            return Path(pv.spec.host_path.path)
        if time.monotonic() > deadline:
            raise TimeoutError(f"claim {namespace}/{claim} not bound in {BIND_TIMEOUT_SECONDS}s")
        time.sleep(POLL_SECONDS)


class LocalMover:
    """The mover in the worker's process, on the claim's hostPath directory (the dev stack);
    it reports progress every `progress_seconds`."""

    def __init__(self, progress_seconds: float = PROGRESS_SECONDS) -> None:
        self._progress_seconds = progress_seconds

    async def run(
        self,
        connect: Connect,
        task: MoverTask,
        location: OpenLocation,
        heartbeat: MoverHeartbeat,
        resume: ResumeState | None,
    ) -> dict[str, Any]:
        """Move the claim's data; the mover's summary."""
        kubeconfig = await connect()

        def move() -> dict[str, Any]:
            with api_client(kubeconfig) as client:
                core = kubernetes.client.CoreV1Api(client)
                path = bound_host_path(core, task.namespace, task.claim)
            store = ChunkStore(location.backend, location.prefix, location.key)
            try:
                if task.operation == "backup":
                    summary: Any = mover.backup(
                        path, store, progress=heartbeat.progress, resume=resume,
                        progress_seconds=self._progress_seconds,
                    )  # fmt: skip
                elif task.operation == "verify":
                    summary = verify(
                        task.snapshot_id, store, path, progress=heartbeat.progress,
                        progress_seconds=self._progress_seconds,
                    )  # fmt: skip
                else:
                    summary = mover.restore(
                        task.snapshot_id, store, path, progress=heartbeat.progress,
                        progress_seconds=self._progress_seconds,
                    )  # fmt: skip
            # Any other failure (an unreachable store, say) fails the attempt, and Temporal
            # retries it, resuming from the last heartbeat.
            except PERMANENT as exc:
                raise MoverFailed(f"data mover: {exc}") from exc
            return asdict(summary)

        return await asyncio.to_thread(move)
