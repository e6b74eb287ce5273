"""The senders against real servers on 127.0.0.1: which answers deliver a notification, which
refuse it for good, and which are worth trying again."""

from __future__ import annotations

import hashlib
import hmac
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from deploy.local.servers.procs import HOST, free_port
from lifeboat.notifications import (
    DeliveryFailed,
    Notification,
    SmtpServer,
    send_email,
    send_webhook,
    signature,
)

NOTIFICATION = Notification(
    event="backup.failed", kind="backup", uid="b1", name="prod-20261204000000", cluster="prod",
    status="Failed", reason="Validate: the bucket is gone", finished_at="2026-12-04T00:00:00+00:00",
)  # fmt: skip


@pytest.fixture
def answering() -> Iterator[tuple[str, list[int], list[dict[str, Any]]]]:
    """A webhook that answers each POST with the next status of the list it hands out."""
    statuses: list[int] = []
    seen: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            seen.append({"headers": dict(self.headers), "body": body})
            self.send_response(statuses.pop(0))
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer((HOST, free_port()), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://{HOST}:{server.server_port}/hook", statuses, seen
    server.shutdown()
    server.server_close()


def test_a_2xx_delivers_a_signed_body(
    answering: tuple[str, list[int], list[dict[str, Any]]],
) -> None:
    url, statuses, seen = answering
    statuses.append(202)
    send_webhook(url, "s" * 16, NOTIFICATION, "1764806400")
    [request] = seen
    assert request["headers"]["X-Lifeboat-Event"] == "backup.failed"
    assert request["headers"]["X-Lifeboat-Timestamp"] == "1764806400"
    mac = hmac.new(b"s" * 16, b"1764806400." + request["body"], hashlib.sha256).hexdigest()
    assert request["headers"]["X-Lifeboat-Signature"] == f"sha256={mac}"
    assert signature("s" * 16, "1764806400", request["body"]) == f"sha256={mac}"
    assert b"console_url" not in request["body"]  # no console link without the setting


@pytest.mark.parametrize(
    ("status", "permanent"), [(400, True), (404, True), (410, True), (408, False), (429, False),
                              (500, False), (503, False), (302, False)],
)  # fmt: skip
def test_which_refusals_are_final(
    answering: tuple[str, list[int], list[dict[str, Any]]], status: int, permanent: bool
) -> None:
    url, statuses, _ = answering
    statuses.append(status)
    with pytest.raises(DeliveryFailed) as refused:
        send_webhook(url, "s" * 16, NOTIFICATION, "1")
    assert refused.value.permanent is permanent
    assert str(status) in str(refused.value) and url not in str(refused.value)


def test_a_webhook_that_is_down_is_worth_trying_again() -> None:
    with pytest.raises(DeliveryFailed) as down:
        send_webhook(f"http://{HOST}:{free_port()}/hook", "s" * 16, NOTIFICATION, "1")
    assert not down.value.permanent and "did not answer" in str(down.value)


class Refusing:
    """An SMTP server's handler that answers the message with `answer`."""

    def __init__(self, answer: str) -> None:
        self.answer = answer
        self.received: list[bytes] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.received.append(envelope.original_content or b"")
        return self.answer


@pytest.mark.parametrize(
    ("answer", "failure"),
    [("250 OK", None), ("550 mailbox unavailable", True), ("451 try later", False)],
)
def test_email_is_sent_or_refused(answer: str, failure: bool | None) -> None:
    handler = Refusing(answer)
    controller = Controller(handler, hostname=HOST, port=free_port())
    controller.start()
    try:
        server = SmtpServer(HOST, controller.port, starttls=False, username="", password="")
        if failure is None:
            send_email(server, "lifeboat@example.com", ["ops@example.com"], NOTIFICATION)
            [message] = handler.received
            assert b"Subject: Lifeboat: backup prod-20261204000000 on prod: Failed" in message
            assert b"Reason:   Validate: the bucket is gone" in message
        else:
            with pytest.raises(DeliveryFailed) as refused:
                send_email(server, "lifeboat@example.com", ["ops@example.com"], NOTIFICATION)
            assert refused.value.permanent is failure and answer.split()[0] in str(refused.value)
    finally:
        controller.stop()
