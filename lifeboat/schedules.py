"""Schedule policies as Temporal Schedule specs, and the fire times they stand for.

`schedule_spec` turns a policy into a `ScheduleSpec` for a Temporal Schedule. Temporal calendars
match each field on its own, so some policies cannot be said exactly; for those the spec is a
superset and `fires_on` tells the real fire times from the extra ones:

- the last weekday of a month (`{"week": "last", "day": "sun"}`) matches that weekday on the
  last seven days of each month length (25-31, 24-30, 22-29 for February); only leap
  Februaries give an extra match, which `fires_on` rejects;
- `day_of_month` 29, 30 or 31 fires on the last day of months that are shorter, which is what
  people who ask for "the 31st" mean; February matches 28-29 and `fires_on` keeps the one that
  is the month's last day (or the 29th, which only a leap year has);
- `every_other_week` matches every week; `fires_on` keeps the weeks an even number of weeks
  from the week of `anchor` (Monday to Sunday, in the policy's zone). The default anchor is the
  fixed week of Monday 1970-01-05, so the rhythm needs no stored state and never shifts when a
  policy is saved again; pass the date the policy was created instead to make its first week
  an "on" week.

Interval policies fire at whole multiples of `every_minutes` since 1970-01-01T00:00Z (Temporal
aligns intervals to the epoch), so every 90 minutes is 00:00, 01:30, 03:00 ... UTC in any zone.

Daylight saving time: a wall-clock time the clocks jump over is skipped that day, as Temporal
does (a time outside the hour the clocks change, usually between 01:00 and 03:00, never is), and
a time that occurs twice runs once, at its second occurrence, after the clocks go back.
Temporal's own calendar is less tidy on the day the clocks go back: it lists both occurrences
in some zones (America/New_York) and only the second in others (Europe/Berlin), and it lists a
time in the hour before the repeated hour a second time, an hour late (01:30 and 02:30 for a
01:30 policy in Berlin). `fires_on` rejects all of those extras, so every zone runs once a day
at the policy's time. And Temporal misses a weekly or last/nth-weekday run on a day whose
midnight the clocks jump over in zones west of UTC (America/Santiago, America/Havana): it
checks the weekday at midnight, which Go's time library moves to the previous day.
`next_fire_times` leaves those runs out too, so the console shows what will run.

`next_fire_times` computes the fire times in pure Python, for the console and for tests; it
agrees with the Temporal server's times after `fires_on` (tests/workflows/test_schedule_specs.py
checks that against a real server). `last_fire_time` is the newest one at or before a time:
when the last run was due, to tell whether it made its backup.
"""

from __future__ import annotations

import calendar
import zoneinfo
from datetime import UTC, date, datetime, time, timedelta

from temporalio.client import (
    ScheduleCalendarSpec,
    ScheduleIntervalSpec,
    ScheduleRange,
    ScheduleSpec,
)

from lifeboat.policies import (
    DailySchedule,
    IntervalSchedule,
    MonthlySchedule,
    SchedulePolicySpec,
    Weekday,
    WeeklySchedule,
    WeekOfMonth,
)

ScheduleModel = IntervalSchedule | DailySchedule | WeeklySchedule | MonthlySchedule

# Monday of the week every-other-week schedules count from when no anchor is given.
EVERY_OTHER_WEEK_EPOCH = date(1970, 1, 5)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Temporal numbers weekdays from Sunday = 0; Python's date.weekday() from Monday = 0.
_TEMPORAL_WEEKDAY = {day: number % 7 for number, day in enumerate(Weekday, start=1)}
_PYTHON_WEEKDAY = {day: number for number, day in enumerate(Weekday)}
_NTH_WEEK = {
    WeekOfMonth.FIRST: 1,
    WeekOfMonth.SECOND: 2,
    WeekOfMonth.THIRD: 3,
    WeekOfMonth.FOURTH: 4,
}
# Months by length, as (months, shortest length, longest length): February is 28 or 29 days.
_MONTH_LENGTHS = (
    ((1, 3, 5, 7, 8, 10, 12), 31, 31),
    ((4, 6, 9, 11), 30, 30),
    ((2,), 28, 29),
)


def schedule_spec(policy: SchedulePolicySpec | ScheduleModel) -> ScheduleSpec:
    """The Temporal `ScheduleSpec` for a policy (or just its schedule).

    For last-weekday, day 29-31 and every-other-week policies the spec matches more times than
    the policy fires on; the action must check `fires_on` and do nothing for the extra ones.
    """
    schedule = _schedule_of(policy)
    if isinstance(schedule, IntervalSchedule):
        return ScheduleSpec(
            intervals=[ScheduleIntervalSpec(every=timedelta(minutes=schedule.every_minutes))],
            time_zone_name=schedule.timezone,
        )
    at = _clock(schedule.time)
    hour, minute = [ScheduleRange(at.hour)], [ScheduleRange(at.minute)]
    if isinstance(schedule, DailySchedule):
        calendars = [ScheduleCalendarSpec(hour=hour, minute=minute)]
    elif isinstance(schedule, WeeklySchedule):
        weekdays = [ScheduleRange(_TEMPORAL_WEEKDAY[day]) for day in schedule.days]
        calendars = [ScheduleCalendarSpec(day_of_week=weekdays, hour=hour, minute=minute)]
    else:
        calendars = _monthly_calendars(schedule, hour, minute)
    return ScheduleSpec(calendars=calendars, time_zone_name=schedule.timezone)


