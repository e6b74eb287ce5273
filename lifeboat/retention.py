"""Which of a schedule's backups its retention lets go.

The rules, in the order a user would check them:

- Only usable backups (`Success`, `PartialSuccess`) count as kept copies. A failed or aborted
  backup never fills a `keep_last` place; it is kept while it is newer than every usable backup
  (it tells why backups are failing) and expired once a newer usable backup exists.
- `keep_last` keeps the newest that many usable backups.
- `keep_hourly`, `keep_daily`, `keep_weekly`, `keep_monthly` and `keep_yearly` keep the newest
  usable backup of each of the newest that many hours, days, ISO weeks (Monday to Sunday),
  months and years that have a usable backup, as restic, borg and Proxmox count them: a week
  without backups (a cluster offline) does not use up a place, so a pause in backups never
  costs older copies. Periods are those of the policy's time zone, the one its schedule fires
  in, so "the daily backup of 3 March" is the one the user sees dated 3 March.
- Keep-last-good (`keep_last_successful`): the newest usable backup and the newest `Success`
  are always kept, however old: a run of partial successes never costs the last complete copy.
- A backup still `Pending` or `InProgress`, or dated after `now`, is never expired.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from lifeboat.policies import Retention
from lifeboat.status import RUNNING, USABLE, BackupStatus


@dataclass(frozen=True)
class RetainedBackup:
    """A backup as retention sees it: its uid, when it was taken and how it ended."""

    uid: str
    created_at: datetime
    status: str


def expired(
    backups: Sequence[RetainedBackup],
    retention: Retention,
    now: datetime,
    *,
    timezone: str = "UTC",
) -> list[str]:
    """The uids of the backups `retention` no longer keeps, oldest first.

    `timezone` is the policy's IANA zone: the hours, days, weeks, months and years of the
    GFS counts are counted in it. All datetimes must be timezone-aware.
    """
    for backup in backups:
        if backup.created_at.utcoffset() is None:
            raise ValueError(f"backup {backup.uid}: created_at must be timezone-aware")
    if now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    zone = zoneinfo.ZoneInfo(timezone)
    usable = sorted(
        (b for b in backups if b.status in USABLE), key=lambda b: b.created_at, reverse=True
    )
    kept = {b.uid for b in usable[: retention.keep_last]}
    # Keep-last-good, whatever the counts say: the newest usable and the newest Success.
    newest_success = next((b for b in usable if b.status == BackupStatus.SUCCESS), None)
    kept.update(b.uid for b in (usable[:1] + ([newest_success] if newest_success else [])))

    def local(backup: RetainedBackup) -> datetime:
        return backup.created_at.astimezone(zone)

    def local_day(backup: RetainedBackup) -> date:
        return local(backup).date()

    periods: list[tuple[int | None, Callable[[RetainedBackup], Hashable]]] = [
        # The local date and hour: the repeated hour when clocks go back counts as one.
        (retention.keep_hourly, lambda b: (local_day(b), local(b).hour)),
        (retention.keep_daily, local_day),
        (retention.keep_weekly, lambda b: local_day(b).isocalendar()[:2]),
        (retention.keep_monthly, lambda b: (local_day(b).year, local_day(b).month)),
        (retention.keep_yearly, lambda b: local_day(b).year),
    ]
    for count, period_of in periods:
        kept.update(_newest_per_period(usable, count or 0, period_of))

    newest_usable = usable[0].created_at if usable else None
    doomed = [
        b
        for b in backups
        if b.status not in RUNNING
        and b.created_at <= now
        and (
            b.uid not in kept
            if b.status in USABLE
            else newest_usable is not None and b.created_at < newest_usable
        )
    ]
    return [b.uid for b in sorted(doomed, key=lambda b: (b.created_at, b.uid))]


def _newest_per_period(
    newest_first: Sequence[RetainedBackup],
    count: int,
    period_of: Callable[[RetainedBackup], Hashable],
) -> list[str]:
    """The uid of the newest backup in each of the newest `count` periods that have one."""
    seen: set[Hashable] = set()
    uids: list[str] = []
    for backup in newest_first:
        period = period_of(backup)
        if period in seen:
            continue
        if len(seen) == count:
            break
        seen.add(period)
        uids.append(backup.uid)
    return uids
