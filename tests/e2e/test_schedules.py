"""Backup schedules on the real dev server: runs, names, suspend/resume, retention, deletion."""

from __future__ import annotations

import re
import time
from typing import Any

import httpx

from tests.api.helpers import unique
from tests.conftest import Users
from tests.e2e.conftest import Kube

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

    assert api.delete(f"/api/v1/backup-schedules/{schedule['uid']}").status_code == 422
    kept = api.delete(f"/api/v1/backup-schedules/{schedule['uid']}", params={"backups": "keep"})
    assert kept.status_code == 204
    remaining = {b["uid"] for b in api.get("/api/v1/backups").json()["items"]}
    assert {b["uid"] for b in backups} <= remaining


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