def fires_on(
    policy: SchedulePolicySpec | ScheduleModel,
    when: datetime,
    *,
    anchor: date = EVERY_OTHER_WEEK_EPOCH,
) -> bool:
    """Whether `when` (timezone-aware) is a real fire time of the policy.

    Give it the time Temporal scheduled an action for: it is False for the extra times the
    superset spec of `schedule_spec` matches and for Temporal's extra times on the day the
    clocks go back. `anchor` is any day of an "on" week for every-other-week policies (see the
    module doc).
    """
    schedule = _schedule_of(policy)
    _require_aware(when, "when")
    if isinstance(schedule, IntervalSchedule):
        return (when - _EPOCH) % timedelta(minutes=schedule.every_minutes) == timedelta(0)
    local = when.astimezone(zoneinfo.ZoneInfo(schedule.timezone))
    wall = local.replace(tzinfo=None)
    return (
        _on_date(schedule, local.date(), anchor)
        and wall.time() == _clock(schedule.time)
        # Compared in UTC: Python never finds a repeated wall-clock time equal across zones.
        and _resolve(wall, schedule.timezone) == when.astimezone(UTC)
    )


def next_fire_times(
    policy: SchedulePolicySpec | ScheduleModel,
    after: datetime,
    count: int,
    *,
    anchor: date = EVERY_OTHER_WEEK_EPOCH,
) -> list[datetime]:
    """The policy's next `count` fire times strictly after `after`, in UTC.

    The same times the Temporal server lists for `schedule_spec(policy)`, less those
    `fires_on` rejects.
    """
    schedule = _schedule_of(policy)
    _require_aware(after, "after")
    if isinstance(schedule, IntervalSchedule):
        every = timedelta(minutes=schedule.every_minutes)
        first = _EPOCH + ((after - _EPOCH) // every + 1) * every
        return [first + n * every for n in range(count)]
    at = _clock(schedule.time)
    zone = zoneinfo.ZoneInfo(schedule.timezone)
    # Start a day early: `after` in UTC may still be the previous day in the policy's zone.
    day = after.astimezone(zone).date() - timedelta(days=1)
    times: list[datetime] = []
    while len(times) < count:
        if _on_date(schedule, day, anchor) and not _missed_by_temporal(schedule, day, zone):
            fire = _resolve(datetime.combine(day, at), schedule.timezone)
            if fire is not None and fire > after:
                times.append(fire)
        day += timedelta(days=1)
    return times


def last_fire_time(
    policy: SchedulePolicySpec | ScheduleModel,
    at_or_before: datetime,
    *,
    anchor: date = EVERY_OTHER_WEEK_EPOCH,
) -> datetime:
    """The policy's newest fire time at or before `at_or_before`, in UTC.

    The one `next_fire_times` would list just before the next; every policy fires at least
    once in any 400 days, so the walk back always ends.
    """
    schedule = _schedule_of(policy)
    _require_aware(at_or_before, "at_or_before")
    if isinstance(schedule, IntervalSchedule):
        every = timedelta(minutes=schedule.every_minutes)
        return _EPOCH + ((at_or_before - _EPOCH) // every) * every
    at = _clock(schedule.time)
    zone = zoneinfo.ZoneInfo(schedule.timezone)
    # Start a day late: `at_or_before` in UTC may already be the next day in the policy's zone.
    day = at_or_before.astimezone(zone).date() + timedelta(days=1)
    while True:
        if _on_date(schedule, day, anchor) and not _missed_by_temporal(schedule, day, zone):
            fire = _resolve(datetime.combine(day, at), schedule.timezone)
            if fire is not None and fire <= at_or_before:
                return fire
        day -= timedelta(days=1)


def run_anchor(policy: SchedulePolicySpec | ScheduleModel, created_at: datetime) -> date:
    """The `anchor` of a backup schedule's runs: every other week counts from the week it was
    made, in the policy's zone."""
    return created_at.astimezone(zoneinfo.ZoneInfo(_schedule_of(policy).timezone)).date()


def _schedule_of(policy: SchedulePolicySpec | ScheduleModel) -> ScheduleModel:
    return policy.schedule if isinstance(policy, SchedulePolicySpec) else policy


def _require_aware(value: datetime, name: str) -> None:
    if value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware (got {value.isoformat()})")


def _clock(value: str) -> time:
    hour, minute = value.split(":")
    return time(int(hour), int(minute))


def _monthly_calendars(
    schedule: MonthlySchedule, hour: list[ScheduleRange], minute: list[ScheduleRange]
) -> list[ScheduleCalendarSpec]:
    relative = schedule.relative_day
    if relative is None:
        weekdays = [ScheduleRange(0, 6)]
    else:
        weekdays = [ScheduleRange(_TEMPORAL_WEEKDAY[relative.day])]
        if relative.week != WeekOfMonth.LAST:
            # The nth weekday always falls on days 7n-6 to 7n: exact, nothing to filter.
            nth = _NTH_WEEK[relative.week]
            return [
                ScheduleCalendarSpec(
                    day_of_month=[ScheduleRange(7 * nth - 6, 7 * nth)],
                    day_of_week=weekdays,
                    hour=hour,
                    minute=minute,
                )
            ]
    # The last weekday and days 29-31 depend on the month's length: one row per length, and
    # lengths that need the same days share a row (day 15 is one calendar, not three).
    months_by_days: dict[tuple[int, int], list[int]] = {}
    for months, shortest, longest in _MONTH_LENGTHS:
        if relative is None:
            assert schedule.day_of_month is not None  # the model requires one of the two
            span = (min(schedule.day_of_month, shortest), min(schedule.day_of_month, longest))
        else:
            span = (shortest - 6, longest)
        months_by_days.setdefault(span, []).extend(months)
    return [
        ScheduleCalendarSpec(
            month=_ranges(sorted(months)),
            day_of_month=[ScheduleRange(first, last)],
            day_of_week=weekdays,
            hour=hour,
            minute=minute,
        )
        for (first, last), months in months_by_days.items()
    ]


def _ranges(values: list[int]) -> list[ScheduleRange]:
    """Sorted numbers as few ranges: [1, 2, 3, 5] is 1-3 and 5."""
    ranges: list[ScheduleRange] = []
    for value in values:
        if ranges and ranges[-1].end == value - 1:
            ranges[-1] = ScheduleRange(ranges[-1].start, value)
        else:
            ranges.append(ScheduleRange(value))
    return ranges


def _on_date(schedule: ScheduleModel, day: date, anchor: date) -> bool:
    """Whether the policy fires on this local date (the time of day is checked elsewhere)."""
    if isinstance(schedule, DailySchedule):
        return True
    if isinstance(schedule, WeeklySchedule):
        if day.weekday() not in {_PYTHON_WEEKDAY[d] for d in schedule.days}:
            return False
        return not schedule.every_other_week or _weeks_between(anchor, day) % 2 == 0
    assert isinstance(schedule, MonthlySchedule)
    month_length = calendar.monthrange(day.year, day.month)[1]
    if schedule.relative_day is None:
        assert schedule.day_of_month is not None
        return day.day == min(schedule.day_of_month, month_length)
    if day.weekday() != _PYTHON_WEEKDAY[schedule.relative_day.day]:
        return False
    if schedule.relative_day.week == WeekOfMonth.LAST:
        return day.day + 7 > month_length
    return (day.day - 1) // 7 + 1 == _NTH_WEEK[schedule.relative_day.week]


def _weeks_between(anchor: date, day: date) -> int:
    """Whole weeks from the Monday of `anchor`'s week to the Monday of `day`'s week."""
    return (
        (day - timedelta(days=day.weekday())) - (anchor - timedelta(days=anchor.weekday()))
    ).days // 7


def _resolve(wall: datetime, zone: str) -> datetime | None:
    """The instant a policy fires for a wall-clock time in `zone`, or None when it skips it.

    A time the clocks jump over does not exist and is skipped; a time that occurs twice
    resolves to its second occurrence (fold=1), after the clocks go back.
    """
    local = wall.replace(tzinfo=zoneinfo.ZoneInfo(zone), fold=1)
    instant = local.astimezone(UTC)
    if instant.astimezone(local.tzinfo).replace(tzinfo=None) != wall:
        return None
    return instant


def _missed_by_temporal(schedule: ScheduleModel, day: date, zone: zoneinfo.ZoneInfo) -> bool:
    """Whether Temporal's calendar misses this day of a weekday schedule.

    It checks the weekday of local midnight through Go's `time.Date`, which puts a midnight
    the clocks jump over (west of UTC) on the day before. `time.Date` takes the UTC offset in
    force at the wall-clock time read as UTC, then the one in force at the instant that
    gives; this repeats it with zoneinfo.
    """
    if not isinstance(schedule, WeeklySchedule) and not (
        isinstance(schedule, MonthlySchedule) and schedule.relative_day is not None
    ):
        return False
    wall = datetime.combine(day, time(0), UTC)
    first = wall.astimezone(zone).utcoffset()
    assert first is not None
    second = (wall - first).astimezone(zone).utcoffset()
    assert second is not None
    return (wall - second).astimezone(zone).date() != day
