"""Notification receivers: where a user's finished backups and restores are reported.

A receiver is a webhook (a JSON POST signed with the receiver's secret) or email (through an
SMTP server). Its secret (the webhook's HMAC secret, the SMTP password) is write-only: stored
encrypted, shown only as `has_secret` / `has_password`. Receivers are their owner's alone
(and a super admin's): they are never shared, and subscriptions send only to their owner's.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, status
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints
from sqlalchemy import select
from temporalio.client import WorkflowFailureError

from api.authz import Authorize, AuthzContext
from api.crud import PageDep, delete_object, list_page, save_unique
from api.deps import StateDep, TemporalDep
from api.errors import Conflict, ServiceUnavailable, Unprocessable
from api.schemas import SINGLE_LINE, Labels, ListOf, Name, ObjectRead, Text, Uid
from lifeboat.catalog.models import NotificationReceiver, NotificationSubscription
from lifeboat.notifications import ReceiverKind
from lifeboat.rbac.matrix import Action, Kind
from lifeboat.secrets import SecretBox
from workflows.contracts import DeliveryResult, NotificationTestInput
from workflows.ids import notification_test_workflow_id, search_attributes
from workflows.notify import NotificationTestWorkflow

router = APIRouter(prefix="/notification-receivers", tags=["notifications"])

CreateReceiver = Annotated[
    AuthzContext, Depends(Authorize(Kind.NOTIFICATION_RECEIVERS, Action.CREATE))
]
ViewReceiver = Annotated[AuthzContext, Depends(Authorize(Kind.NOTIFICATION_RECEIVERS, Action.VIEW))]
EditReceiver = Annotated[AuthzContext, Depends(Authorize(Kind.NOTIFICATION_RECEIVERS, Action.EDIT))]
DeleteReceiver = Annotated[
    AuthzContext, Depends(Authorize(Kind.NOTIFICATION_RECEIVERS, Action.DELETE))
]

# A test message: one try of up to 90 s (options.NOTIFICATION_TEST), and room to start it.
TEST_TIMEOUT = timedelta(minutes=2)
MAX_RECIPIENTS = 50

_EMAIL = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*$"
)
_HOST = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$|^\[[0-9A-Fa-f:.]+\]$")


def _webhook_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(
            "must be an http or https URL with a host, such as https://hooks.example.com/lifeboat"
        )
    if parts.username is not None or parts.password is not None:
        raise ValueError("must not carry a user or password (it would be shown): use `secret`")
    if parts.fragment:
        raise ValueError("must not have a #fragment: remove it")
    try:
        parts.port  # noqa: B018 - raises on a port out of range
    except ValueError as exc:
        raise ValueError(f"has an invalid port: {exc}") from None
    return value


def _email_address(value: str) -> str:
    if not _EMAIL.match(value):
        raise ValueError(f"{value!r} is not an email address such as ops@example.com")
    return value


def _smtp_host(value: str) -> str:
    if not _HOST.match(value):
        raise ValueError("must be the SMTP server's host name or address, such as smtp.example.com")
    return value


WebhookUrl = Annotated[
    str, StringConstraints(min_length=1, max_length=2048, pattern=SINGLE_LINE),
    AfterValidator(_webhook_url),
]  # fmt: skip
Secret = Annotated[
    str,
    StringConstraints(min_length=16, max_length=1024, pattern=SINGLE_LINE),
    Field(description="write-only: stored encrypted, never returned"),
]
Password = Annotated[
    str,
    StringConstraints(min_length=1, max_length=1024, pattern=SINGLE_LINE),
    Field(description="write-only: stored encrypted, never returned"),
]
EmailAddress = Annotated[
    str, StringConstraints(min_length=3, max_length=254, pattern=SINGLE_LINE),
    AfterValidator(_email_address),
]  # fmt: skip
SmtpHost = Annotated[
    str,
    StringConstraints(min_length=1, max_length=253, pattern=SINGLE_LINE),
    AfterValidator(_smtp_host),
]


class WebhookFields(BaseModel):
    """A webhook: Lifeboat POSTs JSON to `url` with `X-Lifeboat-Signature: sha256=<hex>`, the
    HMAC-SHA256 under `secret` of `<X-Lifeboat-Timestamp>.<body>`."""

    model_config = ConfigDict(extra="forbid")

    url: WebhookUrl


class WebhookCreate(WebhookFields):
    secret: Secret


class WebhookUpdate(WebhookFields):
    secret: Secret | None = Field(default=None, description="write-only; omit to keep it")


class EmailFields(BaseModel):
    """Email through an SMTP server, as plain text, from `from_address` to `to_addresses`."""

    model_config = ConfigDict(extra="forbid")

    smtp_host: SmtpHost
    smtp_port: int = Field(default=587, ge=1, le=65535)
    starttls: bool = Field(default=True, description="Upgrade the connection with STARTTLS")
    username: Text = Field(default="", description="Sign in as this user ('': no sign-in)")
    from_address: EmailAddress
    to_addresses: list[EmailAddress] = Field(min_length=1, max_length=MAX_RECIPIENTS)


class EmailCreate(EmailFields):
    password: Password | None = None


class EmailUpdate(EmailFields):
    password: Password | None = Field(default=None, description="write-only; omit to keep it")


class ReceiverCreate(BaseModel):
    """A webhook or an email receiver: give exactly one of `webhook` and `email`."""

    model_config = ConfigDict(extra="forbid")

    name: Name
    labels: Labels = Field(default_factory=dict)
    webhook: WebhookCreate | None = None
    email: EmailCreate | None = None


class ReceiverUpdate(BaseModel):
    """What is given changes; the block of the receiver's kind replaces its settings (leave
    out `secret` or `password` to keep the stored one). The kind stays."""

    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    labels: Labels | None = None
    webhook: WebhookUpdate | None = None
    email: EmailUpdate | None = None


class WebhookRead(BaseModel):
    url: str
    has_secret: bool


class EmailRead(BaseModel):
    smtp_host: str
    smtp_port: int
    starttls: bool
    username: str
    has_password: bool
    from_address: str
    to_addresses: list[str]


class ReceiverRead(ObjectRead):
    kind: ReceiverKind
    webhook: WebhookRead | None
    email: EmailRead | None
    last_delivery_at: datetime | None = Field(description="The last delivery or test")
    last_delivery_error: str = Field(description="Why it failed; '' when it was delivered")


class NotificationTestRead(BaseModel):
    delivered: bool
    error: str = Field(description="Why the receiver did not take it ('' when it did)")


def _read(receiver: NotificationReceiver) -> ReceiverRead:
    webhook = email = None
    if receiver.kind == ReceiverKind.WEBHOOK:
        webhook = WebhookRead(url=receiver.url, has_secret=receiver.secret_ciphertext is not None)
    else:
        email = EmailRead(
            smtp_host=receiver.smtp_host,
            smtp_port=receiver.smtp_port,
            starttls=receiver.smtp_starttls,
            username=receiver.smtp_username,
            has_password=receiver.smtp_password_ciphertext is not None,
            from_address=receiver.from_address,
            to_addresses=list(receiver.to_addresses),
        )
    return ReceiverRead(
        **ObjectRead.model_validate(receiver).model_dump(),
        kind=ReceiverKind(receiver.kind),
        webhook=webhook,
        email=email,
        last_delivery_at=receiver.last_delivery_at,
        last_delivery_error=receiver.last_delivery_error,
    )


def _set_webhook(receiver: NotificationReceiver, body: WebhookFields, box: SecretBox) -> None:
    receiver.url = body.url
    secret = getattr(body, "secret", None)
    if secret is not None:
        receiver.secret_ciphertext = box.encrypt(secret)


def _set_email(receiver: NotificationReceiver, body: EmailFields, box: SecretBox) -> None:
    receiver.smtp_host, receiver.smtp_port = body.smtp_host, body.smtp_port
    receiver.smtp_starttls, receiver.smtp_username = body.starttls, body.username
    receiver.from_address, receiver.to_addresses = body.from_address, list(body.to_addresses)
    password = getattr(body, "password", None)
    if password is not None:
        receiver.smtp_password_ciphertext = box.encrypt(password)


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_receiver(
    body: ReceiverCreate, ctx: CreateReceiver, state: StateDep
) -> ReceiverRead:
    """Add a receiver owned by the caller (any Lifeboat role may: every role owns backups or
    restores to be told about); its name must be new among the caller's receivers."""
    if (body.webhook is None) == (body.email is None):
        raise Unprocessable(
            "give exactly one of `webhook` (url, secret) and `email` (smtp_host, from_address, "
            "to_addresses, ...)",
            field="webhook",
        )
    receiver = NotificationReceiver(name=body.name, labels=body.labels, owner_id=ctx.caller.subject)
    if body.webhook is not None:
        receiver.kind = ReceiverKind.WEBHOOK
        _set_webhook(receiver, body.webhook, state.secrets)
    elif body.email is not None:
        receiver.kind = ReceiverKind.EMAIL
        _set_email(receiver, body.email, state.secrets)
    return _read(await save_unique(ctx, receiver))


