"""Retention: which backups a schedule deletes, and which it never touches."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest

from lifeboat.policies import Retention
from lifeboat.retention import RetainedBackup, expired

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def daily_backups(
    first: date, last: date, status: str = "Success", at: time = time(2, 0)
) -> list[RetainedBackup]:
    """One backup a day at `at` UTC, uid = its ISO date."""
    days = (last - first).days + 1
    return [
        RetainedBackup(
            (first + timedelta(days=n)).isoformat(),
            datetime.combine(first + timedelta(days=n), at, UTC),
            status,
        )
        for n in range(days)
    ]


def backup(uid: str, day: date, status: str = "Success", hour: int = 2) -> RetainedBackup:
    return RetainedBackup(uid, datetime.combine(day, time(hour), UTC), status)


def test_keep_last_keeps_the_newest_and_expires_the_rest_oldest_first() -> None:
    backups = daily_backups(date(2025, 12, 22), date(2025, 12, 31))

    assert expired(backups, Retention(keep_last=3), NOW) == [
        "2025-12-22",
        "2025-12-23",
        "2025-12-24",
        "2025-12-25",
        "2025-12-26",
        "2025-12-27",
        "2025-12-28",
    ]


def test_partial_success_is_a_kept_copy_like_success() -> None:
    backups = [
        backup("full", date(2025, 12, 29)),
        backup("partial", date(2025, 12, 30), "PartialSuccess"),
        backup("full-newest", date(2025, 12, 31)),
    ]

    assert expired(backups, Retention(keep_last=2), NOW) == ["full"]


def test_grandfather_father_son_over_a_year_of_daily_backups() -> None:
    backups = daily_backups(date(2025, 1, 1), date(2025, 12, 31))
    retention = Retention(keep_last=7, keep_daily=14, keep_weekly=8, keep_monthly=12)

    gone = expired(backups, retention, NOW)

    kept = {b.uid for b in backups} - set(gone)
    daily = {f"2025-12-{day:02d}" for day in range(18, 32)}
    # The newest backup of each ISO week: Sundays, and Wednesday 31 December for the week
    # (2026-W01) that has not ended yet.
    weekly = {"2025-12-31", "2025-12-28", "2025-12-21", "2025-12-14", "2025-12-07"}
    weekly |= {"2025-11-30", "2025-11-23", "2025-11-16"}
    monthly = {
        "2025-01-31",
        "2025-02-28",
        "2025-03-31",
        "2025-04-30",
        "2025-05-31",
        "2025-06-30",
        "2025-07-31",
        "2025-08-31",
        "2025-09-30",
        "2025-10-31",
        "2025-11-30",
        "2025-12-31",
    }
    assert kept == daily | weekly | monthly
    assert len(kept) == 29
    assert gone == sorted(gone) and gone[0] == "2025-01-01"


def test_periods_without_backups_do_not_use_up_places() -> None:
    # Backups stopped for three months (a cluster offline): the monthly copies before the gap
    # are still the newest three months that have a backup.
    backups = [
        backup("june", date(2025, 6, 30)),
        backup("july", date(2025, 7, 31)),
        backup("august", date(2025, 8, 31)),
        backup("december", date(2025, 12, 1)),
    ]
    retention = Retention(keep_last=1, keep_monthly=3)

    assert expired(backups, retention, NOW) == ["june"]


def test_days_are_the_policys_days_not_utc_days() -> None:
    # 23:30 and 00:30 in Berlin: two days there, one day in UTC.
    late = RetainedBackup("late", datetime(2025, 12, 2, 22, 30, tzinfo=UTC), "Success")
    early = RetainedBackup("early", datetime(2025, 12, 2, 23, 30, tzinfo=UTC), "Success")
    retention = Retention(keep_last=1, keep_daily=2)

    assert expired([late, early], retention, NOW, timezone="Europe/Berlin") == []
    assert expired([late, early], retention, NOW) == ["late"]


def test_failed_backups_never_fill_a_place_and_go_once_a_newer_one_succeeds() -> None:
    backups = [
        backup("ok-1", date(2025, 12, 25)),
        backup("failed-1", date(2025, 12, 26), "Failed"),
        backup("ok-2", date(2025, 12, 27)),
        backup("aborted", date(2025, 12, 28), "Aborted"),
        backup("failed-2", date(2025, 12, 29), "Failed"),
    ]

    # Both successes stay although the two newest backups failed, and the failures newer than
    # every success stay too: they say why backups are failing now.
    assert expired(backups, Retention(keep_last=2), NOW) == ["failed-1"]

    backups.append(backup("ok-3", date(2025, 12, 30)))
    assert expired(backups, Retention(keep_last=2), NOW) == [
        "ok-1",
        "failed-1",
        "aborted",
        "failed-2",
    ]


def test_the_last_successful_backup_is_kept_however_old() -> None:
    backups = [
        backup("older-ok", date(2024, 3, 1)),
        backup("last-ok", date(2024, 6, 1)),
        *daily_backups(date(2025, 12, 1), date(2025, 12, 31), status="Failed"),
    ]

    # A month of failures after the last success: nothing newer to restore from, so the last
    # success and every failure since are kept.
    assert expired(backups, Retention(keep_last=1), NOW) == ["older-ok"]


def test_backups_still_running_are_never_expired_nor_counted() -> None:
    backups = [
        backup("stuck-pending", date(2025, 1, 1), "Pending"),
        backup("ok-1", date(2025, 12, 29)),
        backup("ok-2", date(2025, 12, 30)),
        backup("running", date(2025, 12, 31), "InProgress"),
    ]

    assert expired(backups, Retention(keep_last=1), NOW) == ["ok-1"]


def test_a_backup_dated_after_now_is_left_alone() -> None:
    backups = [
        backup("ok", date(2025, 12, 30)),
        RetainedBackup("ahead", NOW + timedelta(minutes=5), "Failed"),
        backup("newer-ok", date(2025, 12, 31)),
    ]

    assert expired(backups, Retention(keep_last=1), NOW) == ["ok"]


def test_naive_datetimes_are_refused() -> None:
    naive = RetainedBackup("naive", datetime(2025, 12, 31, 2, 0), "Success")

    with pytest.raises(ValueError, match="timezone-aware"):
        expired([naive], Retention(), NOW)


def hourly_backups(first: datetime, count: int, status: str = "Success") -> list[RetainedBackup]:
    """One backup every 30 minutes from `first`, uid = its time as HH:MM."""
    return [
        RetainedBackup(f"{t:%H:%M}", t, status)
        for t in (first + timedelta(minutes=30 * n) for n in range(count))
    ]


def test_keep_hourly_keeps_the_newest_backup_of_each_recent_hour() -> None:
    # 08:00, 08:30, ..., 11:30: two backups in each of four hours.
    backups = hourly_backups(datetime(2026, 1, 1, 8, 0, tzinfo=UTC), 8)

    kept = {b.uid for b in backups} - set(
        expired(backups, Retention(keep_last=1, keep_hourly=3), NOW)
    )

    # The newest of 11:00, 10:00 and 09:00; the 08:00 hour is past the count.
    assert kept == {"11:30", "10:30", "09:30"}


def test_keep_hourly_counts_hours_in_the_policys_time_zone() -> None:
    # Kolkata is UTC+05:30: 08:00 and 08:30 UTC fall in two different local hours.
    backups = hourly_backups(datetime(2026, 1, 1, 8, 0, tzinfo=UTC), 4)

    assert expired(
        backups, Retention(keep_last=1, keep_hourly=2), NOW, timezone="Asia/Kolkata"
    ) == ["08:00", "08:30"]  # 09:00 UTC = 14:30 local: the newest of 14:00 local
    assert expired(backups, Retention(keep_last=1, keep_hourly=2), NOW) == ["08:00", "09:00"]


def test_keep_yearly_keeps_the_newest_backup_of_each_recent_year() -> None:
    backups = [
        backup("2022-a", date(2022, 3, 1)),
        backup("2023-a", date(2023, 3, 1)),
        backup("2023-b", date(2023, 11, 1)),
        backup("2025-a", date(2025, 6, 1)),
        backup("2025-b", date(2025, 12, 1)),
    ]

    # 2024 has no backup and uses up no place.
    assert expired(backups, Retention(keep_last=1, keep_yearly=2), NOW) == [
        "2022-a",
        "2023-a",
        "2025-a",
    ]


def test_keep_last_good_keeps_the_newest_success_behind_partial_successes() -> None:
    backups = [
        backup("older-ok", date(2025, 12, 1)),
        backup("last-ok", date(2025, 12, 2)),
        *daily_backups(date(2025, 12, 3), date(2025, 12, 10), status="PartialSuccess"),
    ]

    # keep_last=2 counts the two newest partial successes; the last complete copy stays too.
    assert expired(backups, Retention(keep_last=2), NOW) == [
        "older-ok",
        *(f"2025-12-0{d}" for d in range(3, 9)),
    ]
