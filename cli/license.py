"""`lifeboat license ...`: the installation's license, and minting licenses on the vendor side."""

from __future__ import annotations

import json
import os
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    load_pem_private_key,
)

from cli.api import Api
from cli.errors import CliError
from cli.output import Format, FormatOption, console, emit, print_fields
from lifeboat.licensing import (
    ACTIVATION_REQUEST_FORMAT,
    LicenseDocument,
    as_file,
    public_key_text,
    sign,
)

license_app = typer.Typer(help="The license: status, import, removal; and minting (vendor side).")

LICENSE_FIELDS = (
    "state", "reason", "backups_allowed", "license_id", "customer", "edition", "node_limit",
    "nodes_used", "valid_from", "valid_until", "grace_days", "days_left", "imported_as",
    "imported_by", "imported_at", "renewed_at", "renewal_error",
)  # fmt: skip


def _show(read: dict[str, object], output: Format) -> None:
    emit(read, output, lambda r: print_fields(r, LICENSE_FIELDS))


@license_app.command("status")
def status(output: FormatOption = Format.TABLE) -> None:
    """The license's state, node limit and nodes in use (every signed-in user may read it)."""
    _show(Api().get("/license"), output)


@license_app.command("import")
def import_license(
    key: Annotated[str | None, typer.Option(help="The one-line license key")] = None,
    file: Annotated[Path | None, typer.Option(help="A license file")] = None,
    subscription: Annotated[
        str | None, typer.Option(help="A subscription's activation id (renewed by Lifeboat)")
    ] = None,
    output: FormatOption = Format.TABLE,
) -> None:
    """Import a license by key, by file, or by subscription (super admins)."""
    if sum(form is not None for form in (key, file, subscription)) != 1:
        raise CliError("give exactly one of --key, --file and --subscription")
    body = {"key": key} if subscription is None else {"subscription": subscription}
    if file is not None:
        try:
            body = {"file": file.read_text()}
        except OSError as exc:
            raise CliError(f"cannot read --file {file}: {exc.strerror}") from exc
    _show(Api().post("/license", body), output)


@license_app.command("remove")
def remove(output: FormatOption = Format.TABLE) -> None:
    """Remove the imported license; the installation is back on its trial, or unlicensed."""
    _show(Api().call("DELETE", "/license"), output)


@license_app.command("activation-request")
def activation_request() -> None:
    """Print this installation's activation request (air-gapped: save it, send it to the
    vendor, then `license import --file` the license file they answer)."""
    console.print_json(data=Api().get("/license/activation-request"))


@license_app.command("keygen", rich_help_panel="Vendor")
def keygen(
    out: Annotated[Path, typer.Option(help="Where to write the private key (PEM, mode 0600)")],
) -> None:
    """Make a license signing key; prints its public half for LIFEBOAT_LICENSE_PUBLIC_KEYS."""
    private_key = Ed25519PrivateKey.generate()
    pem = private_key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
    console.print(public_key_text(private_key), highlight=False)


@license_app.command("mint", rich_help_panel="Vendor")
def mint(
    private_key: Annotated[Path, typer.Option(help="The signing key (PEM) from `keygen`")],
    customer: Annotated[str, typer.Option(help="Whom the license is for")],
    nodes: Annotated[int, typer.Option(min=0, help="How many nodes it allows")],
    days: Annotated[int, typer.Option(help="Valid for this many days from --valid-from")] = 365,
    valid_from: Annotated[
        datetime | None, typer.Option(help="Start of validity (default: now), UTC")
    ] = None,
    grace_days: Annotated[int, typer.Option(min=0, max=365)] = 14,
    edition: Annotated[str, typer.Option()] = "enterprise",
    feature: Annotated[list[str] | None, typer.Option(help="A feature (repeatable)")] = None,
    license_id: Annotated[str | None, typer.Option("--id", help="Default: a new uuid")] = None,
    file: Annotated[Path | None, typer.Option(help="Also write the license file form here")] = None,
    request: Annotated[
        Path | None,
        typer.Option(help="An installation's activation request: the license is for it only"),
    ] = None,
) -> None:
    """Sign a license with a private key and print its license key."""
    installation_id = None
    if request is not None:
        try:
            asked = json.loads(request.read_text())
        except (OSError, ValueError) as exc:
            raise CliError(f"cannot read --request {request}: {exc}") from exc
        if not isinstance(asked, dict) or asked.get("format") != ACTIVATION_REQUEST_FORMAT:
            raise CliError(f"--request {request} is not a Lifeboat activation request")
        installation_id = asked.get("installation_id")
    try:
        loaded = load_pem_private_key(private_key.read_bytes(), password=None)
    except (OSError, ValueError) as exc:
        raise CliError(f"cannot read --private-key {private_key}: {exc}") from exc
    if not isinstance(loaded, Ed25519PrivateKey):
        raise CliError(f"--private-key {private_key} is not an Ed25519 key (make one: keygen)")
    start = (valid_from or datetime.now(UTC)).replace(microsecond=0)
    start = start if start.tzinfo else start.replace(tzinfo=UTC)
    document = LicenseDocument(
        id=license_id or str(uuid.uuid4()),
        customer=customer,
        edition=edition,
        features=feature or [],
        node_limit=nodes,
        valid_from=start,
        valid_until=start + timedelta(days=days),
        grace_days=grace_days,
        issued_at=datetime.now(UTC).replace(microsecond=0),
        installation_id=installation_id,
    )
    key = sign(document, loaded)
    if file is not None:
        file.write_text(as_file(key))
    console.print(key, highlight=False, soft_wrap=True)
