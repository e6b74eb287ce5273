"""Activities that find who to notify of a finished backup or restore, and tell them.

Receivers' addresses and secrets are read here from the catalog: the workflow carries uids.
Every delivery (and test) is recorded on its receiver, so its owner sees one that fails.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from lifeboat.catalog.models import (
    Backup,
    Cluster,
    NotificationReceiver,
    NotificationSubscription,
    Restore,
    utcnow,
)
from lifeboat.notifications import (
    BACKUP_EVENT,
    RESTORE_EVENT,
    TEST_EVENT,
    DeliveryFailed,
    Notification,
    ReceiverKind,
    SmtpServer,
    send_email,
    send_webhook,
)
from lifeboat.secrets import SecretBox
from workflows.contracts import (
    DeliverInput,
    DeliveryResult,
    NotificationPlan,
    NotificationTestInput,
    NotifyInput,
    Operation,
)

_GONE = "the receiver was deleted"
# Where the console shows one backup or restore.
_CONSOLE_PATHS = {Operation.BACKUP: "backups", Operation.RESTORE: "restores"}


class NotificationActivities:
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], secrets: SecretBox, console_url: str
    ) -> None:
        self._sessions = sessions
        self._secrets = secrets
        self._console_url = console_url.rstrip("/")

    @activity.defn
    async def plan_notifications(self, input: NotifyInput) -> NotificationPlan:
        """The event of the finished backup or restore, and the receivers of its owner's
        subscriptions to it: those without a schedule, and (a scheduled backup's) those to
        its schedule."""
        async with self._sessions() as session:
            record = await _record(session, input)
            if record is None:
                return NotificationPlan(event="")
            if isinstance(record, Backup):
                event = BACKUP_EVENT.get(record.status)
                schedule_uid = record.schedule_uid
            else:
                event = RESTORE_EVENT.get(record.status)
                schedule_uid = None
            if event is None:
                return NotificationPlan(event="")
            # The owner's subscriptions to all their backups and restores, or to this
            # backup's schedule (None for a restore or a backup on demand: IS NULL).
            matches = (NotificationSubscription.owner_id == record.owner_id) & or_(
                NotificationSubscription.schedule_uid.is_(None),
                NotificationSubscription.schedule_uid == schedule_uid,
            )
            subscriptions = await session.scalars(select(NotificationSubscription).where(matches))
            receivers = {s.receiver_uid for s in subscriptions if event in s.events}
        return NotificationPlan(event=event, receiver_uids=sorted(receivers))

    @activity.defn
    async def deliver_notification(self, input: DeliverInput) -> DeliveryResult:
        """Send the event to the receiver. A receiver that refuses it for good (a webhook's
        4xx, an SMTP 5xx) is reported, not tried again; any other failure is raised, so the
        activity's retry policy tries again later."""
        async with self._sessions() as session:
            record = await _record(session, input)
            if record is None:
                return DeliveryResult(input.receiver_uid, False, f"{input.operation} is gone")
            notification = await self._notification(session, input, record)
        try:
            reached = await self._deliver(input.receiver_uid, notification)
        except DeliveryFailed as exc:
            if exc.permanent:
                return DeliveryResult(input.receiver_uid, False, str(exc))
            attempt = activity.info().attempt
            raise ApplicationError(f"{exc} (attempt {attempt}; trying again later)") from None
        return DeliveryResult(input.receiver_uid, reached, "" if reached else _GONE)

    @activity.defn
    async def send_test_notification(self, input: NotificationTestInput) -> DeliveryResult:
        """Send a test message to the receiver once and report how it went."""
        async with self._sessions() as session:
            receiver = await session.get(NotificationReceiver, input.receiver_uid)
            if receiver is None:
                return DeliveryResult(input.receiver_uid, False, _GONE)
            notification = Notification(
                event=TEST_EVENT,
                kind="test",
                uid=receiver.uid,
                name=receiver.name,
                cluster="",
                status="Test",
                reason="a test message: this receiver is reached",
                finished_at=utcnow().isoformat(),
            )
        try:
            reached = await self._deliver(input.receiver_uid, notification)
        except DeliveryFailed as exc:
            return DeliveryResult(input.receiver_uid, False, str(exc))
        return DeliveryResult(input.receiver_uid, reached, "" if reached else _GONE)

    async def _notification(
        self, session: AsyncSession, input: DeliverInput, record: Backup | Restore
    ) -> Notification:
        cluster = await session.get(Cluster, record.cluster_uid)
        link = ""
        if self._console_url:
            link = f"{self._console_url}/{_CONSOLE_PATHS[input.operation]}/{record.uid}"
        return Notification(
            event=input.event,
            kind=str(input.operation),
            uid=record.uid,
            name=record.name,
            cluster=cluster.name if cluster is not None else record.cluster_uid,
            status=str(record.status),
            reason=record.reason,
            finished_at=record.finished_at.isoformat() if record.finished_at else "",
            console_url=link,
        )

    async def _deliver(self, receiver_uid: str, notification: Notification) -> bool:
        """Send to the receiver and record how it went on it; False when it is gone.
        Raises `DeliveryFailed` (after recording it) when the receiver did not take it."""
        async with self._sessions() as session:
            receiver = await session.get(NotificationReceiver, receiver_uid)
            if receiver is None:
                return False
            send = self._sender(receiver, notification)
        failure: DeliveryFailed | None = None
        try:
            await asyncio.to_thread(send)
        except DeliveryFailed as exc:
            failure = exc
        async with self._sessions.begin() as session:
            receiver = await session.get(NotificationReceiver, receiver_uid)
            if receiver is not None:
                receiver.last_delivery_at = utcnow()
                receiver.last_delivery_error = str(failure or "")
        if failure is not None:
            raise failure
        return True

    def _sender(
        self, receiver: NotificationReceiver, notification: Notification
    ) -> Callable[[], None]:
        """The send, with the receiver's secret decrypted into it (never logged or returned)."""
        if receiver.kind == ReceiverKind.WEBHOOK:
            url = receiver.url
            secret = self._secrets.decrypt(receiver.secret_ciphertext or b"")
            return lambda: send_webhook(url, secret, notification, str(int(time.time())))
        server = SmtpServer(
            host=receiver.smtp_host,
            port=receiver.smtp_port,
            starttls=receiver.smtp_starttls,
            username=receiver.smtp_username,
            password=(
                self._secrets.decrypt(receiver.smtp_password_ciphertext)
                if receiver.smtp_password_ciphertext
                else ""
            ),
        )
        sender, recipients = receiver.from_address, list(receiver.to_addresses)
        return lambda: send_email(server, sender, recipients, notification)


async def _record(
    session: AsyncSession, input: NotifyInput | DeliverInput
) -> Backup | Restore | None:
    """The backup or restore the notification is about (None once it was deleted)."""
    if input.operation == Operation.RESTORE:
        return await session.get(Restore, input.uid)
    return await session.get(Backup, input.uid)
