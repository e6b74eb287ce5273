"""Schedule policies: when backups run and how many are kept.

A policy is a schedule (`interval`, `daily`, `weekly` or `monthly`, told apart by `type`, each in
an IANA time zone) and a retention. The API validates requests with these models and stores
`model_dump(mode="json")`; the schedules workflow reads the stored JSON back through them.
Validation errors name the field as the user wrote it (`schedule.time`, not the union's
internal `schedule.daily.time`).
"""

from __future__ import annotations

import enum
import re
import zoneinfo
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    WrapValidator,
    field_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

_CLOCK = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
SCHEDULE_TYPES = ("interval", "daily", "weekly", "monthly")


class Weekday(enum.StrEnum):
    MON = "mon"
    TUE = "tue"
    WED = "wed"
    THU = "thu"
    FRI = "fri"
    SAT = "sat"
    SUN = "sun"


class WeekOfMonth(enum.StrEnum):
    FIRST = "first"
    SECOND = "second"
    THIRD = "third"
    FOURTH = "fourth"
    LAST = "last"


def _clock_time(value: str) -> str:
    if not _CLOCK.match(value):
        raise ValueError(f"use HH:MM on a 24-hour clock, 00:00 to 23:59 (got {value!r})")
    return value


def _time_zone(value: str) -> str:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"{value!r} is not a known IANA time zone; use a name such as 'UTC' or 'Europe/Paris'"
        ) from None
    return value


# The validators check these with their own messages; the schema shows the same rules.
ClockTime = Annotated[
    str,
    AfterValidator(_clock_time),
    Field(
        description="HH:MM, 24-hour clock",
        examples=["02:30"],
        max_length=5,
        json_schema_extra={"pattern": _CLOCK.pattern},
    ),
]
TimeZone = Annotated[
    str,
    AfterValidator(_time_zone),
    Field(
        description="An IANA time zone name",
        examples=["UTC"],
        max_length=64,
        json_schema_extra={"pattern": r"^[A-Za-z0-9_+/-]+$"},
    ),
]
# Bounds what a policy may ask to keep: more than any bucket holds, small enough to store.
MAX_KEEP = 10_000


class _Strict(BaseModel):
    # A misspelt key would otherwise be dropped and its default used in silence.
    model_config = ConfigDict(extra="forbid")


class IntervalSchedule(_Strict):
    """Every N minutes, from when the schedule starts."""

    type: Literal["interval"]
    every_minutes: int = Field(strict=True, ge=1, le=10080, description="1 minute to 1 week")
    timezone: TimeZone = "UTC"


class DailySchedule(_Strict):
    """Once a day at `time` in `timezone`."""

    type: Literal["daily"]
    time: ClockTime
    timezone: TimeZone = "UTC"


class WeeklySchedule(_Strict):
    """On the given weekdays at `time`; every other week when `every_other_week`."""

    type: Literal["weekly"]
    days: list[Weekday] = Field(min_length=1, max_length=7)
    time: ClockTime
    every_other_week: bool = Field(default=False, strict=True)
    timezone: TimeZone = "UTC"

    @field_validator("days")
    @classmethod
    def _no_duplicates(cls, days: list[Weekday]) -> list[Weekday]:
        repeated = sorted({d.value for d in days if days.count(d) > 1})
        if repeated:
            raise ValueError(f"list each day once ({', '.join(repeated)} repeated)")
        return days


class RelativeDay(_Strict):
    """A weekday counted within the month: the first Monday, the last Friday."""

    week: WeekOfMonth
    day: Weekday


class MonthlySchedule(_Strict):
    """Once a month at `time`, on `day_of_month` or on a `relative_day`: exactly one of them."""

    type: Literal["monthly"]
    day_of_month: int | None = Field(default=None, strict=True, ge=1, le=31)
    relative_day: RelativeDay | None = Field(default=None, validate_default=True)
    time: ClockTime
    timezone: TimeZone = "UTC"

    @field_validator("relative_day")
    @classmethod
    def _exactly_one_day(
        cls, value: RelativeDay | None, info: ValidationInfo
    ) -> RelativeDay | None:
        if "day_of_month" not in info.data:  # day_of_month is invalid, already reported
            return value
        given = info.data["day_of_month"] is not None
        if given and value is not None:
            raise ValueError("give day_of_month or relative_day, not both")
        if not given and value is None:
            raise ValueError(
                'give day_of_month (1 to 31) or relative_day ({"week": "first", "day": "mon"})'
            )
        return value


