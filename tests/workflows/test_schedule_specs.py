"""Schedule specs against a real Temporal dev server: Temporal's own engine lists the times.

Each test creates a paused Temporal Schedule from `schedule_spec(policy)` and reads the next
action times the server computes for it. `start_at` in the future pins where those times
start, and every date is computed from today (the next DST change, the next 30-day month), so
the expectations hold whatever day the tests run. The server's times, less those `fires_on`
rejects, must be exactly the policy's times and exactly what `next_fire_times` says.

What Temporal does at DST changes, as asserted below: a wall-clock time the clocks jump over
is skipped that day; a daily time in the hour the clocks go back over is listed once, at its
second occurrence, in Europe/Berlin but twice in America/New_York; and the time an hour before
that repeated hour is also listed an hour late. `fires_on` keeps one run per day, at the
policy's wall-clock time, at its second occurrence when it has two. A weekday schedule gets no
run at all on a day whose midnight the clocks jump over west of UTC (America/Santiago).
"""

from __future__ import annotations

import calendar
import dataclasses
import shutil
import sys
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import pytest_asyncio
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleState,
)
from temporalio.testing import WorkflowEnvironment

from lifeboat.policies import (
    DailySchedule,
    IntervalSchedule,
    MonthlySchedule,
    RelativeDay,
    Weekday,
    WeeklySchedule,
    WeekOfMonth,
)
from lifeboat.schedules import (
    EVERY_OTHER_WEEK_EPOCH,
    ScheduleModel,
    fires_on,
    next_fire_times,
    schedule_spec,
)

BERLIN, NEW_YORK, TOKYO = (
    ZoneInfo("Europe/Berlin"),
    ZoneInfo("America/New_York"),
    ZoneInfo("Asia/Tokyo"),
)


def temporal_cli() -> str:
    return shutil.which("temporal") or str(Path(sys.executable).parent / "temporal")


@pytest_asyncio.fixture(scope="module")
async def client() -> AsyncIterator[Client]:
    async with await WorkflowEnvironment.start_local(
        dev_server_existing_path=temporal_cli()
    ) as environment:
        yield environment.client


async def server_times(client: Client, policy: ScheduleModel, start_at: datetime) -> list[datetime]:
    """The next ten action times the server lists for the policy's spec, from `start_at`."""
    spec = dataclasses.replace(schedule_spec(policy), start_at=start_at)
    # Paused, on a task queue no worker polls: nothing runs, the server only plans.
    action = ScheduleActionStartWorkflow(
        "Noop", id=f"noop-{uuid.uuid4()}", task_queue=f"schedule-specs-{uuid.uuid4()}"
    )
    handle = await client.create_schedule(
        f"policy-{uuid.uuid4()}",
        Schedule(action=action, spec=spec, state=ScheduleState(paused=True)),
    )
    try:
        times = list((await handle.describe()).info.next_action_times)
    finally:
        await handle.delete()
    assert len(times) == 10
    return times


def kept_and_cross_checked(
    policy: ScheduleModel,
    times: list[datetime],
    start_at: datetime,
    anchor: date = EVERY_OTHER_WEEK_EPOCH,
) -> list[datetime]:
    """The server's times that `fires_on` keeps, checked against `next_fire_times`."""
    kept = [t for t in times if fires_on(policy, t, anchor=anchor)]
    assert next_fire_times(policy, start_at, len(kept), anchor=anchor) == kept
    return kept


def today() -> date:
    return datetime.now(UTC).date()


def first_day_after(day: date, wanted: Callable[[date], bool]) -> date:
    day += timedelta(days=1)
    while not wanted(day):
        day += timedelta(days=1)
    return day


def next_month_start(day: date) -> date:
    return first_day_after(day, lambda d: d.day == 1)


def next_clock_change(zone: ZoneInfo, *, forward: bool) -> date:
    """The next day (a week away at least, so three days before it is still ahead) on which
    the clocks in `zone` go forward, or back."""

    def changes(day: date) -> bool:
        before = datetime.combine(day, time(0), zone).utcoffset()
        after = datetime.combine(day + timedelta(days=1), time(0), zone).utcoffset()
        assert before is not None and after is not None
        return before != after and (after > before) == forward

    return first_day_after(today() + timedelta(days=7), changes)


def at(day: date, clock: time, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, clock, zone).astimezone(UTC)


def utc(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), UTC)


async def test_interval_every_90_minutes_counts_from_the_epoch(client: Client) -> None:
    policy = IntervalSchedule(type="interval", every_minutes=90, timezone="Europe/Berlin")
    start_at = utc(today() + timedelta(days=1), 0, 10)

    times = await server_times(client, policy, start_at)

    # 90 minutes divides a day, so the epoch-aligned times are the same every UTC day.
    midnight = utc(today() + timedelta(days=1), 0)
    assert times == [midnight + n * timedelta(minutes=90) for n in range(1, 11)]
    assert kept_and_cross_checked(policy, times, start_at) == times


