"""License documents: signing, the key and file forms, and the state at a given time."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from lifeboat.licensing import (
    ENFORCED,
    LicenseDocument,
    LicenseInvalid,
    LicenseState,
    as_file,
    evaluate,
    key_of_file,
    public_key_text,
    read_key,
    sign,
    trial,
)

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
VENDOR = Ed25519PrivateKey.generate()
TRUSTED = (public_key_text(VENDOR),)
HERE = "installation-1"


def _document(**changes: object) -> LicenseDocument:
    fields: dict[str, object] = {
        "id": "lic-1", "customer": "Example Corp", "edition": "enterprise",
        "features": ["virtual-machines"], "node_limit": 10, "valid_from": NOW - timedelta(days=1),
        "valid_until": NOW + timedelta(days=365), "grace_days": 7, "issued_at": NOW,
    }  # fmt: skip
    return LicenseDocument.model_validate(fields | changes)


def test_a_signed_key_reads_back_as_its_document() -> None:
    document = _document()
    assert read_key(sign(document, VENDOR), TRUSTED) == document


def test_a_key_with_one_changed_character_is_refused_naming_the_signature() -> None:
    key = sign(_document(node_limit=10), VENDOR)
    prefix, body, signature = key.split(".")
    forged = json.dumps(json.loads(_decode(body)) | {"node_limit": 1000}).encode()
    with pytest.raises(LicenseInvalid, match="signature does not match"):
        read_key(f"{prefix}.{_encode(forged)}.{signature}", TRUSTED)


def test_a_key_signed_by_an_untrusted_key_is_refused() -> None:
    other = Ed25519PrivateKey.generate()
    with pytest.raises(LicenseInvalid, match="key this installation does not trust"):
        read_key(sign(_document(), other), TRUSTED)
    # Trusting the second key too (a vendor key rotation) accepts both.
    both = (*TRUSTED, public_key_text(other))
    assert read_key(sign(_document(), other), both).id == "lic-1"


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("", "three parts"),
        ("lifeboat-license-v1.abc", "three parts"),
        ("other-prefix.a.b", "three parts"),
        ("lifeboat-license-v1.!!!.???", "base64url"),
    ],
)
def test_a_malformed_key_says_what_a_key_looks_like(text: str, says: str) -> None:
    with pytest.raises(LicenseInvalid, match=says):
        read_key(text, TRUSTED)


def test_the_file_form_holds_the_same_license() -> None:
    key = sign(_document(), VENDOR)
    text = as_file(key)
    assert json.loads(text)["license"]["customer"] == "Example Corp"
    assert read_key(key_of_file(text), TRUSTED) == _document()
    edited = text.replace('"node_limit": 10', '"node_limit": 99')
    with pytest.raises(LicenseInvalid, match="signature"):
        read_key(key_of_file(edited), TRUSTED)
    with pytest.raises(LicenseInvalid, match="format"):
        key_of_file('{"license": {}}')


@pytest.mark.parametrize(
    ("changes", "nodes", "state"),
    [
        ({}, 10, LicenseState.VALID),
        ({"valid_until": NOW + timedelta(days=20)}, 3, LicenseState.EXPIRING_SOON),
        ({"valid_until": NOW - timedelta(days=1)}, 3, LicenseState.IN_GRACE),
        ({"valid_until": NOW - timedelta(days=8)}, 3, LicenseState.EXPIRED),
        ({}, 11, LicenseState.OVER_LIMIT),
        ({"valid_from": NOW + timedelta(days=1)}, 3, LicenseState.INVALID),
        ({"installation_id": HERE}, 3, LicenseState.VALID),
        ({"installation_id": "another-installation"}, 3, LicenseState.INVALID),
    ],
)
def test_the_state_follows_time_and_usage(
    changes: dict[str, object], nodes: int, state: LicenseState
) -> None:
    status = evaluate(_document(**changes), nodes_used=nodes, now=NOW, installation_id=HERE)
    assert status.state == state, status.reason
    assert status.enforced == (state in ENFORCED)
    if state == LicenseState.IN_GRACE:
        assert "grace period ends on 2026-12-10" in status.reason
    if state == LicenseState.OVER_LIMIT:
        assert "11 nodes and the license allows 10" in status.reason


def test_the_trial_allows_backups_for_its_days_then_asks_for_a_license() -> None:
    installed = NOW - timedelta(days=10)
    running = evaluate(trial(installed), nodes_used=2, now=NOW, installation_id=HERE, is_trial=True)
    assert running.state == LicenseState.VALID
    later = NOW + timedelta(days=60)
    ended = evaluate(trial(installed), nodes_used=2, now=later, installation_id=HERE, is_trial=True)
    assert ended.state == LicenseState.NO_LICENSE and ended.enforced
    assert "trial ended" in ended.reason


def _decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def _encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")
