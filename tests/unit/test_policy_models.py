"""Schedule policy and rule models: what they accept, what they refuse, and where they say so."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from lifeboat.policies import (
    DailySchedule,
    IntervalSchedule,
    MonthlySchedule,
    Retention,
    SchedulePolicySpec,
    Weekday,
    WeeklySchedule,
    WeekOfMonth,
)
from lifeboat.rules import OnError, RuleItem, RuleSet

RULE_SET: TypeAdapter[list[RuleItem]] = TypeAdapter(RuleSet)


def _policy(schedule: dict[str, Any], **retention: Any) -> SchedulePolicySpec:
    return SchedulePolicySpec.model_validate({"schedule": schedule, "retention": retention})


def _error(exc: pytest.ExceptionInfo[ValidationError]) -> tuple[str, str]:
    """The first error's dotted location and message."""
    first = exc.value.errors()[0]
    return ".".join(str(part) for part in first["loc"]), first["msg"]


def test_each_schedule_type_is_read_with_its_defaults() -> None:
    interval = _policy({"type": "interval", "every_minutes": 10080}).schedule
    assert interval == IntervalSchedule(type="interval", every_minutes=10080, timezone="UTC")

    daily = _policy({"type": "daily", "time": "00:00", "timezone": "Asia/Kolkata"}).schedule
    assert isinstance(daily, DailySchedule) and daily.timezone == "Asia/Kolkata"

    weekly = _policy({"type": "weekly", "days": ["sun", "wed"], "time": "23:59"}).schedule
    assert isinstance(weekly, WeeklySchedule)
    assert weekly.days == [Weekday.SUN, Weekday.WED] and weekly.every_other_week is False

    by_date = _policy({"type": "monthly", "day_of_month": 1, "time": "12:00"}).schedule
    assert isinstance(by_date, MonthlySchedule)
    assert by_date.day_of_month == 1 and by_date.relative_day is None

    relative = {"week": "last", "day": "fri"}
    by_weekday = _policy({"type": "monthly", "relative_day": relative, "time": "12:00"}).schedule
    assert isinstance(by_weekday, MonthlySchedule) and by_weekday.relative_day is not None
    assert by_weekday.relative_day.week == WeekOfMonth.LAST
    assert by_weekday.day_of_month is None


def test_retention_defaults_keep_seven_and_always_the_last_successful() -> None:
    retention = _policy({"type": "daily", "time": "01:00"}).retention
    assert retention == Retention(keep_last=7, keep_last_successful=True)
    assert retention.keep_daily is retention.keep_weekly is retention.keep_monthly is None
    assert retention.keep_hourly is retention.keep_yearly is None
    gfs = Retention(
        keep_last=1, keep_hourly=24, keep_daily=0, keep_weekly=4, keep_monthly=12, keep_yearly=3
    )
    assert (gfs.keep_hourly, gfs.keep_daily, gfs.keep_weekly) == (24, 0, 4)
    assert (gfs.keep_monthly, gfs.keep_yearly) == (12, 3)


def test_the_schema_explains_every_retention_count() -> None:
    fields = Retention.model_json_schema()["properties"]
    for name in (
        "keep_last", "keep_hourly", "keep_daily", "keep_weekly", "keep_monthly", "keep_yearly",
        "keep_last_successful",
    ):  # fmt: skip
        assert fields[name].get("description"), name
    assert "never deleted" in fields["keep_last_successful"]["description"]


def test_stored_json_reads_back_the_same() -> None:
    spec = _policy(
        {
            "type": "weekly",
            "days": ["mon"],
            "time": "06:30",
            "every_other_week": True,
            "timezone": "Europe/Paris",
        },
        keep_last=3,
        keep_weekly=8,
    )
    stored = spec.model_dump(mode="json")
    assert stored["schedule"]["days"] == ["mon"]
    assert SchedulePolicySpec.model_validate(stored) == spec


