"""The platform's own schedules, kept as the settings say at each worker start.

Client-side code, not a workflow. One Temporal Schedule per platform (its task queue) for each
periodic job of the platform itself: `user-directory-sync-<task queue>` (while a SCIM directory
or an unseen limit is configured) and `license-check-<task queue>`.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleUpdate,
    ScheduleUpdateInput,
)
from temporalio.service import RPCError, RPCStatusCode
from temporalio.types import MethodAsyncNoParam

from workflows.ids import search_attributes


def platform_schedule(
    run: MethodAsyncNoParam[Any, Any], *, schedule_id: str, kind: str, task_queue: str,
    every: timedelta,
) -> Schedule:  # fmt: skip
    return Schedule(
        action=ScheduleActionStartWorkflow(
            run,
            id=schedule_id,
            task_queue=task_queue,
            # The platform's own work: owned by `system`, as its catalog rows are.
            typed_search_attributes=search_attributes(owner="system", cluster="", kind=kind),
        ),
        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=every)]),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
    )


async def ensure_platform_schedule(
    client: Client,
    run: MethodAsyncNoParam[Any, Any],
    *,
    schedule_id: str,
    kind: str,
    task_queue: str,
    every: timedelta | None,
) -> None:
    """Create or update the schedule to run `every` so often; remove it when None."""
    handle = client.get_schedule_handle(schedule_id)
    if every is None:
        try:
            await handle.delete()
        except RPCError as exc:
            if exc.status != RPCStatusCode.NOT_FOUND:
                raise
        return
    wanted = platform_schedule(
        run, schedule_id=schedule_id, kind=kind, task_queue=task_queue, every=every
    )
    try:
        await client.create_schedule(schedule_id, wanted, trigger_immediately=True)
    except ScheduleAlreadyRunningError:

        def keep_state(update: ScheduleUpdateInput) -> ScheduleUpdate:
            wanted.state = update.description.schedule.state
            return ScheduleUpdate(schedule=wanted)

        await handle.update(keep_state)
