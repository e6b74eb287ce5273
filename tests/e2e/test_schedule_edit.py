"""Editing a backup schedule on the real stack: its Temporal Schedule follows (calendar and run
arguments), its uid and backups stay, a bad edit changes nothing; deleting it with its backups
removes them and their data in the bucket."""

from __future__ import annotations

import json
import time
import uuid

import httpx
from minio import Minio
from temporalio.api.common.v1 import Payload

from deploy.local.stack import Stack
from tests.api.helpers import unique
from tests.conftest import Users
from tests.e2e.conftest import Kube
from tests.e2e.test_schedules import _backups_of, _described, _policy, _schedule, _until


def _daily_policy(api: httpx.Client, hour: int, minute: int) -> str:
    response = api.post("/api/v1/schedule-policies", json={
        "name": unique("daily"),
        "schedule": {"type": "daily", "time": f"{hour:02d}:{minute:02d}", "timezone": "UTC"},
        "retention": {"keep_last": 5},
    })  # fmt: skip
    assert response.status_code == 201, response.text
    uid: str = response.json()["uid"]
    return uid


def _archived(stack: Stack, bucket: str, backup_uids: list[str]) -> list[str]:
    s3 = Minio(stack.s3_endpoint.removeprefix("http://"), stack.s3_access_key,
               stack.s3_secret_key, secure=False)  # fmt: skip
    return [
        str(o.object_name)
        for o in s3.list_objects(bucket, recursive=True)
        if any(uid in str(o.object_name) for uid in backup_uids)
    ]


def test_an_edit_reaches_the_temporal_schedule_and_keeps_uid_and_backups(
    as_user: Users, target: dict[str, str], kube: Kube, stack: Stack
) -> None:
    api = as_user("infraadmin")
    schedule = _schedule(api, target, kube, _policy(api))
    uid = schedule["uid"]
    assert api.post(f"/api/v1/backup-schedules/{uid}/suspend").status_code == 200
    api.post(f"/api/v1/backup-schedules/{uid}/run-now")
    made = _until(
        lambda: [b for b in _backups_of(api, schedule) if b["status"] == "Success"],
        120,
        "the schedule's backup",
    )
    assert _described(stack, schedule).schedule.spec.intervals, "an every-minute interval"

    # A bad edit is refused naming the field, and changes nothing.
    backup = {"cluster_uid": target["cluster"], "location_uid": target["location"]}
    refused = api.patch(f"/api/v1/backup-schedules/{uid}", json={"backup": backup})
    assert refused.status_code == 422, refused.text
    assert refused.json()["error"]["field"] == "namespaces"
    unknown = api.patch(f"/api/v1/backup-schedules/{uid}", json={"policy_uid": str(uuid.uuid4())})
    assert unknown.status_code == 404, unknown.text
    assert api.get(f"/api/v1/backup-schedules/{uid}").json()["spec"] == schedule["spec"]

    namespace = unique("moved")
    kube.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
    daily = _daily_policy(api, 3, 17)
    edited = api.patch(f"/api/v1/backup-schedules/{uid}", json={
        "policy_uid": daily, "labels": {"team": "shop"},
        "backup": {**backup, "namespaces": [namespace], "label_selector": "app=shop"},
    })  # fmt: skip
    assert edited.status_code == 200, edited.text
    read = edited.json()
    assert (read["uid"], read["name"], read["policy_uid"]) == (uid, schedule["name"], daily)
    assert read["spec"]["namespaces"] == [namespace]
    assert read["spec"]["label_selector"] == "app=shop" and read["labels"] == {"team": "shop"}
    assert read["policy_update_error"] == "" and read["suspended"] is True
    assert read["next_runs"] and all(t.endswith("03:17:00Z") for t in read["next_runs"]), read

    # Temporal has the new calendar and the run arguments that go with it; the pause stays.
    described = _described(stack, schedule)
    [calendar] = described.schedule.spec.calendars
    assert (calendar.hour[0].start, calendar.minute[0].start) == (3, 17)
    assert not described.schedule.spec.intervals
    assert described.schedule.state.paused
    [argument] = described.schedule.action.args  # type: ignore[attr-defined]
    assert isinstance(argument, Payload)
    run_input = json.loads(argument.data)
    assert run_input["schedule_uid"] == uid
    assert json.loads(run_input["schedule"])["type"] == "daily"
    # Its backups are still its own, and its next run backs up the edited namespaces.
    assert {b["uid"] for b in made} <= {b["uid"] for b in _backups_of(api, schedule)}
    api.post(f"/api/v1/backup-schedules/{uid}/run-now")
    newer = _until(
        lambda: [
            b
            for b in _backups_of(api, schedule)
            if b["uid"] not in {m["uid"] for m in made} and b["status"] == "Success"
        ],
        120,
        "a backup of the edited schedule",
    )
    detail = api.get(f"/api/v1/backups/{newer[0]['uid']}").json()
    assert {r["namespace"] for r in detail["resources"]} <= {namespace, None}, detail["resources"]

    # Deleted with its backups: they go through the backup deletion, data in the bucket too.
    backups = [b["uid"] for b in _backups_of(api, schedule)]
    assert _archived(stack, target["bucket"], backups)
    deleted = api.delete(f"/api/v1/backup-schedules/{uid}", params={"backups": "delete"})
    assert deleted.status_code == 204, deleted.text
    assert api.get(f"/api/v1/backup-schedules/{uid}").status_code == 404
    deadline = time.monotonic() + 120
    while any(api.get(f"/api/v1/backups/{b}").status_code != 404 for b in backups):
        assert time.monotonic() < deadline, "the schedule's backups were not deleted"
        time.sleep(0.5)
    assert _archived(stack, target["bucket"], backups) == []
