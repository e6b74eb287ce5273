"""Activities of scheduled backups: make each run's backup, and say what retention expires."""

from __future__ import annotations

from datetime import UTC, date, datetime

from pydantic import TypeAdapter
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from lifeboat.catalog.models import Backup, BackupSchedule, SchedulePolicy
from lifeboat.immutability import lock_refusal
from lifeboat.policies import IntervalSchedule, Schedule
from lifeboat.retention import RetainedBackup, expired
from lifeboat.schedules import ScheduleModel, fires_on, run_anchor
from workflows.contracts import PrepareScheduledInput, ScheduledBackupInput

_SCHEDULE: TypeAdapter[ScheduleModel] = TypeAdapter(Schedule)


def _due(schedule: ScheduleModel, fire_time: datetime, *, anchor: date) -> bool:
    """Whether a scheduled run is a real one of the policy.

    Temporal's calendar can only say "every Sunday from the 22nd", not "the last Sunday", and
    fires extra times around clock changes; `fires_on` tells the real firings.
    """
    if isinstance(schedule, IntervalSchedule):
        return True
    return fires_on(schedule, fire_time.replace(microsecond=0), anchor=anchor)


class ScheduleActivities:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    @activity.defn
    async def prepare_scheduled_backup(self, input: PrepareScheduledInput) -> str:
        """The backup this run makes, owned by the schedule's owner; '' when it is not due.

        Owned by the schedule's owner whatever roles they hold now: a schedule keeps running,
        and producing their backups, after their super admin role is revoked.
        """
        fire_time = datetime.fromisoformat(input.fire_time)
        async with self._sessions.begin() as session:
            schedule = await session.get(BackupSchedule, input.schedule_uid)
            if schedule is None or (schedule.suspended and not input.manual):
                return ""
            policy = await session.get(SchedulePolicy, schedule.policy_uid)
            if policy is None:
                return ""
            # The calendar that fired this run: a policy edited since (and its Temporal
            # Schedule with it) must not turn the run into an extra time and skip it.
            plan = (
                _SCHEDULE.validate_json(input.schedule) if input.schedule else policy.spec.schedule
            )
            anchor = run_anchor(plan, schedule.created_at)
            if not input.manual and not _due(plan, fire_time, anchor=anchor):
                return ""  # a day the calendar includes only as a superset (last Sunday...)
            name = f"{schedule.name}-{fire_time:%Y%m%d%H%M%S}"
            made = await session.scalar(
                select(Backup).where(Backup.schedule_uid == schedule.uid, Backup.name == name)
            )
            if made is not None:
                return made.uid  # a retry of this step: the backup is already there
            backup = Backup(
                name=name,
                owner_id=schedule.owner_id,
                labels=dict(schedule.labels),
                cluster_uid=schedule.cluster_uid,
                location_uid=schedule.spec.location_uid,
                schedule_uid=schedule.uid,
                spec=schedule.spec.backup(),
            )
            session.add(backup)
            await session.flush()
            return backup.uid

    @activity.defn
    async def expired_backups(self, input: ScheduledBackupInput) -> list[str]:
        """The schedule's backups its policy's retention no longer keeps, oldest first.

        A backup still locked (an immutable location) is not among them: it waits for its
        lock to end, and says so in its reason.
        """
        now = datetime.now(UTC)
        async with self._sessions.begin() as session:
            schedule = await session.get(BackupSchedule, input.schedule_uid)
            policy = await session.get(SchedulePolicy, schedule.policy_uid) if schedule else None
            if schedule is None or policy is None:
                return []
            rows = {
                b.uid: b
                for b in await session.scalars(
                    select(Backup).where(Backup.schedule_uid == schedule.uid)
                )
            }
            spec = policy.spec
            doomed = expired(
                [RetainedBackup(b.uid, b.created_at, b.status) for b in rows.values()],
                spec.retention,
                now=now,
                timezone=spec.schedule.timezone,
            )
            deletable = []
            for uid in doomed:
                backup = rows[uid]
                refusal = lock_refusal(backup.name, backup.locked_until, now)
                if not refusal:
                    deletable.append(uid)
                elif refusal not in backup.reason:
                    kept = f"retention would delete it, but {refusal}"
                    backup.reason = "; ".join(r for r in (backup.reason, kept) if r)
            return deletable