BAD_SCHEDULES: dict[str, tuple[dict[str, Any], str, str]] = {
    "hour 25": ({"type": "daily", "time": "25:00"}, "schedule.time", "HH:MM"),
    "minute 60": ({"type": "daily", "time": "10:60"}, "schedule.time", "HH:MM"),
    "no leading zero": ({"type": "daily", "time": "9:30"}, "schedule.time", "'9:30'"),
    "seconds": ({"type": "daily", "time": "09:30:00"}, "schedule.time", "HH:MM"),
    "unknown day": (
        {"type": "weekly", "days": ["funday"], "time": "01:00"},
        "schedule.days.0",
        "'mon', 'tue', 'wed', 'thu', 'fri', 'sat' or 'sun'",
    ),
    "no days": ({"type": "weekly", "days": [], "time": "01:00"}, "schedule.days", "at least 1"),
    "repeated day": (
        {"type": "weekly", "days": ["mon", "tue", "mon"], "time": "01:00"},
        "schedule.days",
        "list each day once (mon repeated)",
    ),
    "unknown zone": (
        {"type": "daily", "time": "01:00", "timezone": "Mars/Olympus"},
        "schedule.timezone",
        "'Mars/Olympus' is not a known IANA time zone",
    ),
    "zone as a path": (
        {"type": "daily", "time": "01:00", "timezone": "../../etc/passwd"},
        "schedule.timezone",
        "not a known IANA time zone",
    ),
    "every 0 minutes": (
        {"type": "interval", "every_minutes": 0},
        "schedule.every_minutes",
        "greater than or equal to 1",
    ),
    "over a week": (
        {"type": "interval", "every_minutes": 10081},
        "schedule.every_minutes",
        "less than or equal to 10080",
    ),
    "day 32": (
        {"type": "monthly", "day_of_month": 32, "time": "01:00"},
        "schedule.day_of_month",
        "less than or equal to 31",
    ),
    "date and weekday": (
        {
            "type": "monthly",
            "day_of_month": 1,
            "relative_day": {"week": "first", "day": "mon"},
            "time": "01:00",
        },
        "schedule.relative_day",
        "give day_of_month or relative_day, not both",
    ),
    "neither date nor weekday": (
        {"type": "monthly", "time": "01:00"},
        "schedule.relative_day",
        "give day_of_month (1 to 31) or relative_day",
    ),
    "fifth week": (
        {"type": "monthly", "relative_day": {"week": "fifth", "day": "mon"}, "time": "01:00"},
        "schedule.relative_day.week",
        "'first', 'second', 'third', 'fourth' or 'last'",
    ),
    "no type": ({"time": "01:00"}, "schedule.type", "give type: one of interval, daily"),
    "unknown type": ({"type": "yearly"}, "schedule.type", "unknown type 'yearly'"),
    "misspelt field": (
        {"type": "interval", "every_minute": 5},
        "schedule.every_minutes",
        "Field required",
    ),
    "field of another type": (
        {"type": "daily", "time": "01:00", "days": ["mon"]},
        "schedule.days",
        "Extra inputs are not permitted",
    ),
}


@pytest.mark.parametrize("case", BAD_SCHEDULES, ids=list(BAD_SCHEDULES))
def test_bad_schedule_is_refused_at_the_field_the_user_wrote(case: str) -> None:
    schedule, field, words = BAD_SCHEDULES[case]
    with pytest.raises(ValidationError) as exc:
        _policy(schedule)
    location, message = _error(exc)
    assert location == field
    assert words in message


BAD_RETENTIONS: dict[str, tuple[dict[str, Any], str, str]] = {
    "keep none": ({"keep_last": 0}, "retention.keep_last", "greater than or equal to 1"),
    "negative daily": ({"keep_daily": -1}, "retention.keep_daily", "greater than or equal to 0"),
    "negative hourly": (
        {"keep_hourly": -1},
        "retention.keep_hourly",
        "greater than or equal to 0",
    ),
    "yearly as text": ({"keep_yearly": "3"}, "retention.keep_yearly", "valid integer"),
    "drop the last successful": (
        {"keep_last_successful": False},
        "retention.keep_last_successful",
        "the last successful backup is always kept",
    ),
}


