"""Licenses: signed documents, their two encoded forms, and what they allow.

A license is a JSON document (customer, edition, features, node limit, validity, grace days)
signed with the vendor's Ed25519 key. It travels as a **license key** (one line:
`lifeboat-license-v1.<document>.<signature>`, both base64url) or as a **license file** (the
same document and signature as readable JSON). The product carries the vendor's public keys;
`LIFEBOAT_LICENSE_PUBLIC_KEYS` adds more (a new vendor key, before the old one is retired).

Usage is the number of nodes of the registered clusters, each cluster counted once however
many users registered it (by its `kube-system` namespace uid). The status follows from the
document, the usage and the time; only some states stop new backups, and none stops restores.
"""

from __future__ import annotations

import base64
import binascii
import enum
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from pydantic import BaseModel, ConfigDict, Field, ValidationError

KEY_PREFIX = "lifeboat-license-v1"
FILE_FORMAT = "lifeboat-license-file-v1"
ACTIVATION_REQUEST_FORMAT = "lifeboat-activation-request-v1"
# The vendor's license signing keys (raw Ed25519 public keys, base64url).
VENDOR_PUBLIC_KEYS = ("h6CTzCPy9AmZp0hYjZaLKorAtBpBUi1hgLJD44AdZhE",)
EXPIRING_SOON_DAYS = 30
TRIAL_DAYS = 60
TRIAL_NODES = 10
# A cluster whose kubeconfig may not list nodes counts as one.
UNCOUNTED_CLUSTER_NODES = 1


class LicenseInvalid(Exception):
    """A license key or file that is malformed, altered or signed by an unknown key."""


class LicenseState(enum.StrEnum):
    VALID = "Valid"
    EXPIRING_SOON = "ExpiringSoon"
    IN_GRACE = "InGrace"
    EXPIRED = "Expired"
    OVER_LIMIT = "OverLimit"
    INVALID = "Invalid"
    NO_LICENSE = "NoLicense"


# States in which new backups are refused and schedules suspended (restores always work).
ENFORCED = frozenset(
    {LicenseState.EXPIRED, LicenseState.OVER_LIMIT, LicenseState.INVALID, LicenseState.NO_LICENSE}
)


