"""What discovery reads from users and from gardens: label selectors and credential expiry."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from lifeboat.credentials import credentials_expire_at
from lifeboat.label_selectors import LabelSelectorError, check_label_selector

VALID = [
    "",
    "env=prod",
    "env==prod",
    "env!=dev",
    "env",
    "!env",
    "env in (prod, staging)",
    "tier notin (frontend)",
    "shoot.gardener.cloud/purpose=production,team in (a,b),!deprecated",
    "empty=",
]
INVALID = {
    "env=prod,": "empty requirement",
    "env in ()": "set of values is empty",
    "env in (a": "without its ')'",
    "env in a)": "without its '('",
    "-bad=x": "key name",
    "Example.com/x=y": "key prefix",
    "env=-x": "value",
    "env=" + "v" * 64: "value",
    "env = prod stuff": "cannot read",
    "env => prod": "cannot read",
}


@pytest.mark.parametrize("selector", VALID)
def test_selectors_the_api_server_accepts_pass(selector: str) -> None:
    assert check_label_selector(f" {selector} ") == selector


@pytest.mark.parametrize("selector", INVALID)
def test_bad_selectors_are_refused_saying_what_is_wrong(selector: str) -> None:
    with pytest.raises(LabelSelectorError) as caught:
        check_label_selector(selector)
    assert INVALID[selector] in str(caught.value)


def _kubeconfig(user: dict[str, Any]) -> dict[str, Any]:
    return {
        "kind": "Config",
        "current-context": "c",
        "contexts": [{"name": "c", "context": {"cluster": "k", "user": "u"}}],
        "clusters": [{"name": "k", "cluster": {"server": "https://127.0.0.1:6443"}}],
        "users": [{"name": "other", "user": {"token": "x"}}, {"name": "u", "user": user}],
    }


def _jwt(claims: dict[str, Any]) -> str:
    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'RS256'})}.{part(claims)}.c2lnbmF0dXJl"


def _certificate(not_after: datetime) -> tuple[str, str]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "admin")])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(not_after - timedelta(days=1))
        .not_valid_after(not_after)
        .sign(key, hashes.SHA256())
    )
    pem = certificate.public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return base64.b64encode(pem).decode(), base64.b64encode(key_pem).decode()


def test_expiry_comes_from_the_token_or_certificate_of_the_current_user() -> None:
    exp = datetime(2031, 5, 4, 3, 2, 1, tzinfo=UTC)
    token = _jwt({"sub": "system:serviceaccount:garden-a:x", "exp": int(exp.timestamp())})
    assert credentials_expire_at(_kubeconfig({"token": token})) == exp

    cert_expiry = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    cert, key = _certificate(cert_expiry)
    user = {"client-certificate-data": cert, "client-key-data": key}
    assert credentials_expire_at(_kubeconfig(user)) == cert_expiry
    # Both: the earlier one ends access.
    assert credentials_expire_at(_kubeconfig({**user, "token": token})) == cert_expiry


@pytest.mark.parametrize(
    "user",
    [
        {"token": "an-opaque-static-token"},
        {"token": _jwt({"sub": "no expiry"})},
        {"token": "not.a.jwt!"},
        {"username": "admin", "password": "secret"},
    ],
)
def test_expiry_is_unknown_when_the_credentials_do_not_say(user: dict[str, Any]) -> None:
    assert credentials_expire_at(_kubeconfig(user)) is None
