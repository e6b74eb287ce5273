"""Notification receivers and subscriptions through the command line: secrets that are never
shown, a test message that says why it was not taken, and objects only their owner sees."""

from __future__ import annotations

import hashlib
import hmac
import re

from deploy.local.servers.procs import HOST, free_port
from tests.api.helpers import unique
from tests.cli.conftest import SignedIn
from tests.receivers import Mailbox, WebhookServer

SECRET = "a-webhook-secret-of-my-own"


def test_a_webhook_receiver_keeps_its_secret_to_itself_and_reports_a_failed_test(
    signed_in: SignedIn,
) -> None:
    lifeboat = signed_in("appuser")
    bad = lifeboat("receiver", "create", unique("hook"), "--url", "ftp://hooks.example.com")
    assert bad.code == 1 and "422 Unprocessable" in bad.err, bad
    assert "(field: webhook.url)" in bad.err and "http or https URL" in bad.err
    neither = lifeboat("receiver", "create", unique("hook"))
    assert neither.code == 2 and "give one of --url (a webhook) and --smtp-host" in neither.err

    # Generated and printed once, on stderr: stdout stays the API's object.
    name = unique("hook")
    down = f"http://{HOST}:{free_port()}/lifeboat"  # nothing listens there
    created = lifeboat.ok("receiver", "create", name, "--url", down, "-o", "json")
    found = re.search(r"webhook secret \(shown only now; verify signatures with it\): (\S+)",
                      created.err)  # fmt: skip
    assert found and len(found.group(1)) >= 16, created.err
    generated = found.group(1)
    receiver = created.json()
    assert receiver["webhook"] == {"url": down, "has_secret": True}
    assert receiver["last_delivery_at"] is None

    own = unique("hook")
    given = lifeboat.ok(
        "receiver", "create", own, "--url", "https://hooks.example.com/lifeboat",
        "--secret-stdin", stdin=SECRET + "\n",
    )  # fmt: skip
    assert SECRET not in given.out + given.err and "has_secret:" in given.out
    assert "webhook secret" not in given.err

    for shown in (
        lifeboat.ok("receiver", "list").out,
        lifeboat.ok("receiver", "list", "-o", "json").out,
        lifeboat.ok("receiver", "get", name).out,
        lifeboat.ok("receiver", "get", own, "-o", "yaml").out,
    ):
        assert generated not in shown and SECRET not in shown
    listed = lifeboat.ok("receiver", "list").out
    assert name in listed and own in listed and down in listed
    got = lifeboat.ok("receiver", "get", name).out
    assert "has_secret:" in got and "True" in got and receiver["uid"] in got

    # A receiver on a closed port: the test says why and exits 5; the receiver records it.
    tested = lifeboat("receiver", "test", name)
    assert tested.code == 5, tested
    assert f"receiver {name} did not take the test message" in tested.err
    assert "did not answer" in tested.err and "Traceback" not in tested.err
    recorded = lifeboat.ok("receiver", "get", name, "-o", "json").json()
    assert recorded["last_delivery_at"] and "did not answer" in recorded["last_delivery_error"]
    assert "failed" in lifeboat.ok("receiver", "list").out

    # An edit keeps what is not given, the secret included.
    edited = lifeboat.ok(
        "receiver", "edit", own, "--url", "https://hooks.example.com/other", "-o", "json"
    ).json()
    assert edited["webhook"] == {"url": "https://hooks.example.com/other", "has_secret": True}
    wrong = lifeboat("receiver", "edit", own, "--smtp-host", "smtp.example.com")
    assert wrong.code == 2 and "is a webhook receiver" in wrong.err, wrong
    lifeboat.ok("receiver", "delete", own, "--yes")


