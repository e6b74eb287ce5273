"""`lifeboat receiver|subscription ...`: who is told when a backup or restore ends, and of what.

Secrets never appear on the command line: a webhook's HMAC secret is generated and printed once
on create (or read from stdin with `--secret-stdin`), an SMTP password is read from stdin with
`--password-stdin`; the API never returns either, so nothing here can print a stored one.
"""

from __future__ import annotations

import secrets
import sys
from typing import Annotated, Any

import typer

from cli import crud
from cli.api import Api
from cli.errors import CliError, Exit
from cli.output import Format, FormatOption, console, emit, errors, print_fields, print_table
from cli.resolve import RECEIVER, SCHEDULE, SUBSCRIPTION, resolve, uid_of

receiver_app = typer.Typer(
    help="Notification receivers: webhooks and email addresses told of finished backups and "
    "restores."
)
subscription_app = typer.Typer(
    help="Notification subscriptions: which events of your backups and restores go to which "
    "receiver."
)

EVENTS = (
    "backup.failed, backup.partially_failed, backup.succeeded, restore.failed, restore.succeeded"
)
# 48 hex characters: 192 bits, well over the API's 16-character minimum.
SECRET_BYTES = 24


def _target(receiver: dict[str, Any]) -> str:
    if receiver["webhook"] is not None:
        url: str = receiver["webhook"]["url"]
        return url
    return ", ".join(receiver["email"]["to_addresses"])


def _last_delivery(receiver: dict[str, Any]) -> str:
    # The error itself is long: `receiver get` shows it.
    if not receiver["last_delivery_at"]:
        return "never"
    outcome = "failed" if receiver["last_delivery_error"] else "delivered"
    return f"{outcome} {receiver['last_delivery_at']}"


RECEIVER_FIELDS = {
    "webhook": ("url", "has_secret"),
    "email": ("smtp_host", "smtp_port", "starttls", "username", "has_password", "from_address",
              "to_addresses"),
}  # fmt: skip


def _show_receiver(receiver: dict[str, Any]) -> None:
    kind = receiver["kind"]
    # The kind's settings read as the receiver's own fields; the API keeps them in a block.
    flat = {**receiver, **(receiver[kind] or {})}
    print_fields(
        flat,
        ("uid", "name", "owner", "kind", *RECEIVER_FIELDS[kind], "last_delivery_at",
         "last_delivery_error", "created_at"),
    )  # fmt: skip


RECEIVERS = crud.Listing(
    RECEIVER,
    ("name", "owner", "kind", "sends to", "last delivery", "uid"),
    lambda r: (r["name"], r["owner"], r["kind"], _target(r), _last_delivery(r), r["uid"]),
    (),  # `receiver get` shows the fields of the receiver's kind: _show_receiver
)
SUBSCRIPTIONS = crud.Listing(
    SUBSCRIPTION,
    ("name", "owner", "receiver", "events", "schedule", "uid"),
    crud.columns("name", "owner", "receiver_uid", "events", "schedule_uid", "uid"),
    ("uid", "name", "owner", "receiver_uid", "events", "schedule_uid", "created_at"),
)

crud.add_list(receiver_app, RECEIVERS, "The notification receivers you may see.")
crud.add_delete(
    receiver_app,
    RECEIVER,
    "Delete a receiver (refused while subscriptions send to it; asks first, --yes does not).",
)
crud.add_get(subscription_app, SUBSCRIPTIONS, "One subscription, by name or uid.")
crud.add_delete(
    subscription_app, SUBSCRIPTION, "Delete a subscription (asks first; --yes does not)."
)

ReceiverRef = Annotated[str, crud.ref_argument(RECEIVER)]
SecretStdinOption = Annotated[
    bool,
    typer.Option(
        "--secret-stdin",
        help="Webhook: read the HMAC secret (16 characters or more) from stdin instead of "
        "generating one",
    ),
]
PasswordStdinOption = Annotated[
    bool, typer.Option("--password-stdin", help="Email: read the SMTP password from stdin")
]
SmtpPortOption = Annotated[int, typer.Option(help="Email: the SMTP server's port")]
StarttlsOption = Annotated[
    bool, typer.Option("--starttls/--no-starttls", help="Email: upgrade with STARTTLS")
]
UsernameOption = Annotated[
    str, typer.Option(help="Email: sign in to the SMTP server as this user ('' for none)")
]


def _stdin_line(what: str, option: str) -> str:
    line = sys.stdin.readline().rstrip("\n")
    if not line:
        raise CliError(f"{option}: pipe the {what} into standard input", Exit.USAGE)
    return line