def _errors_without_tag(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
    """Report errors at the user's path: drop the union tag pydantic puts in each location."""
    try:
        return handler(value)
    except ValidationError as exc:
        details: list[InitErrorDetails] = []
        for error in exc.errors():
            loc, message = error["loc"], error["msg"]
            if error["type"].startswith("union_tag"):
                loc = ("type",)
                tag = error.get("ctx", {}).get("tag")
                known = f"one of {', '.join(SCHEDULE_TYPES)}"
                message = f"unknown type {tag!r}; use {known}" if tag else f"give type: {known}"
            elif loc and loc[0] in SCHEDULE_TYPES:
                loc = loc[1:]
            details.append(
                InitErrorDetails(
                    type=PydanticCustomError(error["type"], message),
                    loc=loc,
                    input=error["input"],
                )
            )
        raise ValidationError.from_exception_data(exc.title, details) from None


Schedule = Annotated[
    Annotated[
        IntervalSchedule | DailySchedule | WeeklySchedule | MonthlySchedule,
        Field(discriminator="type"),
    ],
    WrapValidator(_errors_without_tag),
]


class Retention(_Strict):
    """How many backups a schedule keeps: the last `keep_last`, plus grandfather-father-son.

    `keep_hourly`, `keep_daily`, `keep_weekly`, `keep_monthly` and `keep_yearly` keep the
    newest backup of that many recent hours, days, weeks, months and years besides. The last
    successful backup is never deleted (keep-last-good).
    """

    keep_last: int = Field(
        default=7,
        strict=True,
        ge=1,
        le=MAX_KEEP,
        description="keep the newest this many usable (Success or PartialSuccess) backups",
    )
    keep_hourly: int | None = Field(
        default=None,
        strict=True,
        ge=0,
        le=MAX_KEEP,
        description="GFS: keep the newest usable backup of each of the newest this many hours "
        "that have one (hours without a backup use up no place)",
    )
    keep_daily: int | None = Field(
        default=None,
        strict=True,
        ge=0,
        le=MAX_KEEP,
        description="GFS: keep the newest usable backup of each of the newest this many days "
        "(in the schedule's time zone) that have one",
    )
    keep_weekly: int | None = Field(
        default=None,
        strict=True,
        ge=0,
        le=MAX_KEEP,
        description="GFS: keep the newest usable backup of each of the newest this many ISO "
        "weeks (Monday to Sunday) that have one",
    )
    keep_monthly: int | None = Field(
        default=None,
        strict=True,
        ge=0,
        le=MAX_KEEP,
        description="GFS: keep the newest usable backup of each of the newest this many "
        "calendar months that have one",
    )
    keep_yearly: int | None = Field(
        default=None,
        strict=True,
        ge=0,
        le=MAX_KEEP,
        description="GFS: keep the newest usable backup of each of the newest this many "
        "calendar years that have one",
    )
    keep_last_successful: bool = Field(
        default=True,
        strict=True,
        description="keep-last-good, always on: the newest Success and the newest usable "
        "backup of the schedule are never deleted, whatever the counts say",
    )

    @field_validator("keep_last_successful")
    @classmethod
    def _always_keep_last_successful(cls, value: bool) -> bool:
        if not value:
            raise ValueError(
                "the last successful backup is always kept so there is something to restore; "
                "leave keep_last_successful true (or omit it)"
            )
        return value


class SchedulePolicySpec(_Strict):
    """A whole schedule policy: when to back up and what to keep."""

    schedule: Schedule
    retention: Retention = Field(default_factory=Retention)