def test_a_subscription_by_receiver_name_holds_its_receiver_until_deleted(
    signed_in: SignedIn,
) -> None:
    lifeboat = signed_in("appuser")
    hook = unique("hook")
    receiver = lifeboat.ok(
        "receiver", "create", hook, "--url", "https://hooks.example.com/lifeboat", "-o", "json"
    ).json()
    name = unique("failures")
    subscription = lifeboat.ok(
        "subscription", "create", name, "--receiver", hook, "--event", "backup.failed",
        "--event", "backup.partially_failed", "-o", "json",
    ).json()  # fmt: skip
    assert subscription["receiver_uid"] == receiver["uid"]
    assert subscription["events"] == ["backup.failed", "backup.partially_failed"]
    assert subscription["schedule_uid"] is None
    listed = [line.split() for line in lifeboat.ok("subscription", "list").out.splitlines()]
    assert [name, "appuser", hook] in [row[:3] for row in listed], listed
    assert subscription in lifeboat.ok("subscription", "list", "-o", "json").json()["items"]
    assert "events:" in lifeboat.ok("subscription", "get", name).out
    unknown = lifeboat("subscription", "create", unique("s"), "--receiver", hook, "--event", "x")
    assert unknown.code == 1 and "(field: events.0)" in unknown.err, unknown
    no_event = lifeboat("subscription", "create", unique("s"), "--receiver", hook)
    assert no_event.code == 2 and "give at least one --event" in no_event.err

    renamed = unique("restores")
    edited = lifeboat.ok(
        "subscription", "edit", name, "--name", renamed, "--event", "restore.failed", "-o", "json"
    ).json()
    assert (edited["uid"], edited["name"]) == (subscription["uid"], renamed)
    assert edited["events"] == ["restore.failed"] and edited["receiver_uid"] == receiver["uid"]

    unconfirmed = lifeboat("receiver", "delete", hook)
    assert unconfirmed.code == 1 and "Not confirmed" in unconfirmed.err
    in_use = lifeboat("receiver", "delete", hook, "--yes")
    assert in_use.code == 1 and f"is used by subscription(s) {renamed}" in in_use.err, in_use
    assert (
        f"deleted subscription {renamed}"
        in lifeboat.ok("subscription", "delete", renamed, "--yes").out
    )
    assert f"deleted receiver {hook}" in lifeboat.ok("receiver", "delete", hook, "--yes").out
    gone = lifeboat("receiver", "get", hook)
    assert gone.code == 1 and f"no receiver named {hook!r}" in gone.err


def test_another_user_can_neither_see_nor_use_my_receiver(signed_in: SignedIn) -> None:
    mine, other = signed_in("appuser"), signed_in("infraadmin")
    hook = unique("hook")
    receiver = mine.ok(
        "receiver", "create", hook, "--url", "https://hooks.example.com/lifeboat", "-o", "json"
    ).json()
    assert hook not in other.ok("receiver", "list").out
    for ref in (hook, receiver["uid"]):
        hidden = other("receiver", "get", ref)
        assert hidden.code == 1 and f"no receiver named {ref!r} that you may see" in hidden.err
        assert other("receiver", "test", ref).code == 1
        assert other("receiver", "delete", ref, "--yes").code == 1
    refused = other(
        "subscription", "create", unique("s"), "--receiver", hook, "--event", "backup.failed"
    )
    assert refused.code == 1 and f"no receiver named {hook!r}" in refused.err
    assert mine.ok("receiver", "get", hook, "-o", "json").json() == receiver


def test_a_test_message_is_signed_with_the_secret_given_on_stdin(
    signed_in: SignedIn, webhook: WebhookServer
) -> None:
    lifeboat = signed_in("appuser")
    name = unique("hook")
    receiver = lifeboat.ok(
        "receiver", "create", name, "--url", webhook.url, "--secret-stdin", "-o", "json",
        stdin=SECRET + "\n",
    ).json()  # fmt: skip
    tested = lifeboat.ok("receiver", "test", name)
    assert f"delivered a test message to receiver {name}" in tested.out
    [hook] = [h for h in webhook.received if h.document.get("uid") == receiver["uid"]]
    signed = hook.headers["x-lifeboat-timestamp"].encode() + b"." + hook.body
    expected = hmac.new(SECRET.encode(), signed, hashlib.sha256).hexdigest()
    assert hook.headers["x-lifeboat-signature"] == f"sha256={expected}"
    assert lifeboat.ok("receiver", "test", name, "-o", "json").json() == {
        "delivered": True,
        "error": "",
    }
    short = lifeboat("receiver", "create", unique("hook"), "--url", webhook.url,
                     "--secret-stdin", stdin="short\n")  # fmt: skip
    assert short.code == 1 and "(field: webhook.secret)" in short.err, short
    lifeboat.ok("receiver", "delete", name, "--yes")


