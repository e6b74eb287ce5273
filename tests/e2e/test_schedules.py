"""Backup schedules on the real dev server: runs, names, suspend/resume, retention, deletion,
policy edits reaching the Temporal Schedules, and runs that came due without a backup."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client, ScheduleDescription

from deploy.local.servers.oidc import OidcProvider
from deploy.local.stack import Stack
from lifeboat.catalog.models import SchedulePolicy
from tests.api.helpers import platform_users, unique
from tests.conftest import Users
from tests.e2e.conftest import Kube

T = TypeVar("T")

NAME = re.compile(r"^(?P<schedule>.+)-(?P<stamp>\d{14})$")


def _policy(api: httpx.Client, **retention: int) -> str:
    response = api.post("/api/v1/schedule-policies", json={
        "name": unique("every-minute"),
        "schedule": {"type": "interval", "every_minutes": 1},
        "retention": {"keep_last": 5, **retention},
    })  # fmt: skip
    assert response.status_code == 201, response.text
    uid: str = response.json()["uid"]
    return uid


def _schedule(api: httpx.Client, target: dict[str, str], kube: Kube, policy: str) -> dict[str, Any]:
    namespace = unique("nightly")
    kube.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
    response = api.post("/api/v1/backup-schedules", json={
        "name": unique("sched"), "policy_uid": policy,
        "backup": {"cluster_uid": target["cluster"], "location_uid": target["location"],
                   "namespaces": [namespace]},
    })  # fmt: skip
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def _backups_of(api: httpx.Client, schedule: dict[str, Any]) -> list[dict[str, Any]]:
    items = api.get("/api/v1/backups").json()["items"]
    return [b for b in items if b["schedule_uid"] == schedule["uid"]]


def _until(check: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(1)


@pytest.mark.slow
def test_a_one_minute_schedule_runs_twice_and_makes_two_named_backups(
    as_user: Users, target: dict[str, str], kube: Kube
) -> None:
    api = as_user("infraadmin")
    schedule = _schedule(api, target, kube, _policy(api))
    assert schedule["next_runs"], "the Temporal Schedule says when it runs next"

    def two_done() -> list[dict[str, Any]] | None:
        done = [b for b in _backups_of(api, schedule) if b["status"] == "Success"]
        return done if len(done) >= 2 else None

    backups = _until(two_done, 200, "two scheduled backups")
    for backup in backups:
        match = NAME.match(backup["name"])
        assert match and match["schedule"] == schedule["name"], backup["name"]

    paused = api.post(f"/api/v1/backup-schedules/{schedule['uid']}/suspend").json()
    assert paused["suspended"] is True
    assert (
        api.post(f"/api/v1/backup-schedules/{schedule['uid']}/resume").json()["suspended"] is False
    )

    unknown = api.delete(f"/api/v1/backup-schedules/{schedule['uid']}", params={"backups": "x"})
    assert unknown.status_code == 422
    kept = api.delete(f"/api/v1/backup-schedules/{schedule['uid']}")  # keeps them by default
    assert kept.status_code == 204
    remaining = {b["uid"] for b in api.get("/api/v1/backups").json()["items"]}
    assert {b["uid"] for b in backups} <= remaining


@pytest.mark.slow
def test_retention_keeps_what_the_policy_says(
    as_user: Users, target: dict[str, str], kube: Kube
) -> None:
    api = as_user("infraadmin")
    schedule = _schedule(api, target, kube, _policy(api, keep_last=1))
    api.post(f"/api/v1/backup-schedules/{schedule['uid']}/suspend")
    uid = schedule["uid"]

    def successes() -> list[dict[str, Any]]:
        return [b for b in _backups_of(api, schedule) if b["status"] == "Success"]

    api.post(f"/api/v1/backup-schedules/{uid}/run-now")
    first = _until(successes, 60, "the first run")[0]
    time.sleep(1.1)  # the next run's name has a later second
    api.post(f"/api/v1/backup-schedules/{uid}/run-now")

    def only_newer() -> bool:
        kept = successes()
        return len(kept) == 1 and kept[0]["uid"] != first["uid"]

    _until(only_newer, 90, "retention to delete the older backup")
    made = [b["uid"] for b in _backups_of(api, schedule)]
    deleted = api.delete(f"/api/v1/backup-schedules/{uid}", params={"backups": "delete"})
    assert deleted.status_code == 204

    def all_gone() -> bool:
        return all(api.get(f"/api/v1/backups/{b}").status_code == 404 for b in made)

    _until(all_gone, 60, "the schedule's backups to be deleted")


def _temporal(stack: Stack, work: Callable[[Client], Awaitable[T]]) -> T:
    """Ask the dev stack's Temporal server directly, as an operator would."""

    async def run() -> T:
        return await work(await Client.connect(stack.temporal_address))

    return asyncio.run(run())


def _described(stack: Stack, schedule: dict[str, Any]) -> ScheduleDescription:
    handle_id = f"backup-schedule-{schedule['uid']}"
    return _temporal(stack, lambda client: client.get_schedule_handle(handle_id).describe())


