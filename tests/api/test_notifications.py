"""Notification receivers and subscriptions through the API, on the real stack: who may see and
use them, what bad input is told, and that secrets are never shown nor stored in the clear."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from lifeboat.catalog.models import NotificationReceiver
from tests.api.helpers import unique
from tests.conftest import Users

RECEIVERS = "/api/v1/notification-receivers"
SUBSCRIPTIONS = "/api/v1/notification-subscriptions"
SECRET = "hmac-secret-never-shown-0123456789"
PASSWORD = "smtp-password-never-shown"


def _webhook(**changes: Any) -> dict[str, Any]:
    return {
        "name": unique("hook"),
        "webhook": {"url": "https://hooks.example.com/lifeboat", "secret": SECRET},
        **changes,
    }


def _email(**fields: Any) -> dict[str, Any]:
    return {
        "name": unique("mail"),
        "email": {
            "smtp_host": "smtp.example.com",
            "username": "lifeboat",
            "password": PASSWORD,
            "from_address": "lifeboat@example.com",
            "to_addresses": ["ops@example.com", "oncall@example.com"],
            **fields,
        },
    }


def _subscription(receiver: str, **fields: Any) -> dict[str, Any]:
    """A subscription of the receiver to failed backups, with `fields` changed."""
    return {"name": unique("sub"), "receiver_uid": receiver, "events": ["backup.failed"]} | fields


def _created(api: httpx.Client, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = api.post(path, json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def _refused(response: httpx.Response, status: int, field: str) -> str:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["field"] == field, error
    message: str = error["message"]
    return message


@pytest.mark.parametrize("user", ["appuser", "appadmin", "infraadmin", "superadmin"])
def test_every_role_keeps_receivers_whose_secrets_are_write_only(
    as_user: Users, user: str, catalog: sessionmaker[Session]
) -> None:
    api = as_user(user)
    hook = _created(api, RECEIVERS, _webhook())
    mail = _created(api, RECEIVERS, _email())
    assert hook["kind"] == "webhook" and hook["email"] is None
    assert hook["webhook"] == {"url": "https://hooks.example.com/lifeboat", "has_secret": True}
    assert mail["email"]["has_password"] is True and mail["email"]["smtp_port"] == 587
    assert mail["email"]["to_addresses"] == ["ops@example.com", "oncall@example.com"]
    assert hook["last_delivery_at"] is None and hook["last_delivery_error"] == ""
    for shown in (api.get(RECEIVERS).text, api.get(f"{RECEIVERS}/{hook['uid']}").text):
        assert SECRET not in shown and PASSWORD not in shown
    with catalog() as session:
        rows = session.scalars(
            select(NotificationReceiver).where(
                NotificationReceiver.uid.in_([hook["uid"], mail["uid"]])
            )
        ).all()
        stored = b"".join(
            (r.secret_ciphertext or b"") + (r.smtp_password_ciphertext or b"") for r in rows
        )
    assert len(rows) == 2 and SECRET.encode() not in stored and PASSWORD.encode() not in stored


def test_a_user_without_a_role_may_not_keep_receivers(as_user: Users) -> None:
    assert as_user("nobody").post(RECEIVERS, json=_webhook()).status_code == 403
    assert as_user("nobody").get(SUBSCRIPTIONS).status_code == 403


def test_another_user_can_neither_see_nor_use_my_receivers(as_user: Users) -> None:
    mine, other = as_user("appuser"), as_user("appadmin")
    hook = _created(mine, RECEIVERS, _webhook())
    subscription = _created(mine, SUBSCRIPTIONS, _subscription(hook["uid"]))
    path = f"{RECEIVERS}/{hook['uid']}"
    assert other.get(path).status_code == 404
    assert hook["uid"] not in {r["uid"] for r in other.get(RECEIVERS).json()["items"]}
    assert other.patch(path, json={"name": unique("mine-now")}).status_code == 404
    assert other.post(f"{path}/test").status_code == 404
    assert other.delete(path).status_code == 404
    assert other.get(f"{SUBSCRIPTIONS}/{subscription['uid']}").status_code == 404
    refused = other.post(SUBSCRIPTIONS, json=_subscription(hook["uid"]))
    assert "no notification receiver" in _refused(refused, 422, "receiver_uid")
    # Receivers are not shared.
    shared = mine.post(
        "/api/v1/shares",
        json={"object_kind": "notification-receivers", "object_uid": hook["uid"],
              "subject_kind": "everyone"},
    )  # fmt: skip
    assert _refused(shared, 422, "object_kind")
    # A super admin sees it, but may not send its own subscriptions to it.
    admin = as_user("superadmin")
    assert admin.get(path).status_code == 200
    refused = admin.post(SUBSCRIPTIONS, json=_subscription(hook["uid"]))
    assert "belongs to another user" in _refused(refused, 422, "receiver_uid")
    assert mine.get(path).json()["name"] == hook["name"]  # nothing changed


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        (_webhook(webhook={"url": "ftp://hooks.example.com", "secret": SECRET}), "webhook.url",
         "http or https URL"),
        (_webhook(webhook={"url": "https://user:pw@hooks.example.com", "secret": SECRET}),
         "webhook.url", "use `secret`"),
        (_webhook(webhook={"url": "https://hooks.example.com", "secret": "short"}),
         "webhook.secret", "at least 16"),
        (_webhook(webhook={"url": "https://hooks.example.com"}), "webhook.secret", "required"),
        (_email(to_addresses=["ops at example.com"]), "email.to_addresses.0",
         "not an email address"),
        (_email(to_addresses=[]), "email.to_addresses", "at least 1"),
        (_email(from_address="lifeboat"), "email.from_address", "not an email address"),
        (_email(smtp_host="smtp://smtp.example.com"), "email.smtp_host", "host name"),
        (_email(smtp_port=70000), "email.smtp_port", "65535"),
        (_email(to_addresses=[f"u{i}@example.com" for i in range(51)]), "email.to_addresses",
         "at most 50"),
        ({"name": unique("none")}, "webhook", "exactly one of"),
        ({**_webhook(), "email": _email()["email"]}, "webhook", "exactly one of"),
    ],
)  # fmt: skip
def test_bad_receivers_are_refused_naming_the_field(
    as_user: Users, body: dict[str, Any], field: str, words: str
) -> None:
    api = as_user("appadmin")
    before = api.get(RECEIVERS).json()["count"]
    assert words in _refused(api.post(RECEIVERS, json=body), 422, field)
    assert api.get(RECEIVERS).json()["count"] == before


def test_a_huge_receiver_is_refused(as_user: Users) -> None:
    body = _email(to_addresses=[f"{'x' * 60}@example.com"] * 20_000)
    response = as_user("appadmin").post(RECEIVERS, json=body)
    assert response.status_code == 413, response.text


def test_a_receiver_is_changed_in_place_and_keeps_its_secret(
    as_user: Users, catalog: sessionmaker[Session]
) -> None:
    api = as_user("appadmin")
    hook = _created(api, RECEIVERS, _webhook())
    path = f"{RECEIVERS}/{hook['uid']}"
    with catalog() as session:
        stored = session.get(NotificationReceiver, hook["uid"])
        assert stored is not None
        before = stored.secret_ciphertext
    changed = api.patch(path, json={"webhook": {"url": "https://other.example.com/hook"}})
    assert changed.status_code == 200, changed.text
    assert changed.json()["webhook"] == {
        "url": "https://other.example.com/hook",
        "has_secret": True,
    }
    assert changed.json()["name"] == hook["name"]
    with catalog() as session:
        stored = session.get(NotificationReceiver, hook["uid"])
        assert stored is not None and stored.secret_ciphertext == before
    message = _refused(api.patch(path, json={"email": _email()["email"]}), 422, "email")
    assert "is a webhook receiver" in message
    taken = _created(api, RECEIVERS, _webhook())
    assert _refused(api.patch(path, json={"name": taken["name"]}), 409, "name")
    assert api.get(path).json()["name"] == hook["name"]


def test_subscriptions_check_their_events_receiver_and_schedule(as_user: Users) -> None:
    api = as_user("appadmin")
    hook = _created(api, RECEIVERS, _webhook())

    def subscribe(**fields: Any) -> httpx.Response:
        return api.post(SUBSCRIPTIONS, json=_subscription(hook["uid"], **fields))

    before = api.get(SUBSCRIPTIONS).json()["count"]
    assert "backup.succeeded" in _refused(subscribe(events=["backup.exploded"]), 422, "events.0")
    assert _refused(subscribe(events=[]), 422, "events")
    assert _refused(subscribe(receiver_uid="no-such-receiver"), 422, "receiver_uid")
    assert "backup schedule" in _refused(
        subscribe(schedule_uid="no-such-schedule"), 422, "schedule_uid"
    )
    assert api.get(SUBSCRIPTIONS).json()["count"] == before

    created = subscribe(events=["restore.failed", "backup.failed", "backup.failed"])
    assert created.status_code == 201, created.text
    subscription = created.json()
    assert subscription["events"] == ["backup.failed", "restore.failed"]
    assert subscription["schedule_uid"] is None
    path = f"{SUBSCRIPTIONS}/{subscription['uid']}"
    changed = api.patch(path, json={"events": ["backup.succeeded"]})
    assert changed.status_code == 200 and changed.json()["events"] == ["backup.succeeded"]
    assert changed.json()["receiver_uid"] == hook["uid"]

    # A receiver in use stays until its subscriptions go.
    in_use = api.delete(f"{RECEIVERS}/{hook['uid']}")
    assert in_use.status_code == 409 and subscription["name"] in in_use.text
    assert api.delete(path).status_code == 204
    assert api.delete(f"{RECEIVERS}/{hook['uid']}").status_code == 204
    assert api.get(f"{RECEIVERS}/{hook['uid']}").status_code == 404


def test_lists_page_like_every_list(as_user: Users) -> None:
    api = as_user("infraadmin")
    prefix = unique("paged")
    for n in range(3):
        _created(api, RECEIVERS, _webhook(name=f"{prefix}-{n}"))
    first = api.get(RECEIVERS, params={"limit": 2, "name_prefix": prefix}).json()
    assert first["count"] == 2 and first["next"]
    rest = api.get(RECEIVERS, params={"limit": 2, "name_prefix": prefix, "after": first["next"]})
    assert [r["name"] for r in first["items"] + rest.json()["items"]] == [
        f"{prefix}-{n}" for n in range(3)
    ]
    assert rest.json()["next"] is None