def test_an_email_receiver_keeps_its_password_and_is_tested(
    signed_in: SignedIn, smtp: tuple[Mailbox, int]
) -> None:
    mailbox, port = smtp
    lifeboat = signed_in("appuser")
    name = unique("mail")
    created = lifeboat.ok(
        "receiver", "create", name, "--smtp-host", HOST, "--smtp-port", str(port),
        "--no-starttls", "--from", "lifeboat@example.com", "--to", "ops@example.com",
        "--to", "dev@example.com", "-o", "json",
    ).json()  # fmt: skip
    assert created["email"]["to_addresses"] == ["ops@example.com", "dev@example.com"]
    assert created["email"]["has_password"] is False
    assert lifeboat.ok("receiver", "test", name).code == 0
    [(envelope, _)] = mailbox.messages
    assert envelope.rcpt_tos == ["ops@example.com", "dev@example.com"]
    shown = lifeboat.ok("receiver", "get", name).out
    assert "smtp_port:" in shown and str(port) in shown and "ops@example.com" in shown

    password = "an-smtp-password-of-mine"
    edited = lifeboat.ok(
        "receiver", "edit", name, "--username", "lifeboat", "--password-stdin", "-o", "json",
        stdin=password + "\n",
    ).json()  # fmt: skip
    assert edited["email"]["has_password"] is True and edited["email"]["username"] == "lifeboat"
    assert edited["email"]["smtp_port"] == port and edited["email"]["starttls"] is False
    again = lifeboat.ok("receiver", "edit", name, "--to", "ops@example.com", "-o", "json").json()
    assert again["email"]["to_addresses"] == ["ops@example.com"]
    assert again["email"]["has_password"] is True, "an edit keeps the password"
    for shown in (lifeboat.ok("receiver", "get", name, "-o", "yaml").out,
                  lifeboat.ok("receiver", "list").out):  # fmt: skip
        assert password not in shown
    bad = lifeboat("receiver", "create", unique("mail"), "--smtp-host", HOST,
                   "--from", "lifeboat@example.com")  # fmt: skip
    assert bad.code == 1 and "(field: email.to_addresses)" in bad.err, bad
    lifeboat.ok("receiver", "delete", name, "--yes")


def test_a_subscription_to_one_schedule_is_widened_to_all_backups(
    signed_in: SignedIn, target: dict[str, str]
) -> None:
    lifeboat = signed_in("infraadmin")
    policy = unique("weekly")
    lifeboat.ok("policy", "create", policy, "--every-minutes", "10080")
    schedule_name = unique("nightly")
    schedule = lifeboat.ok(
        "schedule", "create", schedule_name, "--policy", policy, "--cluster", target["cluster"],
        "--location", target["location"], "--namespace", "default", "-o", "json",
    ).json()  # fmt: skip
    hook = unique("hook")
    lifeboat.ok("receiver", "create", hook, "--url", "https://hooks.example.com/lifeboat")
    name = unique("nightly-failures")
    subscribed = lifeboat.ok(
        "subscription", "create", name, "--receiver", hook, "--event", "backup.failed",
        "--schedule", schedule_name, "-o", "json",
    ).json()  # fmt: skip
    assert subscribed["schedule_uid"] == schedule["uid"]
    restores = lifeboat("subscription", "edit", name, "--event", "restore.failed")
    assert restores.code == 1 and "(field: events)" in restores.err, restores
    widened = lifeboat.ok(
        "subscription", "edit", name, "--schedule", "", "--event", "restore.failed", "-o", "json"
    ).json()
    assert widened["schedule_uid"] is None and widened["events"] == ["restore.failed"]
    assert "all yours" in lifeboat.ok("subscription", "list").out

    lifeboat.ok("subscription", "delete", name, "--yes")
    lifeboat.ok("receiver", "delete", hook, "--yes")
    lifeboat.ok("schedule", "delete", schedule_name, "--yes")
    lifeboat.ok("policy", "delete", policy, "--yes")