async def test_daily_time_the_clocks_jump_over_is_skipped_that_day(client: Client) -> None:
    policy = DailySchedule(type="daily", time="02:30", timezone="Europe/Berlin")
    change = next_clock_change(BERLIN, forward=True)  # 2027-03-28 as of writing
    start_at = utc(change - timedelta(days=3), 0)

    times = await server_times(client, policy, start_at)

    # 02:30 CET is 01:30 UTC, 02:30 CEST is 00:30 UTC; 02:30 does not exist on the day itself.
    before = [utc(change - timedelta(days=n), 1, 30) for n in (3, 2, 1)]
    after = [utc(change + timedelta(days=n), 0, 30) for n in range(1, 8)]
    assert times == before + after
    assert kept_and_cross_checked(policy, times, start_at) == times


async def test_daily_time_in_the_repeated_hour_runs_once_after_the_clocks_go_back(
    client: Client,
) -> None:
    policy = DailySchedule(type="daily", time="02:30", timezone="Europe/Berlin")
    change = next_clock_change(BERLIN, forward=False)  # 2027-10-31 as of writing
    start_at = utc(change - timedelta(days=3), 0)

    times = await server_times(client, policy, start_at)

    # 02:30 happens twice on that day (00:30 and 01:30 UTC); Temporal takes the second.
    before = [utc(change - timedelta(days=n), 0, 30) for n in (3, 2, 1)]
    after = [utc(change + timedelta(days=n), 1, 30) for n in range(7)]
    assert times == before + after
    assert kept_and_cross_checked(policy, times, start_at) == times


@pytest.mark.parametrize(
    ("zone", "clock", "extra", "kept_offset"),
    [
        # 01:30 is repeated in New York: Temporal lists both, 01:30 EDT then 01:30 EST; the
        # second (EST, UTC-5) runs.
        ("America/New_York", time(1, 30), time(1, 30), -5),
        # The hour before Berlin's repeated hour: Temporal also lists 02:30 CEST, an hour late;
        # 01:30 CEST (UTC+2) runs.
        ("Europe/Berlin", time(1, 30), time(2, 30), 2),
    ],
)
async def test_the_day_the_clocks_go_back_has_one_run(
    client: Client, zone: str, clock: time, extra: time, kept_offset: int
) -> None:
    policy = DailySchedule(type="daily", time=clock.strftime("%H:%M"), timezone=zone)
    local = ZoneInfo(zone)
    change = next_clock_change(local, forward=False)
    start_at = at(change - timedelta(days=2), time(0), local)

    times = await server_times(client, policy, start_at)

    on_change_day = [t for t in times if t.astimezone(local).date() == change]
    assert [t.astimezone(local).time() for t in on_change_day] == [clock, extra]
    kept = kept_and_cross_checked(policy, times, start_at)
    days = [t.astimezone(local).date() for t in kept]
    assert days == [change + timedelta(days=n) for n in range(-2, 7)]
    assert all(t.astimezone(local).time() == clock for t in kept)
    [run] = [t for t in on_change_day if t in kept]
    assert run.astimezone(local).utcoffset() == timedelta(hours=kept_offset)


async def test_temporal_misses_a_weekly_run_when_the_clocks_jump_over_midnight(
    client: Client,
) -> None:
    # Chile moves its clocks from 00:00 to 01:00 on a Sunday in September; Temporal reads that
    # Sunday as a Saturday and lists no run for it. next_fire_times says so too.
    santiago = ZoneInfo("America/Santiago")
    policy = WeeklySchedule(
        type="weekly", days=[Weekday.SUN], time="23:15", timezone="America/Santiago"
    )
    change = next_clock_change(santiago, forward=True)
    assert change.weekday() == 6, "the premise: Chile's clocks change on a Sunday"
    start_at = at(change - timedelta(weeks=1), time(0), santiago)

    times = await server_times(client, policy, start_at)

    days = [t.astimezone(santiago).date() for t in times]
    assert days == [change + timedelta(weeks=n) for n in range(-1, 10) if n != 0]
    assert kept_and_cross_checked(policy, times, start_at) == times


