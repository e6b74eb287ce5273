"""Notifications from the real stack: a finished backup reaches a signed webhook (an HTTP
server of the test's) and an email (an aiosmtpd server of the test's), both on 127.0.0.1.

The backups fail the way a user's would (the location's bucket was removed) or succeed; a
receiver that is down at first is tried again and reached once it is up; the backup's own
status never depends on its notifications.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
from collections.abc import Callable, Iterator
from email import message_from_bytes
from typing import Any

import httpx
import pytest
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from deploy.local.servers.procs import HOST, free_port
from deploy.local.stack import Stack
from tests.api.helpers import dev_location, dev_s3, unique
from tests.conftest import Users
from tests.e2e.conftest import Kube
from tests.receivers import Hook, Mailbox, WebhookServer

SECRET = "a-webhook-secret-of-some-length"


@pytest.fixture
def infraadmin(as_user: Users) -> Iterator[httpx.Client]:
    """infraadmin, whose notification subscriptions and receivers are removed after the test
    (its other tests' backups would notify them too)."""
    api = as_user("infraadmin")
    yield api
    for kind in ("subscriptions", "receivers"):
        for item in api.get(f"/api/v1/notification-{kind}").json()["items"]:
            api.delete(f"/api/v1/notification-{kind}/{item['uid']}")


def _eventually(what: str, found: Callable[[], Any], timeout: float = 240) -> Any:
    """What `found` returns once it is truthy; the machine is slow, so the bound is generous."""
    deadline = time.monotonic() + timeout
    while not (result := found()):
        assert time.monotonic() < deadline, f"{what}: not within {timeout}s"
        time.sleep(0.5)
    return result


def _webhook_receiver(api: httpx.Client, url: str) -> dict[str, Any]:
    created = api.post(
        "/api/v1/notification-receivers",
        json={"name": unique("hook"), "webhook": {"url": url, "secret": SECRET}},
    )
    assert created.status_code == 201, created.text
    receiver: dict[str, Any] = created.json()
    return receiver


def _subscribe(api: httpx.Client, receiver: dict[str, Any], *events: str) -> None:
    created = api.post(
        "/api/v1/notification-subscriptions",
        json={"name": unique("sub"), "receiver_uid": receiver["uid"], "events": list(events)},
    )
    assert created.status_code == 201, created.text


def _namespace(kube: Kube) -> str:
    namespace = unique("notify")
    kube.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
    kube.create(
        {"apiVersion": "v1", "kind": "ConfigMap",
         "metadata": {"name": "settings", "namespace": namespace}, "data": {"mode": "on"}}
    )  # fmt: skip
    return namespace


def _backup(api: httpx.Client, cluster: str, location: str, namespace: str) -> dict[str, Any]:
    """A backup, once it has ended."""
    body = {"cluster_uid": cluster, "location_uid": location, "namespaces": [namespace]}
    return _ended(api, "/api/v1/backups", body)


def _ended(api: httpx.Client, path: str, body: dict[str, Any]) -> dict[str, Any]:
    """The backup or restore the body asks for, once it has ended."""
    started = api.post(path, json=body)
    assert started.status_code == 201, started.text
    at = f"{path}/{started.json()['uid']}"
    ended: dict[str, Any] = _eventually(
        f"{at} ended",
        lambda: next(
            (o for o in [api.get(at).json()] if o["status"] not in ("Pending", "InProgress")), None
        ),
    )
    return ended


def _failing_backup(
    api: httpx.Client, stack: Stack, target: dict[str, str], kube: Kube
) -> dict[str, Any]:
    """A backup to a location whose bucket was removed after it was added: it fails."""
    location = dev_location(api, stack)
    dev_s3(stack).remove_bucket(location["bucket"])
    backup = _backup(api, target["cluster"], location["location"], _namespace(kube))
    assert backup["status"] == "Failed", backup
    return backup


def _receiver_once(
    api: httpx.Client, uid: str, ready: Callable[[dict[str, Any]], Any]
) -> dict[str, Any]:
    """The receiver as its owner sees it, once `ready` says so of it."""
    path = f"/api/v1/notification-receivers/{uid}"
    found: dict[str, Any] = _eventually(
        f"receiver {uid}", lambda: next((r for r in [api.get(path).json()] if ready(r)), None)
    )
    return found


def _hooks_for(server: WebhookServer, uid: str) -> list[Hook]:
    return [h for h in list(server.received) if h.document.get("uid") == uid]


def _verify_signature(hook: Hook) -> None:
    """As a receiver verifies it: HMAC-SHA256 of `<timestamp>.<body>` under the secret."""
    timestamp = hook.headers["x-lifeboat-timestamp"]
    expected = hmac.new(SECRET.encode(), timestamp.encode() + b"." + hook.body, hashlib.sha256)
    assert hmac.compare_digest(
        hook.headers["x-lifeboat-signature"], f"sha256={expected.hexdigest()}"
    )


def _notify_result(stack: Stack, backup_uid: str) -> dict[str, Any]:
    """The result of the backup's notify workflow, once it has ended."""

    async def result() -> Any:
        client = await Client.connect(stack.temporal_address)
        handle = client.get_workflow_handle(f"notify-backup-{backup_uid}")
        return await asyncio.wait_for(handle.result(), timeout=240)

    outcome: dict[str, Any] = asyncio.run(result())  # untyped: the result's JSON
    return outcome


def _notify_started(stack: Stack, workflow_id: str) -> bool:
    """Whether the workflow started a notify workflow."""

    async def started() -> bool:
        client = await Client.connect(stack.temporal_address)
        try:
            await client.get_workflow_handle(f"notify-{workflow_id}").describe()
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:
                return False
            raise
        return True

    return asyncio.run(started())


def test_a_failed_backup_sends_a_signed_webhook_and_an_email(
    infraadmin: httpx.Client,
    stack: Stack,
    target: dict[str, str],
    kube: Kube,
    webhook: WebhookServer,
    smtp: tuple[Mailbox, int],
) -> None:
    api = infraadmin
    mailbox, smtp_port = smtp
    hook = _webhook_receiver(api, webhook.url)
    _subscribe(api, hook, "backup.failed", "backup.partially_failed")
    mail = api.post(
        "/api/v1/notification-receivers",
        json={
            "name": unique("mail"),
            "email": {
                "smtp_host": HOST, "smtp_port": smtp_port, "starttls": False,
                "from_address": "lifeboat@example.com", "to_addresses": ["ops@example.com"],
            },
        },
    )  # fmt: skip
    assert mail.status_code == 201, mail.text
    _subscribe(api, mail.json(), "backup.failed")

    backup = _failing_backup(api, stack, target, kube)

    [delivered] = _eventually("the webhook", lambda: _hooks_for(webhook, backup["uid"]))
    _verify_signature(delivered)
    assert delivered.headers["x-lifeboat-event"] == "backup.failed"
    body = delivered.document
    assert body["event"] == "backup.failed" and body["kind"] == "backup"
    assert body["name"] == backup["name"] and body["status"] == "Failed"
    assert "bucket" in body["reason"] and body["finished_at"]
    assert SECRET not in delivered.body.decode()

    envelope, content = _eventually(
        "the email",
        lambda: next((m for m in mailbox.messages if backup["uid"].encode() in m[1]), None),
    )
    assert envelope.rcpt_tos == ["ops@example.com"]
    assert envelope.mail_from == "lifeboat@example.com"
    email = message_from_bytes(content)
    assert backup["name"] in email["Subject"] and "Failed" in email["Subject"]
    assert "bucket" in email.get_payload()

    # The owner sees that both receivers work; the backup stays as it ended.
    for receiver in (hook, mail.json()):
        shown = _receiver_once(api, receiver["uid"], lambda r: r["last_delivery_at"])
        assert shown["last_delivery_error"] == ""
    assert api.get(f"/api/v1/backups/{backup['uid']}").json()["status"] == "Failed"


def test_a_receiver_that_is_down_is_tried_again_and_reached_later(
    infraadmin: httpx.Client, stack: Stack, target: dict[str, str], kube: Kube
) -> None:
    api = infraadmin
    port = free_port()  # nothing listens there yet
    receiver = _webhook_receiver(api, f"http://{HOST}:{port}/lifeboat")
    _subscribe(api, receiver, "backup.failed")

    backup = _failing_backup(api, stack, target, kube)

    failing = _receiver_once(api, receiver["uid"], lambda r: r["last_delivery_error"])
    assert "did not answer" in failing["last_delivery_error"]
    assert api.get(f"/api/v1/backups/{backup['uid']}").json()["status"] == "Failed"

    server = WebhookServer(port)
    try:
        [delivered] = _eventually("the delivery", lambda: _hooks_for(server, backup["uid"]))
        _verify_signature(delivered)
        assert delivered.document["event"] == "backup.failed"
        _receiver_once(api, receiver["uid"], lambda r: r["last_delivery_error"] == "")
    finally:
        server.stop()


def test_a_succeeded_backup_notifies_only_subscriptions_to_success(
    infraadmin: httpx.Client, stack: Stack, target: dict[str, str], kube: Kube
) -> None:
    api = infraadmin
    success, failure = WebhookServer(free_port()), WebhookServer(free_port())
    try:
        told = _webhook_receiver(api, success.url)
        _subscribe(api, told, "backup.succeeded")
        untold = _webhook_receiver(api, failure.url)
        _subscribe(api, untold, "backup.failed", "restore.succeeded")

        backup = _backup(api, target["cluster"], target["location"], _namespace(kube))
        assert backup["status"] == "Success", backup

        [delivered] = _eventually("the webhook", lambda: _hooks_for(success, backup["uid"]))
        assert delivered.document["event"] == "backup.succeeded"
        assert delivered.document["status"] == "Success"
        # Once the notifications of the backup have all been sent, the other receiver has had
        # none of them.
        result = _notify_result(stack, backup["uid"])
        assert result["event"] == "backup.succeeded"
        reached = {d["receiver_uid"] for d in result["deliveries"] if d["delivered"]}
        assert told["uid"] in reached and untold["uid"] not in reached
        assert _hooks_for(failure, backup["uid"]) == []
    finally:
        success.stop()
        failure.stop()


def test_a_test_message_reports_whether_the_receiver_took_it(
    infraadmin: httpx.Client, webhook: WebhookServer
) -> None:
    api = infraadmin
    receiver = _webhook_receiver(api, webhook.url)
    tested = api.post(f"/api/v1/notification-receivers/{receiver['uid']}/test", timeout=180)
    assert tested.status_code == 200, tested.text
    assert tested.json() == {"delivered": True, "error": ""}
    [hook] = [h for h in webhook.received if h.document.get("uid") == receiver["uid"]]
    _verify_signature(hook)
    assert hook.headers["x-lifeboat-event"] == "test"

    down = _webhook_receiver(api, f"http://{HOST}:{free_port()}/lifeboat")
    tested = api.post(f"/api/v1/notification-receivers/{down['uid']}/test", timeout=180)
    assert tested.status_code == 200, tested.text
    assert tested.json()["delivered"] is False and "did not answer" in tested.json()["error"]
    shown = api.get(f"/api/v1/notification-receivers/{down['uid']}").json()
    assert shown["last_delivery_at"] and "did not answer" in shown["last_delivery_error"]


def test_a_schedule_subscription_is_told_of_that_schedules_backups_only(
    infraadmin: httpx.Client,
    as_user: Users,
    target: dict[str, str],
    kube: Kube,
    webhook: WebhookServer,
) -> None:
    api = infraadmin
    policy = api.post(
        "/api/v1/schedule-policies",
        json={"name": unique("daily"), "schedule": {"type": "daily", "time": "03:00"}},
    )
    assert policy.status_code == 201, policy.text
    created = api.post("/api/v1/backup-schedules", json={
        "name": unique("sched"), "policy_uid": policy.json()["uid"],
        "backup": {"cluster_uid": target["cluster"], "location_uid": target["location"],
                   "namespaces": [_namespace(kube)]},
    })  # fmt: skip
    assert created.status_code == 201, created.text
    schedule = created.json()
    try:
        receiver = _webhook_receiver(api, webhook.url)
        body = {"name": unique("sub"), "receiver_uid": receiver["uid"],
                "schedule_uid": schedule["uid"]}  # fmt: skip
        restores = api.post(
            "/api/v1/notification-subscriptions", json={**body, "events": ["restore.failed"]}
        )
        assert restores.status_code == 422 and restores.json()["error"]["field"] == "events"
        subscribed = api.post(
            "/api/v1/notification-subscriptions", json={**body, "events": ["backup.succeeded"]}
        )
        assert subscribed.status_code == 201, subscribed.text
        # Nobody else subscribes to it: not a user who cannot see it, nor a super admin.
        for user in ("appadmin", "superadmin"):
            other = as_user(user)
            theirs = _webhook_receiver(other, webhook.url)
            refused = other.post(
                "/api/v1/notification-subscriptions",
                json={**body, "receiver_uid": theirs["uid"], "events": ["backup.succeeded"]},
            )
            assert refused.status_code == 422, refused.text
            assert refused.json()["error"]["field"] == "schedule_uid"
            other.delete(f"/api/v1/notification-receivers/{theirs['uid']}")

        assert api.post(f"/api/v1/backup-schedules/{schedule['uid']}/run-now").status_code == 202
        [delivered] = _eventually(
            "the scheduled backup's webhook",
            lambda: [h for h in list(webhook.received)
                     if h.document.get("name", "").startswith(f"{schedule['name']}-")],
        )  # fmt: skip
        assert delivered.document["event"] == "backup.succeeded"
        assert delivered.document["status"] == "Success"
    finally:
        api.delete(f"/api/v1/backup-schedules/{schedule['uid']}")


def test_a_restore_tells_its_subscribers_and_a_preview_tells_nobody(
    infraadmin: httpx.Client,
    stack: Stack,
    target: dict[str, str],
    kube: Kube,
    webhook: WebhookServer,
) -> None:
    api = infraadmin
    namespace = _namespace(kube)
    backup = _backup(api, target["cluster"], target["location"], namespace)
    assert backup["status"] == "Success", backup
    _subscribe(api, _webhook_receiver(api, webhook.url), "restore.succeeded", "restore.failed")

    mapping = {"namespace_mapping": {namespace: unique("copy")}}
    previewed = api.post("/api/v1/restores/preview", json={"backup_uid": backup["uid"], **mapping})
    assert previewed.status_code == 200, previewed.text
    preview = previewed.json()
    restore = _ended(api, "/api/v1/restores", {"backup_uid": backup["uid"], **mapping})
    assert restore["status"] == "Success", restore
    [delivered] = _eventually("the webhook", lambda: _hooks_for(webhook, restore["uid"]))
    _verify_signature(delivered)
    assert delivered.document["event"] == "restore.succeeded"
    assert delivered.document["kind"] == "restore" and delivered.document["status"] == "Success"
    # The preview ended before the restore began, and started no notifications.
    assert _hooks_for(webhook, preview["uid"]) == []
    assert _notify_started(stack, f"restore-{preview['uid']}") is False