@receiver_app.command("get")
def get_receiver(ref: ReceiverRef, output: FormatOption = Format.TABLE) -> None:
    """One receiver with its last delivery, by name or uid (secrets show only as has_*)."""
    api = Api()
    emit(api.get(f"{RECEIVER.path}/{uid_of(api, RECEIVER, ref)}"), output, _show_receiver)


@receiver_app.command("create")
def create_receiver(
    name: Annotated[str, typer.Argument(help="A name for the receiver, unique among yours")],
    url: Annotated[str, typer.Option(help="Webhook: the URL Lifeboat POSTs JSON to")] = "",
    secret_stdin: SecretStdinOption = False,
    smtp_host: Annotated[str, typer.Option(help="Email: the SMTP server's host")] = "",
    smtp_port: SmtpPortOption = 587,
    starttls: StarttlsOption = True,
    from_address: Annotated[str, typer.Option("--from", help="Email: the sender address")] = "",
    to_addresses: Annotated[
        list[str] | None,
        typer.Option("--to", help="Email: a recipient (repeat for several)", show_default=False),
    ] = None,
    username: UsernameOption = "",
    password_stdin: PasswordStdinOption = False,
    output: FormatOption = Format.TABLE,
) -> None:
    """Add a webhook (--url) or an email receiver (--smtp-host, --from, --to). A webhook's
    secret is generated and printed once, on stderr, unless --secret-stdin gives it."""
    if bool(url) == bool(smtp_host):
        raise CliError("give one of --url (a webhook) and --smtp-host (email)", Exit.USAGE)
    body: dict[str, Any] = {"name": name}
    generated = ""
    if url:
        if secret_stdin:
            secret = _stdin_line("webhook secret", "--secret-stdin")
        else:
            secret = generated = secrets.token_hex(SECRET_BYTES)
        body["webhook"] = {"url": url, "secret": secret}
    else:
        email: dict[str, Any] = {
            "smtp_host": smtp_host, "smtp_port": smtp_port, "starttls": starttls,
            "username": username, "from_address": from_address, "to_addresses": to_addresses or [],
        }  # fmt: skip
        if password_stdin:
            email["password"] = _stdin_line("SMTP password", "--password-stdin")
        body["email"] = email
    emit(Api().post(RECEIVER.path, body), output, _show_receiver)
    if generated:
        # On stderr: with -o json|yaml, stdout is the API's object alone.
        errors.print(
            f"webhook secret (shown only now; verify signatures with it): {generated}",
            highlight=False,
        )


@receiver_app.command("edit")
def edit_receiver(
    ref: ReceiverRef,
    name: Annotated[str, typer.Option(help="A new name")] = "",
    url: Annotated[str, typer.Option(help="Webhook: another URL")] = "",
    secret_stdin: Annotated[
        bool, typer.Option("--secret-stdin", help="Webhook: read a new secret from stdin")
    ] = False,
    smtp_host: Annotated[str, typer.Option(help="Email: another SMTP host")] = "",
    smtp_port: Annotated[
        int | None, typer.Option(help="Email: another SMTP port", show_default=False)
    ] = None,
    starttls: Annotated[
        bool | None,
        typer.Option("--starttls/--no-starttls", help="Email: STARTTLS or not", show_default=False),
    ] = None,
    from_address: Annotated[str, typer.Option("--from", help="Email: another sender")] = "",
    to_addresses: Annotated[
        list[str] | None,
        typer.Option("--to", help="Email: these recipients instead (repeat for several)"),
    ] = None,
    username: Annotated[
        str | None, typer.Option(help="Email: another SMTP user ('' for none)", show_default=False)
    ] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Email: read a new SMTP password from stdin")
    ] = False,
    output: FormatOption = Format.TABLE,
) -> None:
    """Change a receiver (what is not given stays, its secret or password included); the
    kind stays: a webhook takes webhook options, an email receiver email options."""
    api = Api()
    current = resolve(api, RECEIVER, ref)
    body: dict[str, Any] = {"name": name} if name else {}
    webhook_given = bool(url or secret_stdin)
    email_given = any(
        (smtp_host, smtp_port is not None, starttls is not None, from_address, to_addresses,
         username is not None, password_stdin)
    )  # fmt: skip
    if current["kind"] == "webhook" and webhook_given:
        webhook: dict[str, Any] = {"url": url or current["webhook"]["url"]}
        if secret_stdin:
            webhook["secret"] = _stdin_line("webhook secret", "--secret-stdin")
        body["webhook"] = webhook
    elif current["kind"] == "email" and email_given:
        kept = current["email"]
        email: dict[str, Any] = {
            "smtp_host": smtp_host or kept["smtp_host"],
            "smtp_port": kept["smtp_port"] if smtp_port is None else smtp_port,
            "starttls": kept["starttls"] if starttls is None else starttls,
            "username": kept["username"] if username is None else username,
            "from_address": from_address or kept["from_address"],
            "to_addresses": to_addresses or kept["to_addresses"],
        }
        if password_stdin:
            email["password"] = _stdin_line("SMTP password", "--password-stdin")
        body["email"] = email
    elif webhook_given or email_given:
        other = "email" if current["kind"] == "webhook" else "webhook"
        raise CliError(
            f"receiver {current['name']} is a {current['kind']} receiver: its {other} options "
            f"do not apply; create a new receiver for {other}",
            Exit.USAGE,
        )
    emit(api.patch(f"{RECEIVER.path}/{current['uid']}", body), output, _show_receiver)


