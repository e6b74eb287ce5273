"""Schedule policies and pre/post-exec rules through the API, on the real stack."""

from __future__ import annotations

import copy
from typing import Any

import httpx
import pytest
from sqlalchemy import delete
from sqlalchemy.orm import Session, sessionmaker

from lifeboat.catalog.models import BackupSchedule, Cluster, Share
from tests.api.helpers import unique
from tests.conftest import Users

POLICIES = "/api/v1/schedule-policies"
RULES = "/api/v1/rules"

SCHEDULES: dict[str, dict[str, Any]] = {
    "interval": {"type": "interval", "every_minutes": 30},
    "daily": {"type": "daily", "time": "02:30", "timezone": "Europe/Paris"},
    "weekly": {"type": "weekly", "days": ["mon", "thu"], "time": "23:00", "every_other_week": True},
    "monthly by date": {"type": "monthly", "day_of_month": 31, "time": "01:15"},
    "monthly by weekday": {
        "type": "monthly",
        "relative_day": {"week": "last", "day": "fri"},
        "time": "04:00",
        "timezone": "America/New_York",
    },
}
DEFAULT_RETENTION = {
    "keep_last": 7,
    "keep_hourly": None,
    "keep_daily": None,
    "keep_weekly": None,
    "keep_monthly": None,
    "keep_yearly": None,
    "keep_last_successful": True,
}
RULE_ITEMS: list[dict[str, Any]] = [
    {
        "pod_selector": {"app": "postgres"},
        "namespaces": ["payments"],
        "container": "db",
        "actions": [
            {"command": "psql -c 'CHECKPOINT'"},
            {
                "command": "psql -c 'SELECT pg_backup_start(1)'; sleep 600",
                "background": True,
                "timeout_seconds": 600,
                "on_error": "continue",
            },
        ],
    }
]


