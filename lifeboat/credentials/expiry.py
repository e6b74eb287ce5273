"""When a kubeconfig's credentials stop working, read from the credentials themselves.

A bearer token that is a JWT (service-account tokens, Gardener's short-lived tokens) says so in
its `exp` claim; a client certificate in its notAfter. Opaque tokens and passwords do not say:
their expiry is unknown (None). Nothing here verifies a signature: the API server does that.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import UTC, datetime
from typing import Any

from cryptography import x509

from lifeboat.kubeconfig import summarize


def _jwt_expiry(token: str) -> datetime | None:
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
        exp = claims["exp"] if isinstance(claims, dict) else None
        return datetime.fromtimestamp(float(exp), UTC) if exp is not None else None
    except (binascii.Error, ValueError, KeyError, TypeError, OverflowError, OSError):
        return None


def _certificate_expiry(data: str) -> datetime | None:
    try:
        certificate = x509.load_pem_x509_certificate(base64.b64decode(data))
    except (binascii.Error, ValueError):
        return None
    return certificate.not_valid_after_utc


def credentials_expire_at(config: dict[str, Any]) -> datetime | None:
    """When the current context's credentials expire (the earliest of token and certificate).

    `config` is a kubeconfig validated by `lifeboat.kubeconfig.parse_kubeconfig`.
    """
    user_name = summarize(config).user
    user = next(u["user"] for u in config["users"] if u.get("name") == user_name)
    expiries = []
    if isinstance(user.get("token"), str):
        expiries.append(_jwt_expiry(user["token"]))
    if user.get("client-certificate-data"):
        expiries.append(_certificate_expiry(str(user["client-certificate-data"])))
    known = [e for e in expiries if e is not None]
    return min(known) if known else None