class LicenseDocument(BaseModel):
    """What a license grants; signed as a whole by the vendor."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1, max_length=128)
    customer: str = Field(max_length=256)
    edition: str = Field(min_length=1, max_length=64)
    features: list[str] = Field(default_factory=list, max_length=64)
    node_limit: int = Field(ge=0)
    valid_from: datetime
    valid_until: datetime
    grace_days: int = Field(default=0, ge=0, le=365)
    issued_at: datetime
    # Set on licenses issued to one installation (by subscription, or air-gapped in answer to
    # its activation request): valid there only.
    installation_id: str | None = Field(default=None, max_length=64)

    def canonical(self) -> bytes:
        """The bytes the signature covers: sorted keys, no spaces, unset fields left out."""
        document = self.model_dump(mode="json", exclude_none=True)
        return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError) as exc:
        raise LicenseInvalid(f"the license's {what} is not base64url") from exc


def public_key_text(private_key: Ed25519PrivateKey) -> str:
    """The public half of a signing key, as `LIFEBOAT_LICENSE_PUBLIC_KEYS` takes it."""
    return _b64(private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw))


def sign(document: LicenseDocument, private_key: Ed25519PrivateKey) -> str:
    """The license key of a document: what the vendor hands to a customer."""
    payload = document.canonical()
    return f"{KEY_PREFIX}.{_b64(payload)}.{_b64(private_key.sign(payload))}"


def as_file(key: str) -> str:
    """The license file form of a license key (readable JSON, same signature)."""
    _, document, signature = key.split(".")
    body = {
        "format": FILE_FORMAT,
        "license": json.loads(_unb64(document, "document")),
        "signature": signature,
    }
    return json.dumps(body, indent=2, sort_keys=True) + "\n"


def _parse_document(raw: Any) -> LicenseDocument:
    try:
        return LicenseDocument.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "document"
        raise LicenseInvalid(f"the license document's {where} is invalid: {first['msg']}") from exc


def _verify(payload: bytes, signature: bytes, public_keys: tuple[str, ...]) -> None:
    for text in public_keys:
        try:
            Ed25519PublicKey.from_public_bytes(_unb64(text, "public key")).verify(
                signature, payload
            )
            return
        except (InvalidSignature, ValueError, LicenseInvalid):
            continue
    raise LicenseInvalid(
        "the license's signature does not match its contents under any trusted key: it was "
        "altered, or signed by a key this installation does not trust "
        "(LIFEBOAT_LICENSE_PUBLIC_KEYS adds keys)"
    )


def read_key(key: str, public_keys: tuple[str, ...]) -> LicenseDocument:
    """The document of a license key whose signature checks out."""
    parts = key.strip().split(".")
    if len(parts) != 3 or parts[0] != KEY_PREFIX:
        raise LicenseInvalid(
            f"a license key has three parts, `{KEY_PREFIX}.<document>.<signature>`: "
            "paste the whole key as the vendor sent it"
        )
    payload = _unb64(parts[1], "document")
    _verify(payload, _unb64(parts[2], "signature"), public_keys)
    try:
        raw = json.loads(payload)
    except ValueError as exc:
        raise LicenseInvalid("the license's document is not JSON") from exc
    return _parse_document(raw)


def key_of_file(text: str) -> str:
    """The license key a license file holds (checked like any key by `read_key`)."""
    try:
        body = json.loads(text)
    except ValueError as exc:
        raise LicenseInvalid("a license file is JSON; this one does not parse") from exc
    if not isinstance(body, dict) or body.get("format") != FILE_FORMAT:
        raise LicenseInvalid(f'a license file says "format": "{FILE_FORMAT}"; this one does not')
    document = _parse_document(body.get("license"))
    signature = body.get("signature")
    if not isinstance(signature, str):
        raise LicenseInvalid("the license file has no signature")
    return f"{KEY_PREFIX}.{_b64(document.canonical())}.{signature}"


def check_installation(document: LicenseDocument, installation_id: str) -> None:
    """Refuse a license issued to another installation."""
    if document.installation_id not in (None, installation_id):
        raise LicenseInvalid(
            f"the license was issued to installation {document.installation_id}, not to this "
            f"one ({installation_id}): ask the vendor for a license answering this "
            "installation's activation request"
        )


def trial(installed_at: datetime) -> LicenseDocument:
    """What a new installation may do before a license is imported."""
    return LicenseDocument(
        id="trial",
        customer="",
        edition="trial",
        node_limit=TRIAL_NODES,
        valid_from=installed_at,
        valid_until=installed_at + timedelta(days=TRIAL_DAYS),
        issued_at=installed_at,
    )


@dataclass(frozen=True)
class LicenseStatus:
    state: LicenseState
    reason: str
    document: LicenseDocument | None
    nodes_used: int
    days_left: int | None

    @property
    def enforced(self) -> bool:
        return self.state in ENFORCED

    @property
    def refusal(self) -> str:
        """Why a new backup is refused, with the fix (only when enforced)."""
        return (
            f"new backups are refused: {self.reason}. A super admin imports a license under "
            "Settings > License (POST /api/v1/license); restores keep working"
        )


def evaluate(
    document: LicenseDocument | None,
    *,
    nodes_used: int,
    now: datetime,
    installation_id: str,
    is_trial: bool = False,
) -> LicenseStatus:
    """The state of a license (or of the trial) for this installation, usage and time."""
    if document is None:
        return LicenseStatus(LicenseState.NO_LICENSE, "no license", None, nodes_used, None)
    until = document.valid_until.astimezone(UTC)
    days_left = (until - now).days
    grace_ends = until + timedelta(days=document.grace_days)

    def status(state: LicenseState, reason: str) -> LicenseStatus:
        return LicenseStatus(state, reason, document, nodes_used, days_left)

    try:
        check_installation(document, installation_id)
    except LicenseInvalid as exc:
        return status(LicenseState.INVALID, str(exc))
    if now < document.valid_from.astimezone(UTC):
        return status(LicenseState.INVALID, f"the license is valid only from {document.valid_from}")
    if is_trial and now >= until:
        return status(
            LicenseState.NO_LICENSE, f"the {TRIAL_DAYS}-day trial ended on {until:%Y-%m-%d}"
        )
    if now >= grace_ends:
        return status(LicenseState.EXPIRED, f"the license expired on {until:%Y-%m-%d}")
    if nodes_used > document.node_limit:
        return status(
            LicenseState.OVER_LIMIT,
            f"the clusters have {nodes_used} nodes and the license allows {document.node_limit}",
        )
    if now >= until:
        return status(
            LicenseState.IN_GRACE,
            f"the license expired on {until:%Y-%m-%d}; backups go on until the grace period "
            f"ends on {grace_ends:%Y-%m-%d}",
        )
    if days_left < EXPIRING_SOON_DAYS:
        return status(LicenseState.EXPIRING_SOON, f"the license expires in {days_left} days")
    return status(LicenseState.VALID, "")
