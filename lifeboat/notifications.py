"""Notifications: what a finished backup or restore tells its owner's receivers, and how.

A receiver is a webhook (a signed JSON POST) or an email address list (plain text through
an SMTP server); a subscription says which events of which backups and restores go to which
receiver. This module holds the events, the message every receiver gets, the webhook
signature and the senders; the worker's activities call them with what they read from the
catalog, so no secret travels in a workflow payload.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import json
import smtplib
import ssl
from dataclasses import asdict, dataclass
from email.message import EmailMessage

import httpx

from lifeboat.status import BackupStatus, RestoreStatus


class NotificationEvent(enum.StrEnum):
    BACKUP_FAILED = "backup.failed"
    BACKUP_PARTIALLY_FAILED = "backup.partially_failed"
    BACKUP_SUCCEEDED = "backup.succeeded"
    RESTORE_FAILED = "restore.failed"
    RESTORE_SUCCEEDED = "restore.succeeded"


BACKUP_EVENTS = frozenset(e for e in NotificationEvent if e.startswith("backup."))

# The event a finished backup or restore sends; a cancelled one (Aborted) sends none. A
# restore that brought back only part of the backup is a failed restore.
BACKUP_EVENT: dict[BackupStatus, NotificationEvent] = {
    BackupStatus.SUCCESS: NotificationEvent.BACKUP_SUCCEEDED,
    BackupStatus.PARTIAL_SUCCESS: NotificationEvent.BACKUP_PARTIALLY_FAILED,
    BackupStatus.FAILED: NotificationEvent.BACKUP_FAILED,
}
RESTORE_EVENT: dict[RestoreStatus, NotificationEvent] = {
    RestoreStatus.SUCCESS: NotificationEvent.RESTORE_SUCCEEDED,
    RestoreStatus.PARTIAL_SUCCESS: NotificationEvent.RESTORE_FAILED,
    RestoreStatus.FAILED: NotificationEvent.RESTORE_FAILED,
}

# The event of the message `POST .../notification-receivers/{uid}/test` sends.
TEST_EVENT = "test"


class ReceiverKind(enum.StrEnum):
    WEBHOOK = "webhook"
    EMAIL = "email"


EVENT_HEADER = "X-Lifeboat-Event"
TIMESTAMP_HEADER = "X-Lifeboat-Timestamp"
SIGNATURE_HEADER = "X-Lifeboat-Signature"
# A receiver that answers slower than this is tried again later.
SEND_TIMEOUT_SECONDS = 30.0


@dataclass(frozen=True)
class Notification:
    """What every receiver is told about one finished backup or restore (or a test)."""

    event: str
    kind: str  # backup or restore
    uid: str
    name: str
    cluster: str
    status: str
    reason: str
    finished_at: str
    console_url: str = ""

    def body(self) -> bytes:
        """The webhook's JSON body (the console link only where LIFEBOAT_CONSOLE_URL is set)."""
        document = asdict(self)
        if not self.console_url:
            del document["console_url"]
        return json.dumps(document, sort_keys=True).encode()

    def subject(self) -> str:
        if self.event == TEST_EVENT:
            return "Lifeboat: test notification"
        return f"Lifeboat: {self.kind} {self.name} on {self.cluster}: {self.status}"

    def text(self) -> str:
        """The email's plain-text body."""
        lines = [
            f"Event:    {self.event}",
            f"{self.kind.capitalize() + ':':<10}{self.name} ({self.uid})",
            f"Cluster:  {self.cluster}",
            f"Status:   {self.status}",
            f"Finished: {self.finished_at}",
        ]
        if self.reason:
            lines.append(f"Reason:   {self.reason}")
        if self.console_url:
            lines.append(f"Details:  {self.console_url}")
        return "\n".join(lines) + "\n"


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """`sha256=<hex>`: the HMAC-SHA256, under the receiver's secret, of `<timestamp>.<body>`."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return f"sha256={digest.hexdigest()}"


class DeliveryFailed(Exception):
    """A receiver did not take the message; `permanent` when trying again cannot help."""

    def __init__(self, message: str, *, permanent: bool) -> None:
        super().__init__(message)
        self.permanent = permanent


# Answers that say "later": a timeout and too many requests.
_RETRY_LATER = frozenset({408, 429})


def send_webhook(url: str, secret: str, notification: Notification, timestamp: str) -> None:
    """POST the notification, signed; a 2xx delivers it, any other 4xx (but 408 and 429)
    refuses it for good, and everything else (5xx, no answer) may work later."""
    body = notification.body()
    headers = {
        "Content-Type": "application/json",
        EVENT_HEADER: notification.event,
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: signature(secret, timestamp, body),
    }
    try:
        answer = httpx.post(url, content=body, headers=headers, timeout=SEND_TIMEOUT_SECONDS)
    except httpx.HTTPError as exc:
        # Not the URL: it may hold a token of its own (some services put one in the path).
        raise DeliveryFailed(f"the webhook did not answer: {exc}", permanent=False) from None
    if answer.is_success:
        return
    permanent = 400 <= answer.status_code < 500 and answer.status_code not in _RETRY_LATER
    raise DeliveryFailed(
        f"the webhook answered {answer.status_code} {answer.reason_phrase}", permanent=permanent
    )


@dataclass(frozen=True)
class SmtpServer:
    """Where and as whom an email receiver sends."""

    host: str
    port: int
    starttls: bool
    username: str
    password: str


def send_email(
    server: SmtpServer, sender: str, recipients: list[str], notification: Notification
) -> None:
    """Send the notification as a plain-text email; a refusal of the message or of the sign-in
    is permanent (5xx), an unreachable server or a 4xx answer may work later."""
    message = EmailMessage()
    message["Subject"] = notification.subject()
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message[EVENT_HEADER] = notification.event
    message.set_content(notification.text())
    where = f"SMTP server {server.host}:{server.port}"
    try:
        with smtplib.SMTP(server.host, server.port, timeout=SEND_TIMEOUT_SECONDS) as smtp:
            if server.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if server.username:
                smtp.login(server.username, server.password)
            smtp.send_message(message)
    except smtplib.SMTPResponseException as exc:
        text = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else ""
        raise DeliveryFailed(
            f"{where} refused the message: {exc.smtp_code} {text}".rstrip(),
            permanent=exc.smtp_code >= 500,
        ) from None
    except smtplib.SMTPRecipientsRefused as exc:
        raise DeliveryFailed(
            f"{where} refused the recipients {', '.join(exc.recipients)}", permanent=True
        ) from None
    except (OSError, smtplib.SMTPException) as exc:
        raise DeliveryFailed(f"{where} could not be reached: {exc}", permanent=False) from None
