"""The platform's user directory sync schedule, kept as the settings say at each worker start.

Client-side code, not a workflow: one Temporal Schedule `user-directory-sync-<task queue>`,
present while a SCIM directory or an unseen limit is configured (the worker says so by giving
an interval), running `UserDirectoryWorkflow` at that interval.
"""

from __future__ import annotations

from datetime import timedelta

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

from workflows.ids import search_attributes, user_directory_schedule_id
from workflows.user_directory import UserDirectoryWorkflow


def user_directory_schedule(task_queue: str, every: timedelta) -> Schedule:
    return Schedule(
        action=ScheduleActionStartWorkflow(
            UserDirectoryWorkflow.run,
            id=user_directory_schedule_id(task_queue),
            task_queue=task_queue,
            # The platform's own work: owned by `system`, as its catalog rows are.
            typed_search_attributes=search_attributes(
                owner="system", cluster="", kind="user-directory"
            ),
        ),
        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=every)]),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
    )


async def ensure_user_directory_schedule(
    client: Client, *, task_queue: str, every: timedelta | None
) -> None:
    """Create or update the schedule to run `every` so often; remove it when None."""
    schedule_id = user_directory_schedule_id(task_queue)
    handle = client.get_schedule_handle(schedule_id)
    if every is None:
        try:
            await handle.delete()
        except RPCError as exc:
            if exc.status != RPCStatusCode.NOT_FOUND:
                raise
        return
    wanted = user_directory_schedule(task_queue, every)
    try:
        await client.create_schedule(schedule_id, wanted, trigger_immediately=True)
    except ScheduleAlreadyRunningError:

        def keep_state(update: ScheduleUpdateInput) -> ScheduleUpdate:
            wanted.state = update.description.schedule.state
            return ScheduleUpdate(schedule=wanted)

        await handle.update(keep_state)