@receiver_app.command("test")
def test_receiver(ref: ReceiverRef, output: FormatOption = Format.TABLE) -> None:
    """Send a test message now and say whether the receiver took it; exit 5 when it did not."""
    api = Api()
    receiver = resolve(api, RECEIVER, ref)
    result = api.post(f"{RECEIVER.path}/{receiver['uid']}/test")

    def said(answer: dict[str, Any]) -> None:
        if answer["delivered"]:
            console.print(
                f"delivered a test message to receiver {receiver['name']}", highlight=False
            )

    emit(result, output, said)
    if not result["delivered"]:
        raise CliError(
            f"receiver {receiver['name']} did not take the test message: {result['error']}",
            Exit.OPERATION_FAILED,
        )


EventsOption = Annotated[
    list[str] | None,
    typer.Option("--event", help=f"An event to be told of (repeat for several): {EVENTS}"),
]
ScheduleHelp = "Only this backup schedule's backups (name or uid)"


@subscription_app.command("list")
def list_subscriptions(output: FormatOption = Format.TABLE) -> None:
    """The notification subscriptions you may see, with their receivers' names."""
    api = Api()
    page = api.get_all(SUBSCRIPTION.path)

    def table(page: dict[str, Any]) -> None:
        names = {r["uid"]: r["name"] for r in api.get_all(RECEIVER.path)["items"]}
        rows = [
            SUBSCRIPTIONS.row(
                {**s, "receiver_uid": names.get(s["receiver_uid"], s["receiver_uid"]),
                 "schedule_uid": s["schedule_uid"] or "all yours"}
            )
            for s in page["items"]
        ]  # fmt: skip
        print_table("", SUBSCRIPTIONS.headers, rows)

    emit(page, output, table)


@subscription_app.command("create")
def create_subscription(
    name: Annotated[str, typer.Argument(help="A name for the subscription, unique among yours")],
    receiver: Annotated[str, typer.Option(help="Your receiver's name or uid", show_default=False)],
    event: EventsOption = None,
    schedule: Annotated[str, typer.Option(help=f"{ScheduleHelp} (default: all yours)")] = "",
    output: FormatOption = Format.TABLE,
) -> None:
    """Send events of your backups and restores (or one schedule's backups) to a receiver."""
    if not event:
        raise CliError(f"give at least one --event: {EVENTS}", Exit.USAGE)
    api = Api()
    body: dict[str, Any] = {
        "name": name,
        "receiver_uid": uid_of(api, RECEIVER, receiver),
        "events": event,
    }
    if schedule:
        body["schedule_uid"] = uid_of(api, SCHEDULE, schedule)
    emit(api.post(SUBSCRIPTION.path, body), output, SUBSCRIPTIONS.show)


@subscription_app.command("edit")
def edit_subscription(
    ref: Annotated[str, crud.ref_argument(SUBSCRIPTION)],
    name: Annotated[str, typer.Option(help="A new name")] = "",
    receiver: Annotated[str, typer.Option(help="Another receiver of yours (name or uid)")] = "",
    event: Annotated[
        list[str] | None,
        typer.Option("--event", help=f"These events instead (repeat for several): {EVENTS}"),
    ] = None,
    schedule: Annotated[
        str | None,
        typer.Option(help=f"{ScheduleHelp}; '' for all your backups and restores"),
    ] = None,
    output: FormatOption = Format.TABLE,
) -> None:
    """Change a subscription (what is not given stays); checked as a new one would be."""
    api = Api()
    uid = uid_of(api, SUBSCRIPTION, ref)
    body: dict[str, Any] = {"name": name} if name else {}
    if receiver:
        body["receiver_uid"] = uid_of(api, RECEIVER, receiver)
    if event:
        body["events"] = event
    if schedule is not None:
        body["schedule_uid"] = uid_of(api, SCHEDULE, schedule) if schedule else None
    emit(api.patch(f"{SUBSCRIPTION.path}/{uid}", body), output, SUBSCRIPTIONS.show)