@router.get("")
async def list_receivers(ctx: ViewReceiver, page: PageDep) -> ListOf[ReceiverRead]:
    """The caller's receivers (everyone's for a super admin), by name."""
    rows, next_page = await list_page(ctx, NotificationReceiver, page)
    items = [_read(r) for r in rows]
    return ListOf(items=items, count=len(items), next=next_page)


@router.get("/{uid}")
async def get_receiver(uid: Uid, ctx: ViewReceiver) -> ReceiverRead:
    return _read(await ctx.load(NotificationReceiver, uid))


@router.patch("/{uid}")
async def update_receiver(
    uid: Uid, body: ReceiverUpdate, ctx: EditReceiver, state: StateDep
) -> ReceiverRead:
    """Change what is given: name, labels, or the settings of the receiver's kind."""
    receiver = await ctx.load(NotificationReceiver, uid)
    kind = ReceiverKind(receiver.kind)
    other = body.email if kind == ReceiverKind.WEBHOOK else body.webhook
    if other is not None:
        wrong = "email" if kind == ReceiverKind.WEBHOOK else "webhook"
        raise Unprocessable(
            f"receiver {receiver.name} is a {kind} receiver: change its `{kind}` settings, or "
            f"add a new receiver for {wrong}",
            field=wrong,
        )
    if body.name is not None:
        receiver.name = body.name
    if body.labels is not None:
        receiver.labels = body.labels
    if body.webhook is not None:
        _set_webhook(receiver, body.webhook, state.secrets)
    if body.email is not None:
        _set_email(receiver, body.email, state.secrets)
    return _read(await save_unique(ctx, receiver))