def _minute_after(seconds: int) -> datetime:
    """The first whole minute at least `seconds` from now (UTC)."""
    at = datetime.now(UTC) + timedelta(seconds=seconds)
    return at.replace(second=0, microsecond=0) + timedelta(minutes=1)


def _daily(at: datetime) -> dict[str, Any]:
    return {"type": "daily", "time": f"{at:%H:%M}", "timezone": "UTC"}


def _daily_policy(api: httpx.Client, at: datetime) -> dict[str, Any]:
    body = {"name": unique("daily"), "schedule": _daily(at), "retention": {"keep_last": 5}}
    response = api.post("/api/v1/schedule-policies", json=body)
    assert response.status_code == 201, response.text
    return {**body, "uid": response.json()["uid"]}


def _read(api: httpx.Client, schedule: dict[str, Any]) -> dict[str, Any]:
    response = api.get(f"/api/v1/backup-schedules/{schedule['uid']}")
    assert response.status_code == 200, response.text
    read: dict[str, Any] = response.json()
    return read


def _successes(api: httpx.Client, schedule: dict[str, Any]) -> list[dict[str, Any]]:
    return [b for b in _backups_of(api, schedule) if b["status"] == "Success"]


@dataclass(frozen=True)
class DueSoon:
    """Schedules set up together, whose runs come due at the same minute `at`: each test
    below waits for its own, so the waits overlap instead of adding up."""

    at: datetime
    # A daily policy moved (through the API) from six hours on to `at`, and its schedule.
    edited_policy: dict[str, Any]
    edited: dict[str, Any]
    # A schedule firing at `at`, whose policy changed in the catalog since Temporal got it.
    changed_since: dict[str, Any]
    # An every-minute schedule paused in Temporal (an operator in the Temporal UI, say).
    paused: dict[str, Any]


@pytest.fixture(scope="module")
def due_soon(
    as_user: Users,
    target: dict[str, str],
    kube: Kube,
    stack: Stack,
    catalog: sessionmaker[Session],
) -> DueSoon:
    api = as_user("infraadmin")
    soon = _minute_after(90)

    later = datetime.now(UTC) + timedelta(hours=6)
    edited_policy = _daily_policy(api, later)
    edited = _schedule(api, target, kube, edited_policy["uid"])
    first = datetime.fromisoformat(edited["next_runs"][0])
    assert first == later.replace(second=0, microsecond=0), edited["next_runs"]
    body = {k: v for k, v in edited_policy.items() if k != "uid"} | {"schedule": _daily(soon)}
    response = api.put(f"/api/v1/schedule-policies/{edited_policy['uid']}", json=body)
    assert response.status_code == 200, response.text

    changing = _daily_policy(api, soon)
    changed_since = _schedule(api, target, kube, changing["uid"])
    # The policy changes in the catalog while Temporal still has the calendar that fires at
    # `soon`: the moment of every edit before its update reaches Temporal, and for as long as
    # an update fails. The run Temporal makes then is a real one and backs up.
    with catalog.begin() as session:
        row = session.get(SchedulePolicy, changing["uid"])
        assert row is not None
        row.schedule = _daily(soon + timedelta(hours=6))

    paused = _schedule(api, target, kube, _policy(api))
    assert (paused["status"], paused["missed"]) == ("Active", False), paused
    handle_id = f"backup-schedule-{paused['uid']}"
    _temporal(stack, lambda client: client.get_schedule_handle(handle_id).pause(note="held by ops"))
    return DueSoon(soon, edited_policy, edited, changed_since, paused)


def _wait_until(at: datetime) -> float:
    """Seconds to wait for a run due at `at` to have made its backup, with room to spare."""
    return (at - datetime.now(UTC)).total_seconds() + 180


@pytest.mark.slow
def test_a_policy_edit_gives_its_schedules_the_new_calendar_and_the_run_then_due_backs_up(
    as_user: Users, due_soon: DueSoon, stack: Stack
) -> None:
    api, schedule, soon = as_user("infraadmin"), due_soon.edited, due_soon.at
    # The Temporal Schedule has the new calendar, and the API says when it runs next.
    calendar = _described(stack, schedule).schedule.spec.calendars[0]
    assert (calendar.hour[0].start, calendar.minute[0].start) == (soon.hour, soon.minute)
    read = _read(api, schedule)
    assert datetime.fromisoformat(read["next_runs"][0]) == soon, read["next_runs"]
    assert read["policy_update_error"] == ""
    assert read["status"] == "Active", read["status_reason"]

    # The run then due is made: not skipped as a time the policy no longer has.
    made = _until(lambda: _successes(api, schedule), _wait_until(soon), "the run at its new time")
    assert made[0]["name"] == f"{schedule['name']}-{soon:%Y%m%d%H%M%S}"
    read = _read(api, schedule)
    assert read["last_backup_at"] is not None and read["missed"] is False, read
    kept = api.delete(f"/api/v1/backup-schedules/{schedule['uid']}", params={"backups": "keep"})
    assert kept.status_code == 204


