"""Credentials: stored cloud keys decrypted and read in one place (`keys`), and when a
kubeconfig's credentials expire (`expiry`)."""

from lifeboat.credentials.expiry import credentials_expire_at
from lifeboat.credentials.keys import (
    KEYS_OF,
    AccessKeys,
    AzureKeys,
    CloudKeys,
    CloudProvider,
    CredentialsUnreadable,
    GcpKeys,
    field_names,
    pair,
    read_keys,
)

__all__ = [
    "KEYS_OF",
    "AccessKeys",
    "AzureKeys",
    "CloudKeys",
    "CloudProvider",
    "CredentialsUnreadable",
    "GcpKeys",
    "credentials_expire_at",
    "field_names",
    "pair",
    "read_keys",
]
