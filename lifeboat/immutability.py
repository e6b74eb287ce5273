"""Immutable backups: how long a backup's objects are locked, and what a lock forbids.

A location with `immutability` (a bucket with S3 Object Lock) writes every object of a backup
(its archive, and the volume data the mover writes for it) with a retention until the
backup's `locked_until`: the longest its schedule's policy may keep it, or, for a backup made
on demand, the location's `retention_days`. Until then nobody deletes it: not Lifeboat's
retention or a user (refused with the reason), and, in compliance mode, not even the bucket's
owner.

How long a policy may keep a backup: each count keeps that many backups, one per period at
most, so a backup leaves after at most `count` periods of the count (its hours, days, weeks,
months, years) or of the schedule, whichever is longer; the lock covers the longest of them.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from lifeboat.policies import (
    DailySchedule,
    IntervalSchedule,
    MonthlySchedule,
    Retention,
    SchedulePolicySpec,
    WeeklySchedule,
)
from lifeboat.schedules import ScheduleModel

HOUR, DAY = timedelta(hours=1), timedelta(days=1)
WEEK, MONTH, YEAR = 7 * DAY, 31 * DAY, 366 * DAY
# The longest lock a location's default may ask for: 100 years.
MAX_RETENTION_DAYS = 36_500


def schedule_period(schedule: ScheduleModel) -> timedelta:
    """The longest time between two runs of a schedule."""
    if isinstance(schedule, IntervalSchedule):
        return timedelta(minutes=schedule.every_minutes)
    if isinstance(schedule, DailySchedule):
        return DAY
    if isinstance(schedule, WeeklySchedule):
        return 2 * WEEK if schedule.every_other_week else WEEK
    assert isinstance(schedule, MonthlySchedule)
    return MONTH


def kept_for(policy: SchedulePolicySpec) -> timedelta:
    """The longest a backup of `policy`'s schedule is kept by its retention's counts."""
    retention: Retention = policy.retention
    period = schedule_period(policy.schedule)
    counts = (
        (retention.keep_last, period),
        (retention.keep_hourly, HOUR),
        (retention.keep_daily, DAY),
        (retention.keep_weekly, WEEK),
        (retention.keep_monthly, MONTH),
        (retention.keep_yearly, YEAR),
    )
    return max((count or 0) * max(unit, period) for count, unit in counts)


def lock_until(
    created_at: datetime, policy: SchedulePolicySpec | None, retention_days: int
) -> datetime:
    """When a backup's lock ends: its policy's longest keep, else the location's default."""
    if policy is not None:
        return created_at + kept_for(policy)
    return created_at + timedelta(days=retention_days)


def lock_refusal(name: str, locked_until: datetime | None, now: datetime) -> str:
    """Why backup `name` cannot be deleted at `now`; '' when it can."""
    if locked_until is None or locked_until <= now:
        return ""
    return (
        f"backup {name} is immutable (object lock) until "
        f"{locked_until.isoformat(timespec='seconds')}: it cannot be deleted before then"
    )
