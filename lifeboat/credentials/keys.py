"""Cloud keys as stored: one encrypted JSON document per cloud account or location, decrypted
and read here only.

Each kind of keys is a pair, its public part first (shown by the API as `identity`), then its
secret (write-only, never returned, never logged, never in a workflow payload).
"""

from __future__ import annotations

import enum
import json
from dataclasses import astuple, dataclass, field, fields
from typing import TypeVar

from lifeboat.secrets import SecretBox, SecretDecryptError


class CloudProvider(enum.StrEnum):
    """Whose cloud a cloud account is on; it says which kind of keys the account holds."""

    AWS = "aws"
    S3_COMPATIBLE = "s3-compatible"
    AZURE = "azure"
    GCP = "gcp"


@dataclass(frozen=True)
class AccessKeys:
    """An S3 access key pair (AWS or any S3-compatible store)."""

    access_key_id: str
    secret_access_key: str = field(repr=False)


@dataclass(frozen=True)
class AzureKeys:
    """An Azure storage account and one of its keys."""

    account_name: str
    account_key: str = field(repr=False)


@dataclass(frozen=True)
class GcpKeys:
    """A Google Cloud project and a service account key (the JSON key file's content)."""

    project_id: str
    service_account_key: str = field(repr=False)


CloudKeys = AccessKeys | AzureKeys | GcpKeys
Keys = TypeVar("Keys", bound=CloudKeys)

# The keys each provider's accounts hold.
KEYS_OF: dict[CloudProvider, type[CloudKeys]] = {
    CloudProvider.AWS: AccessKeys,
    CloudProvider.S3_COMPATIBLE: AccessKeys,
    CloudProvider.AZURE: AzureKeys,
    CloudProvider.GCP: GcpKeys,
}


class CredentialsUnreadable(Exception):
    """Stored credentials cannot be decrypted (another secret key) or are not of that kind."""


def field_names(kind: type[Keys]) -> tuple[str, str]:
    """The JSON fields of a kind of keys: its public part, then its secret."""
    public, secret = (f.name for f in fields(kind))
    return public, secret


def read_keys(secrets: SecretBox, ciphertext: bytes, kind: type[Keys]) -> Keys:
    """Decrypt stored credentials and read them as `kind`; `CredentialsUnreadable` if not."""
    try:
        document = json.loads(secrets.decrypt(ciphertext))
        return kind(*(str(document[name]) for name in field_names(kind)))
    except (SecretDecryptError, ValueError, KeyError, TypeError) as exc:
        raise CredentialsUnreadable(f"not readable as {kind.__name__}") from exc


def pair(keys: CloudKeys) -> tuple[str, str]:
    """The public part and the secret, as the data mover's environment carries them."""
    public, secret = astuple(keys)
    return str(public), str(secret)
