"""`last_fire_time`: the newest run at or before a time, the one a schedule's read checks.

It must be the run just before the next one `next_fire_times` lists (whose times the Temporal
server agrees with, tests/workflows/test_schedule_specs.py), whatever the calendar.
"""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta

import pytest

from lifeboat.policies import (
    DailySchedule,
    IntervalSchedule,
    MonthlySchedule,
    RelativeDay,
    Weekday,
    WeeklySchedule,
    WeekOfMonth,
)
from lifeboat.schedules import ScheduleModel, last_fire_time, next_fire_times

POLICIES: list[ScheduleModel] = [
    IntervalSchedule(type="interval", every_minutes=90),
    DailySchedule(type="daily", time="02:30", timezone="Europe/Berlin"),
    DailySchedule(type="daily", time="23:45", timezone="Pacific/Auckland"),
    WeeklySchedule(type="weekly", days=[Weekday.MON, Weekday.THU], time="06:00"),
    WeeklySchedule(
        type="weekly",
        days=[Weekday.SUN],
        time="01:00",
        every_other_week=True,
        timezone="Asia/Tokyo",
    ),
    MonthlySchedule(type="monthly", day_of_month=31, time="04:00", timezone="America/New_York"),
    MonthlySchedule(
        type="monthly",
        relative_day=RelativeDay(week=WeekOfMonth.LAST, day=Weekday.SUN),
        time="03:00",
    ),
]
ANCHOR = date(2026, 1, 7)


@pytest.mark.parametrize("policy", POLICIES, ids=lambda p: p.type)
def test_the_last_run_is_the_one_before_the_next(policy: ScheduleModel) -> None:
    start = datetime(2027, 6, 1, tzinfo=UTC)
    runs = next_fire_times(policy, start, 400, anchor=ANCHOR)  # a year and more: DST, leap day
    for previous, run in itertools.pairwise(runs):
        assert last_fire_time(policy, run, anchor=ANCHOR) == run
        assert last_fire_time(policy, run - timedelta(seconds=1), anchor=ANCHOR) == previous
        between = previous + (run - previous) / 2
        assert last_fire_time(policy, between.astimezone(UTC), anchor=ANCHOR) == previous


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="at_or_before must be timezone-aware"):
        last_fire_time(POLICIES[0], datetime(2026, 1, 1))
