"""Lighthouses: a storage cluster's SDK endpoint and the credentials Lifeboat reaches it with.

The credentials (a bearer token, or a client certificate and its key for mutual TLS) are kept
as one JSON document encrypted with the deployment's secret key; the API checks them before
storing, the worker decrypts them only inside the check activity.
"""

from __future__ import annotations

import enum
import json
from dataclasses import asdict, dataclass

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization


class LighthouseSecurity(enum.StrEnum):
    """How Lifeboat proves itself to the storage cluster."""

    TOKEN = "token"  # `Authorization: bearer <token>`
    TLS = "tls"  # a client certificate signed by a CA the cluster trusts


class CredentialsError(ValueError):
    """Credentials that cannot be used; the message names the fix, `field` the input."""

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class LighthouseCredentials:
    """The secret part of a lighthouse: a token, or a client certificate and its key (PEM)."""

    token: str = ""
    certificate: str = ""
    key: str = ""

    def to_json(self) -> str:
        return json.dumps({k: v for k, v in asdict(self).items() if v})

    @classmethod
    def from_json(cls, text: str) -> LighthouseCredentials:
        """The credentials `to_json` wrote; ValueError for any other document."""
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError("the credentials are not a JSON object")
        return cls(
            token=str(data.get("token", "")),
            certificate=str(data.get("certificate", "")),
            key=str(data.get("key", "")),
        )


_DER = serialization.Encoding.DER
_SPKI = serialization.PublicFormat.SubjectPublicKeyInfo


def check_client_certificate(certificate: str, key: str) -> None:
    """A PEM client certificate and the unencrypted PEM private key it was issued for."""
    try:
        cert = x509.load_pem_x509_certificate(certificate.encode())
    except ValueError:
        raise CredentialsError(
            "is not a PEM certificate: paste the client certificate, from "
            "-----BEGIN CERTIFICATE----- to -----END CERTIFICATE-----",
            field="certificate",
        ) from None
    try:
        private_key = serialization.load_pem_private_key(key.encode(), password=None)
    except TypeError:
        raise CredentialsError(
            "is encrypted with a passphrase: decrypt it first "
            "(openssl pkey -in client.key -out client-plain.key)",
            field="key",
        ) from None
    except (ValueError, UnsupportedAlgorithm):
        raise CredentialsError(
            "is not a PEM private key: paste the client certificate's key, from "
            "-----BEGIN ... PRIVATE KEY----- to -----END ... PRIVATE KEY-----",
            field="key",
        ) from None
    if private_key.public_key().public_bytes(_DER, _SPKI) != cert.public_key().public_bytes(
        _DER, _SPKI
    ):
        raise CredentialsError(
            "does not belong to the certificate: paste the private key the client "
            f"certificate ({cert.subject.rfc4514_string() or 'no subject'}) was issued for",
            field="key",
        )


def check_ca_certificate(pem: str) -> None:
    """One or more PEM certificates that the storage cluster's server certificate chains to."""
    try:
        x509.load_pem_x509_certificates(pem.encode())
    except ValueError:
        raise CredentialsError(
            "is not a PEM certificate: paste the CA certificate that signed the storage "
            "cluster's server certificate (-----BEGIN CERTIFICATE----- ...), or leave it out "
            "to trust the system's CAs",
            field="ca_certificate",
        ) from None
