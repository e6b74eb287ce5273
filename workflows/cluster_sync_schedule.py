"""The cluster-sync Temporal Schedule of a cluster, built in one place.

Used by the api when a user registers a cluster and by the discovery activities when they
onboard a shoot: both make the same schedule `cluster-sync-<uid>`, which syncs the cluster at
once and then periodically (visible in the Temporal UI). Client-side code, not a workflow.
"""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleState,
)
from temporalio.service import RPCError, RPCStatusCode

from workflows.cluster_sync import ClusterSyncWorkflow
from workflows.contracts import ClusterSyncInput
from workflows.ids import cluster_sync_schedule_id, cluster_sync_workflow_id, search_attributes

# Temporal applies a pause or unpause to the schedule a moment after the request returns (a
# signal to the schedule's own workflow): how long to wait for it to show, and how often the
# request is sent again meanwhile.
SETTLE_SECONDS = 45
RESEND_SECONDS = 10


def cluster_sync_schedule(
    *, cluster_uid: str, owner_id: str, task_queue: str, every: timedelta
) -> Schedule:
    """A Temporal Schedule that syncs the cluster every `every`, never two syncs at once."""
    return Schedule(
        action=ScheduleActionStartWorkflow(
            ClusterSyncWorkflow.run,
            ClusterSyncInput(cluster_uid=cluster_uid),
            id=cluster_sync_workflow_id(cluster_uid),
            task_queue=task_queue,
            typed_search_attributes=search_attributes(
                owner=owner_id, cluster=cluster_uid, kind="cluster-sync"
            ),
        ),
        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=every)]),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
    )


async def create_cluster_sync_schedule(
    client: Client,
    *,
    cluster_uid: str,
    owner_id: str,
    task_queue: str,
    every: timedelta,
    trigger: bool = True,
) -> None:
    """Create the cluster's sync schedule; its first sync starts at once when `trigger`
    (else at the first interval, or when triggered: after the cluster's row is committed)."""
    await client.create_schedule(
        cluster_sync_schedule_id(cluster_uid),
        cluster_sync_schedule(
            cluster_uid=cluster_uid, owner_id=owner_id, task_queue=task_queue, every=every
        ),
        trigger_immediately=trigger,
    )


async def trigger_cluster_sync(
    client: Client, *, cluster_uid: str, owner_id: str, task_queue: str, every: timedelta
) -> None:
    """Sync now (a sync already running is not doubled); a removed schedule is put back."""
    handle = client.get_schedule_handle(cluster_sync_schedule_id(cluster_uid))
    try:
        await handle.trigger()
    except RPCError as exc:
        if exc.status != RPCStatusCode.NOT_FOUND:
            raise
        # Someone removed the schedule in the Temporal UI: put it back.
        await create_cluster_sync_schedule(
            client, cluster_uid=cluster_uid, owner_id=owner_id, task_queue=task_queue, every=every
        )


async def cluster_sync_state(client: Client, cluster_uid: str) -> ScheduleState | None:
    """The cluster's sync schedule state (whether it is paused, and the note saying why);
    None when there is no such schedule."""
    handle = client.get_schedule_handle(cluster_sync_schedule_id(cluster_uid))
    try:
        return (await handle.describe()).schedule.state
    except RPCError as exc:
        if exc.status != RPCStatusCode.NOT_FOUND:
            raise
        return None


async def pause_cluster_sync(client: Client, cluster_uid: str, *, paused: bool, note: str) -> bool:
    """Pause (or resume) the cluster's syncs, and return once the schedule says so, so that
    the next reader of its state sees it; False when there is no such schedule.

    Raises TimeoutError when Temporal has not applied it within SETTLE_SECONDS (the caller's
    activity is then retried).
    """
    handle = client.get_schedule_handle(cluster_sync_schedule_id(cluster_uid))
    started = time.monotonic()
    resend_at = started
    while True:
        if time.monotonic() >= resend_at:
            try:
                await (handle.pause(note=note) if paused else handle.unpause(note=note))
            except RPCError as exc:
                if exc.status != RPCStatusCode.NOT_FOUND:
                    raise
                return False
            resend_at = time.monotonic() + RESEND_SECONDS
        state = await cluster_sync_state(client, cluster_uid)
        if state is None:
            return False
        if state.paused == paused:
            return True
        if time.monotonic() - started > SETTLE_SECONDS:
            raise TimeoutError(
                f"the sync schedule of cluster {cluster_uid} is not "
                f"{'paused' if paused else 'resumed'} after {SETTLE_SECONDS}s"
            )
        await asyncio.sleep(0.5)