@pytest.mark.parametrize("case", BAD_RETENTIONS, ids=list(BAD_RETENTIONS))
def test_bad_retention_is_refused_at_its_field(case: str) -> None:
    retention, field, words = BAD_RETENTIONS[case]
    with pytest.raises(ValidationError) as exc:
        _policy({"type": "daily", "time": "01:00"}, **retention)
    assert _error(exc)[0] == field
    assert words in _error(exc)[1]


def _rules(**item: Any) -> list[dict[str, Any]]:
    base: dict[str, Any] = {"pod_selector": {"app": "mysql"}, "actions": [{"command": "sync"}]}
    return [{**base, **item}]


def test_rule_items_take_their_defaults() -> None:
    [item] = RULE_SET.validate_python(_rules())
    assert item.namespaces is None and item.container is None
    [action] = item.actions
    assert action.command == "sync" and action.background is False
    assert action.timeout_seconds == 60 and action.on_error == OnError.FAIL


def test_a_full_rule_item_reads_back_from_its_json() -> None:
    rules = _rules(
        pod_selector={"app.kubernetes.io/name": "mysql", "tier": ""},
        namespaces=["payments", "orders"],
        container="mysql",
        actions=[
            {
                "command": "mysql -e 'FLUSH TABLES WITH READ LOCK; SELECT SLEEP(600)'",
                "background": True,
                "timeout_seconds": 3600,
                "on_error": "continue",
            }
        ],
    )
    parsed = RULE_SET.validate_python(rules)
    stored = RULE_SET.dump_python(parsed, mode="json")
    assert stored == rules
    assert RULE_SET.validate_python(stored) == parsed


BAD_RULES: dict[str, tuple[list[dict[str, Any]], str, str]] = {
    "no items": ([], "", "at least 1 item"),
    "no actions": (_rules(actions=[]), "0.actions", "at least 1 item"),
    "empty selector": (_rules(pod_selector={}), "0.pod_selector", "at least 1 item"),
    "bad label key": (
        _rules(pod_selector={"-app": "x"}),
        "0.pod_selector",
        "'-app' is not a Kubernetes label key",
    ),
    "bad label value": (
        _rules(pod_selector={"app": "my app"}),
        "0.pod_selector",
        "'my app' (for 'app') is not a Kubernetes label value",
    ),
    "empty namespace list": (_rules(namespaces=[]), "0.namespaces", "at least 1 item"),
    "bad namespace": (
        _rules(namespaces=["Payments"]),
        "0.namespaces.0",
        "'Payments' is not a Kubernetes name",
    ),
    "bad container": (_rules(container="db_1"), "0.container", "not a Kubernetes name"),
    "empty command": (
        _rules(actions=[{"command": "  "}]),
        "0.actions.0.command",
        "give the command to run",
    ),
    "no command": (_rules(actions=[{}]), "0.actions.0.command", "Field required"),
    "timeout 0": (
        _rules(actions=[{"command": "x", "timeout_seconds": 0}]),
        "0.actions.0.timeout_seconds",
        "greater than or equal to 1",
    ),
    "timeout over an hour": (
        _rules(actions=[{"command": "x", "timeout_seconds": 3601}]),
        "0.actions.0.timeout_seconds",
        "less than or equal to 3600",
    ),
    "on_error maybe": (
        _rules(actions=[{"command": "x", "on_error": "maybe"}]),
        "0.actions.0.on_error",
        "'fail' or 'continue'",
    ),
    "misspelt field": (
        _rules(actions=[{"command": "x", "timeout": 5}]),
        "0.actions.0.timeout",
        "Extra inputs are not permitted",
    ),
}


@pytest.mark.parametrize("case", BAD_RULES, ids=list(BAD_RULES))
def test_bad_rule_is_refused_at_its_field(case: str) -> None:
    rules, field, words = BAD_RULES[case]
    with pytest.raises(ValidationError) as exc:
        RULE_SET.validate_python(rules)
    location, message = _error(exc)
    assert location == field
    assert words in message