@router.delete("/{uid}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_receiver(uid: Uid, ctx: DeleteReceiver) -> None:
    """Remove a receiver; refused while subscriptions send to it."""
    receiver = await ctx.load(NotificationReceiver, uid)
    using = list(
        await ctx.session.scalars(
            select(NotificationSubscription.name)
            .where(NotificationSubscription.receiver_uid == uid)
            .order_by(NotificationSubscription.name)
        )
    )
    if using:
        raise Conflict(
            f"receiver {receiver.name} is used by subscription(s) {', '.join(using)}: "
            "delete them or point them at another receiver first"
        )
    await delete_object(ctx, receiver)


@router.post("/{uid}/test")
async def test_receiver(uid: Uid, ctx: EditReceiver, temporal: TemporalDep) -> NotificationTestRead:
    """Send a test message now (through the worker) and say whether the receiver took it;
    the result is recorded as the receiver's last delivery too."""
    receiver = await ctx.load(NotificationReceiver, uid)
    owner_id = receiver.owner_id
    await ctx.session.commit()  # the test takes seconds: hold no connection meanwhile
    try:
        result: DeliveryResult = await temporal.execute_workflow(
            NotificationTestWorkflow.run,
            NotificationTestInput(uid),
            id=notification_test_workflow_id(uid),
            task_queue=ctx.settings.task_queue,
            execution_timeout=TEST_TIMEOUT,
            search_attributes=search_attributes(
                owner=owner_id, cluster="", kind="notification-test"
            ),
        )
    except WorkflowFailureError as exc:
        raise ServiceUnavailable(
            f"the test message was not sent ({exc.cause}): make sure a worker is running, "
            "then try again"
        ) from exc
    return NotificationTestRead(delivered=result.delivered, error=result.error)
