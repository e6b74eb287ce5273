"""The platform's user directory sync schedule, kept as the settings say at each worker start.

Client-side code, not a workflow: one Temporal Schedule `user-directory-sync-<task queue>`,
present while a SCIM directory or an unseen limit is configured, running
`UserDirectoryWorkflow` every `directory_sync_interval_seconds`.
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

from lifeboat.settings import Settings
from workflows.ids import user_directory_schedule_id
from workflows.user_directory import UserDirectoryWorkflow


def user_directory_schedule(settings: Settings) -> Schedule:
    return Schedule(
        action=ScheduleActionStartWorkflow(
            UserDirectoryWorkflow.run,
            id=user_directory_schedule_id(settings.task_queue),
            task_queue=settings.task_queue,
        ),
        spec=ScheduleSpec(
            intervals=[
                ScheduleIntervalSpec(
                    every=timedelta(seconds=settings.directory_sync_interval_seconds)
                )
            ]
        ),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
    )


async def ensure_user_directory_schedule(client: Client, settings: Settings) -> None:
    """Create or update the schedule when the directory is configured, else remove it."""
    schedule_id = user_directory_schedule_id(settings.task_queue)
    handle = client.get_schedule_handle(schedule_id)
    if not settings.directory_scim_url and not settings.user_unseen_days:
        try:
            await handle.delete()
        except RPCError as exc:
            if exc.status != RPCStatusCode.NOT_FOUND:
                raise
        return
    wanted = user_directory_schedule(settings)
    try:
        await client.create_schedule(schedule_id, wanted, trigger_immediately=True)
    except ScheduleAlreadyRunningError:

        def keep_state(update: ScheduleUpdateInput) -> ScheduleUpdate:
            wanted.state = update.description.schedule.state
            return ScheduleUpdate(schedule=wanted)

        await handle.update(keep_state)