def _created(api: httpx.Client, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = api.post(path, json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def _policy(api: httpx.Client, name: str | None = None) -> dict[str, Any]:
    body = {"name": name or unique("policy"), "schedule": SCHEDULES["daily"]}
    return _created(api, POLICIES, body)


def _rule(api: httpx.Client, name: str | None = None) -> dict[str, Any]:
    return _created(api, RULES, {"name": name or unique("rule"), "rules": RULE_ITEMS})


def _listed(api: httpx.Client, path: str) -> dict[str, dict[str, Any]]:
    response = api.get(path)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["count"] == len(body["items"])
    return {item["uid"]: item for item in body["items"]}


@pytest.mark.parametrize("kind", SCHEDULES, ids=list(SCHEDULES))
def test_schedule_policy_of_each_type_is_created_listed_replaced_and_deleted(
    as_user: Users, kind: str
) -> None:
    api = as_user("infraadmin")
    name = unique("nightly")
    policy = _created(
        api,
        POLICIES,
        {"name": name, "labels": {"team": "payments"}, "schedule": SCHEDULES[kind]},
    )
    assert policy["name"] == name and policy["labels"] == {"team": "payments"}
    assert policy["owner_id"]
    assert policy["schedule"]["type"] == SCHEDULES[kind]["type"]
    assert policy["schedule"]["timezone"] == SCHEDULES[kind].get("timezone", "UTC")
    for field, value in SCHEDULES[kind].items():
        assert policy["schedule"][field] == value
    assert policy["retention"] == DEFAULT_RETENTION

    assert _listed(api, POLICIES)[policy["uid"]] == policy
    assert api.get(f"{POLICIES}/{policy['uid']}").json() == policy

    retention = {
        "keep_last": 3, "keep_hourly": 24, "keep_daily": 7, "keep_weekly": 4,
        "keep_monthly": 12, "keep_yearly": 2,
    }  # fmt: skip
    replacement = {
        "name": unique("hourly"),
        "schedule": {"type": "interval", "every_minutes": 60},
        "retention": retention,
    }
    response = api.put(f"{POLICIES}/{policy['uid']}", json=replacement)
    assert response.status_code == 200, response.text
    replaced = response.json()
    assert replaced["uid"] == policy["uid"] and replaced["created_at"] == policy["created_at"]
    assert replaced["name"] == replacement["name"] and replaced["labels"] == {}
    assert replaced["schedule"] == {"type": "interval", "every_minutes": 60, "timezone": "UTC"}
    assert replaced["retention"] == {**retention, "keep_last_successful": True}
    assert api.get(f"{POLICIES}/{policy['uid']}").json() == replaced

    assert api.delete(f"{POLICIES}/{policy['uid']}").status_code == 204
    assert api.get(f"{POLICIES}/{policy['uid']}").status_code == 404
    assert policy["uid"] not in _listed(api, POLICIES)
    assert api.delete(f"{POLICIES}/{policy['uid']}").status_code == 404


def test_rule_set_is_created_listed_replaced_and_deleted(as_user: Users) -> None:
    api = as_user("appadmin")
    rule = _rule(api)
    assert rule["rules"][0]["pod_selector"] == {"app": "postgres"}
    first, background = rule["rules"][0]["actions"]
    assert first == {
        "command": "psql -c 'CHECKPOINT'",
        "background": False,
        "timeout_seconds": 60,
        "on_error": "fail",
    }
    assert background["background"] is True and background["on_error"] == "continue"
    assert _listed(api, RULES)[rule["uid"]] == rule
    assert api.get(f"{RULES}/{rule['uid']}").json() == rule

    items = [{"pod_selector": {"app": "redis"}, "actions": [{"command": "redis-cli save"}]}]
    response = api.put(
        f"{RULES}/{rule['uid']}", json={"name": rule["name"], "labels": {"a": "b"}, "rules": items}
    )
    assert response.status_code == 200, response.text
    replaced = response.json()
    assert replaced["labels"] == {"a": "b"}
    assert replaced["rules"] == [
        {
            "pod_selector": {"app": "redis"},
            "namespaces": None,
            "container": None,
            "actions": [
                {
                    "command": "redis-cli save",
                    "background": False,
                    "timeout_seconds": 60,
                    "on_error": "fail",
                }
            ],
        }
    ]
    assert api.get(f"{RULES}/{rule['uid']}").json() == replaced

    assert api.delete(f"{RULES}/{rule['uid']}").status_code == 204
    assert api.get(f"{RULES}/{rule['uid']}").status_code == 404
    assert rule["uid"] not in _listed(api, RULES)


def _with(base: dict[str, Any], path: tuple[str | int, ...], value: Any) -> dict[str, Any]:
    changed = copy.deepcopy(base)
    target: Any = changed
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return changed


DAILY = {"schedule": SCHEDULES["daily"]}
WEEKLY = {"schedule": SCHEDULES["weekly"]}
MONTHLY = {"schedule": SCHEDULES["monthly by date"]}
RULE = {"rules": RULE_ITEMS}
SPEC: dict[str, dict[str, Any]] = {POLICIES: DAILY, RULES: RULE}

# case: (collection, body without name, field reported, words in the message)
BAD_INPUTS: dict[str, tuple[str, dict[str, Any], str, str]] = {
    "time 25:00": (
        POLICIES,
        _with(DAILY, ("schedule", "time"), "25:00"),
        "schedule.time",
        "HH:MM",
    ),
    "unknown day": (
        POLICIES,
        _with(WEEKLY, ("schedule", "days"), ["mon", "funday"]),
        "schedule.days.1",
        "'mon'",
    ),
    "unknown time zone": (
        POLICIES,
        _with(DAILY, ("schedule", "timezone"), "Mars/Olympus"),
        "schedule.timezone",
        "'Mars/Olympus' is not a known IANA time zone",
    ),
    "unknown type": (
        POLICIES,
        _with(DAILY, ("schedule", "type"), "hourly"),
        "schedule.type",
        "unknown type 'hourly'",
    ),
    "keep_last 0": (
        POLICIES,
        {**DAILY, "retention": {"keep_last": 0}},
        "retention.keep_last",
        "greater than or equal to 1",
    ),
    "keep_last_successful false": (
        POLICIES,
        {**DAILY, "retention": {"keep_last_successful": False}},
        "retention.keep_last_successful",
        "last successful backup is always kept",
    ),
    "date and weekday": (
        POLICIES,
        _with(MONTHLY, ("schedule", "relative_day"), {"week": "first", "day": "mon"}),
        "schedule.relative_day",
        "not both",
    ),
    "empty actions": (
        RULES,
        _with(RULE, ("rules", 0, "actions"), []),
        "rules.0.actions",
        "at least 1 item",
    ),
    "timeout 0": (
        RULES,
        _with(RULE, ("rules", 0, "actions", 0, "timeout_seconds"), 0),
        "rules.0.actions.0.timeout_seconds",
        "greater than or equal to 1",
    ),
    "on_error maybe": (
        RULES,
        _with(RULE, ("rules", 0, "actions", 1, "on_error"), "maybe"),
        "rules.0.actions.1.on_error",
        "'fail' or 'continue'",
    ),
    "empty selector": (
        RULES,
        _with(RULE, ("rules", 0, "pod_selector"), {}),
        "rules.0.pod_selector",
        "at least 1 item",
    ),
}


@pytest.mark.parametrize("case", BAD_INPUTS, ids=list(BAD_INPUTS))
def test_bad_input_is_refused_naming_the_field_and_nothing_is_stored(
    as_user: Users, case: str
) -> None:
    api = as_user("infraadmin")
    collection, body, field, words = BAD_INPUTS[case]
    before = _listed(api, collection)
    name = unique("bad")
    response = api.post(collection, json={"name": name, **body})
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["field"] == field
    assert words in error["message"]
    after = _listed(api, collection)
    assert name not in {item["name"] for item in after.values()}
    assert after.keys() == before.keys()


def test_bad_replacement_leaves_the_object_as_it_was(as_user: Users) -> None:
    api = as_user("infraadmin")
    policy = _policy(api)
    bad = {"name": policy["name"], "schedule": {"type": "daily", "time": "24:00"}}
    response = api.put(f"{POLICIES}/{policy['uid']}", json=bad)
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "schedule.time"
    assert api.get(f"{POLICIES}/{policy['uid']}").json() == policy

    rule = _rule(api)
    bad = {"name": rule["name"], "rules": [{"pod_selector": {"app": "x"}, "actions": []}]}
    response = api.put(f"{RULES}/{rule['uid']}", json=bad)
    assert response.status_code == 422
    assert api.get(f"{RULES}/{rule['uid']}").json() == rule


def test_objects_are_private_to_their_owner_unless_shared(as_user: Users) -> None:
    owner, other = as_user("infraadmin"), as_user("appadmin")
    for collection, obj in ((POLICIES, _policy(owner)), (RULES, _rule(owner))):
        path = f"{collection}/{obj['uid']}"
        assert other.get(path).status_code == 404
        assert other.put(path, json={"name": "mine-now", **SPEC[collection]}).status_code == 404
        assert other.delete(path).status_code == 404
        assert obj["uid"] not in _listed(other, collection)
        assert owner.get(path).json() == obj


def test_shared_for_view_is_visible_but_not_editable(
    as_user: Users, catalog: sessionmaker[Session]
) -> None:
    owner, viewer = as_user("infraadmin"), as_user("appadmin")
    viewer_id = _policy(viewer)["owner_id"]
    for kind, collection, obj, body in (
        ("schedule-policies", POLICIES, _policy(owner), DAILY),
        ("rules", RULES, _rule(owner), RULE),
    ):
        with catalog() as session:
            session.add(
                Share(
                    name=f"{kind}/{obj['uid']}/user/{viewer_id}",
                    owner_id=obj["owner_id"],
                    object_kind=kind,
                    object_uid=obj["uid"],
                    subject_kind="user",
                    subject=viewer_id,
                    access="view",
                )
            )
            session.commit()
        path = f"{collection}/{obj['uid']}"
        assert viewer.get(path).json() == obj
        assert obj["uid"] in _listed(viewer, collection)
        assert viewer.put(path, json={"name": unique("x"), **body}).status_code == 403
        assert viewer.delete(path).status_code == 403
        assert owner.get(path).json() == obj


@pytest.mark.parametrize("collection", [POLICIES, RULES])
def test_app_user_cannot_create_but_can_list(as_user: Users, collection: str) -> None:
    api = as_user("appuser")
    name = unique("nope")
    response = api.post(collection, json={"name": name, **SPEC[collection]})
    assert response.status_code == 403
    assert "do not allow you to create" in response.json()["error"]["message"]
    assert name not in {item["name"] for item in _listed(api, collection).values()}


def test_a_user_without_a_role_cannot_list(as_user: Users) -> None:
    for collection in (POLICIES, RULES):
        assert as_user("nobody").get(collection).status_code == 403


@pytest.mark.parametrize("collection", [POLICIES, RULES])
def test_names_are_unique_per_owner(as_user: Users, collection: str) -> None:
    make = _policy if collection == POLICIES else _rule
    infra, app = as_user("infraadmin"), as_user("appadmin")
    name = unique("shared-name")
    mine = make(infra, name)
    body = {"name": name, **SPEC[collection]}
    again = infra.post(collection, json=body)
    assert again.status_code == 409, again.text
    assert again.json()["error"]["field"] == "name"

    theirs = make(app, name)
    assert theirs["uid"] != mine["uid"] and theirs["name"] == mine["name"]
    assert theirs["owner_id"] != mine["owner_id"]


@pytest.mark.parametrize("collection", [POLICIES, RULES])
def test_renaming_onto_a_taken_name_is_refused_and_changes_nothing(
    as_user: Users, collection: str
) -> None:
    make = _policy if collection == POLICIES else _rule
    api = as_user("infraadmin")
    taken, other = make(api), make(api)
    body = {"name": taken["name"], **SPEC[collection]}
    response = api.put(f"{collection}/{other['uid']}", json=body)
    assert response.status_code == 409
    assert response.json()["error"]["field"] == "name"
    assert api.get(f"{collection}/{other['uid']}").json() == other


def test_policy_used_by_a_backup_schedule_cannot_be_deleted(
    as_user: Users, catalog: sessionmaker[Session]
) -> None:
    api = as_user("infraadmin")
    policy = _policy(api)
    with catalog() as session:
        cluster = Cluster(
            name=unique("c"),
            owner_id=policy["owner_id"],
            server_url="https://127.0.0.1:6443",
            kubeconfig_ciphertext=b"unused",
        )
        session.add(cluster)
        session.flush()
        schedule = BackupSchedule(
            name=unique("s"),
            owner_id=policy["owner_id"],
            policy_uid=policy["uid"],
            cluster_uid=cluster.uid,
        )
        session.add(schedule)
        session.commit()
        try:
            response = api.delete(f"{POLICIES}/{policy['uid']}")
            assert response.status_code == 409
            assert "used by 1 backup schedule" in response.json()["error"]["message"]
            assert api.get(f"{POLICIES}/{policy['uid']}").status_code == 200
        finally:
            session.execute(delete(BackupSchedule).where(BackupSchedule.uid == schedule.uid))
            session.execute(delete(Cluster).where(Cluster.uid == cluster.uid))
            session.commit()
    assert api.delete(f"{POLICIES}/{policy['uid']}").status_code == 204