@pytest.mark.slow
def test_a_run_is_checked_against_the_calendar_that_fired_it_not_a_policy_changed_since(
    as_user: Users, due_soon: DueSoon
) -> None:
    api, schedule, soon = as_user("infraadmin"), due_soon.changed_since, due_soon.at
    made = _until(lambda: _successes(api, schedule), _wait_until(soon), "the run Temporal fired")
    assert made[0]["name"] == f"{schedule['name']}-{soon:%Y%m%d%H%M%S}"
    kept = api.delete(f"/api/v1/backup-schedules/{schedule['uid']}", params={"backups": "keep"})
    assert kept.status_code == 204


@pytest.mark.slow
def test_a_schedule_whose_due_run_made_no_backup_reads_overdue_saying_why(
    as_user: Users, due_soon: DueSoon, stack: Stack
) -> None:
    api, schedule = as_user("infraadmin"), due_soon.paused

    def overdue() -> dict[str, Any] | None:
        read = _read(api, schedule)
        return read if read["status"] == "Overdue" else None

    read = _until(overdue, 240, "the schedule to read Overdue")
    assert read["missed"] is True and read["last_due_at"], read
    due = datetime.fromisoformat(read["last_due_at"])
    assert read["last_backup_at"] is None or datetime.fromisoformat(read["last_backup_at"]) < due
    assert "no backup was made for the run due at" in read["status_reason"]
    assert "paused in Temporal (held by ops)" in read["status_reason"]
    listed = api.get("/api/v1/backup-schedules").json()["items"]
    assert [s["status"] for s in listed if s["uid"] == schedule["uid"]] == ["Overdue"]

    # Suspend and resume: it runs again, and owes nothing for the time it did not run.
    api.post(f"/api/v1/backup-schedules/{schedule['uid']}/suspend")
    resumed = api.post(f"/api/v1/backup-schedules/{schedule['uid']}/resume").json()
    assert (resumed["status"], resumed["missed"]) == ("Active", False), resumed
    assert not _described(stack, schedule).schedule.state.paused
    _until(lambda: _successes(api, schedule), 200, "a run after the resume")
    kept = api.delete(f"/api/v1/backup-schedules/{schedule['uid']}", params={"backups": "keep"})
    assert kept.status_code == 204


def test_a_schedule_its_policy_edit_did_not_reach_says_why_and_keeps_its_calendar(
    as_user: Users,
    provider: OidcProvider,
    target: dict[str, str],
    kube: Kube,
    stack: Stack,
    tmp_path: Path,
) -> None:
    api = as_user("infraadmin")
    later = datetime.now(UTC) + timedelta(hours=6)
    policy = _daily_policy(api, later)
    schedule = _schedule(api, target, kube, policy["uid"])
    body = {k: v for k, v in policy.items() if k != "uid"}
    edit = body | {"schedule": _daily(later + timedelta(hours=1))}

    # Saved through an api whose Temporal namespace does not exist: the policy changes, the
    # update of the Temporal Schedule fails, and the schedule records why.
    broken = {"LIFEBOAT_TEMPORAL_NAMESPACE": "no-such-namespace"}
    with platform_users(stack, provider, tmp_path, broken, worker=False) as elsewhere:
        edited = elsewhere("infraadmin").put(
            f"/api/v1/schedule-policies/{policy['uid']}", json=edit
        )
    assert edited.status_code == 200, edited.text
    read = _read(api, schedule)
    error = read["policy_update_error"]
    assert f"Temporal Schedule backup-schedule-{schedule['uid']} could not be updated" in error
    assert "still runs on the previous calendar; save the policy again to retry" in error
    assert error in read["status_reason"]
    first = datetime.fromisoformat(read["next_runs"][0])
    assert first == later.replace(second=0, microsecond=0), read["next_runs"]

    # Saved again where Temporal answers: the schedule follows, and the error is gone.
    again = api.put(f"/api/v1/schedule-policies/{policy['uid']}", json=edit)
    assert again.status_code == 200, again.text
    read = _read(api, schedule)
    assert (read["policy_update_error"], read["status_reason"]) == ("", ""), read
    expected = (later + timedelta(hours=1)).replace(second=0, microsecond=0)
    assert datetime.fromisoformat(read["next_runs"][0]) == expected, read["next_runs"]

    # A Temporal Schedule removed by hand is reported, and made again by the next save.
    handle_id = f"backup-schedule-{schedule['uid']}"
    _temporal(stack, lambda client: client.get_schedule_handle(handle_id).delete())
    assert "is missing, so no run starts" in _read(api, schedule)["status_reason"]
    assert api.put(f"/api/v1/schedule-policies/{policy['uid']}", json=body).status_code == 200
    read = _read(api, schedule)
    assert read["status_reason"] == "" and read["next_runs"], read
    kept = api.delete(f"/api/v1/backup-schedules/{schedule['uid']}", params={"backups": "keep"})
    assert kept.status_code == 204
