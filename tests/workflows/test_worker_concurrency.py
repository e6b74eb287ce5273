"""The worker runs as many activities at once as it has slots, even when each blocks a thread.

Every activity of ours does its blocking work (Kubernetes and S3 calls, the in-worker data
mover) in `asyncio.to_thread`. With asyncio's own pool, os.cpu_count() + 4 threads (6 on two
cores, at most 32), six backups' data moves took every thread and the seventh activity waited.
Here more activities than that pool ever has each hold a thread until all of them hold one: a
worker configured as `worker.main` configures it lets them all meet; one thread short and they
never would.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from temporalio.testing import WorkflowEnvironment
    from temporalio.worker import Worker

    from lifeboat.settings import Settings
    from tests.workflows.test_schedule_specs import temporal_cli
    from worker.main import use_activity_threads, worker_options

# More than asyncio's default pool has on any machine (min(32, os.cpu_count() + 4)).
SLOTS = 40
MEETING: threading.Barrier | None = None


@activity.defn
async def hold_a_thread(index: int) -> int:
    """Block a worker thread, as our activities' Kubernetes and S3 calls do, until every
    other activity of the run blocks one too."""
    assert MEETING is not None
    await asyncio.to_thread(MEETING.wait)
    return index


@workflow.defn
class ManyAtOnce:
    @workflow.run
    async def run(self, count: int) -> list[int]:
        return list(
            await asyncio.gather(
                *(
                    workflow.execute_activity(
                        hold_a_thread,
                        i,
                        start_to_close_timeout=timedelta(minutes=3),
                        retry_policy=RetryPolicy(maximum_attempts=1),
                    )
                    for i in range(count)
                )
            )
        )


async def _run_together(settings: Settings, count: int) -> list[int]:
    use_activity_threads(asyncio.get_running_loop(), settings)
    async with await WorkflowEnvironment.start_local(
        dev_server_existing_path=temporal_cli()
    ) as env:
        queue = f"concurrency-{uuid.uuid4()}"
        async with Worker(
            env.client,
            task_queue=queue,
            workflows=[ManyAtOnce],
            activities=[hold_a_thread],
            **worker_options(settings),
        ):
            return await env.client.execute_workflow(
                ManyAtOnce.run, count, id=queue, task_queue=queue
            )


def test_every_activity_slot_gets_a_thread_for_its_blocking_work() -> None:
    global MEETING
    # Generous: all of them are there within a second or two; the old pool never got there.
    MEETING = threading.Barrier(SLOTS, timeout=90)
    settings = Settings(worker_activity_slots=SLOTS)
    # A loop of its own: the worker's threads are the loop's, not the test session's.
    assert asyncio.run(_run_together(settings, SLOTS)) == list(range(SLOTS))