async def test_weekly_monday_and_thursday_late_evening_in_new_york(client: Client) -> None:
    policy = WeeklySchedule(
        type="weekly", days=[Weekday.MON, Weekday.THU], time="23:00", timezone="America/New_York"
    )
    monday = first_day_after(today(), lambda d: d.weekday() == 0)
    start_at = at(monday, time(0), NEW_YORK)

    times = await server_times(client, policy, start_at)

    days = [monday + timedelta(weeks=n // 2, days=3 * (n % 2)) for n in range(10)]
    assert times == [at(day, time(23), NEW_YORK) for day in days]
    assert kept_and_cross_checked(policy, times, start_at) == times


async def test_monthly_on_the_15th_in_tokyo(client: Client) -> None:
    policy = MonthlySchedule(type="monthly", day_of_month=15, time="09:00", timezone="Asia/Tokyo")
    first = next_month_start(today())
    start_at = at(first, time(0), TOKYO)

    times = await server_times(client, policy, start_at)

    months = [first]
    while len(months) < 10:
        months.append(next_month_start(months[-1]))
    # 09:00 in Tokyo (no DST) is midnight UTC.
    assert times == [utc(month.replace(day=15), 0) for month in months]
    assert kept_and_cross_checked(policy, times, start_at) == times


def last_weekday(year: int, month: int, weekday: int) -> date:
    length = calendar.monthrange(year, month)[1]
    return max(
        date(year, month, day)
        for day in range(length - 6, length + 1)
        if date(year, month, day).weekday() == weekday
    )


async def test_monthly_on_the_last_sunday(client: Client) -> None:
    policy = MonthlySchedule(
        type="monthly",
        relative_day=RelativeDay(week=WeekOfMonth.LAST, day=Weekday.SUN),
        time="04:00",
    )
    start_at = utc(next_month_start(today()), 0)

    times = await server_times(client, policy, start_at)

    kept = kept_and_cross_checked(policy, times, start_at)
    assert set(kept) <= set(times)
    assert kept[0].date() == last_weekday(start_at.year, start_at.month, 6)
    assert kept == [utc(last_weekday(t.year, t.month, 6), 4) for t in kept]
    assert len({(t.year, t.month) for t in kept}) == len(kept)


async def test_the_last_weekday_of_a_leap_february_is_the_29th_not_the_22nd(
    client: Client,
) -> None:
    year = first_day_after(today(), lambda d: calendar.isleap(d.year) and d.month == 1).year
    weekday = list(Weekday)[date(year, 2, 29).weekday()]
    policy = MonthlySchedule(
        type="monthly",
        relative_day=RelativeDay(week=WeekOfMonth.LAST, day=weekday),
        time="04:00",
    )
    start_at = utc(date(year, 2, 1), 0)

    times = await server_times(client, policy, start_at)

    # The calendar for February matches days 22-29: the server lists both, fires_on keeps one.
    assert times[:2] == [utc(date(year, 2, 22), 4), utc(date(year, 2, 29), 4)]
    kept = kept_and_cross_checked(policy, times, start_at)
    assert kept == [times[1], *times[2:]]


async def test_every_other_wednesday_counts_weeks_from_the_anchor(client: Client) -> None:
    policy = WeeklySchedule(type="weekly", days=[Weekday.WED], time="21:00", every_other_week=True)
    monday = first_day_after(today(), lambda d: d.weekday() == 0)
    start_at = utc(monday, 0)

    times = await server_times(client, policy, start_at)

    # The server fires every Wednesday; fires_on keeps alternate weeks counted from the anchor.
    wednesdays = [utc(monday + timedelta(weeks=n, days=2), 21) for n in range(10)]
    assert times == wednesdays
    created_this_week = kept_and_cross_checked(policy, times, start_at, anchor=monday)
    assert created_this_week == wednesdays[0::2]
    created_next_week = monday + timedelta(weeks=1, days=4)
    assert (
        kept_and_cross_checked(policy, times, start_at, anchor=created_next_week)
        == (wednesdays[1::2])
    )


async def test_day_31_fires_on_the_last_day_of_shorter_months(client: Client) -> None:
    policy = MonthlySchedule(type="monthly", day_of_month=31, time="22:15")
    # The next November: a 30-day month, and the next ten months include February.
    november = first_day_after(today(), lambda d: d.month == 11 and d.day == 1)
    start_at = utc(november, 0)

    times = await server_times(client, policy, start_at)

    kept = kept_and_cross_checked(policy, times, start_at)
    assert kept[0] == utc(date(november.year, 11, 30), 22, 15)
    months = [(november.year + (10 + n) // 12, (10 + n) % 12 + 1) for n in range(len(kept))]
    assert kept == [utc(date(y, m, calendar.monthrange(y, m)[1]), 22, 15) for y, m in months]
    # Only a leap February has an extra time (the 28th) for fires_on to drop.
    assert len(times) - len(kept) == (1 if calendar.isleap(november.year + 1) else 0)
