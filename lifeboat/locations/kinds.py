"""The kinds of backup location: for each, the keys it is reached with, the cloud accounts
whose keys fit, and its backend. Adding a kind of storage adds a row here."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from lifeboat.credentials import AccessKeys, AzureKeys, CloudKeys, CloudProvider
from lifeboat.locations.azure import AzureBackend
from lifeboat.locations.backend import (
    TRANSFER,
    LocationAddress,
    LocationBackend,
    LocationKind,
    Timeouts,
)
from lifeboat.locations.s3 import S3Backend

Opener = Callable[[LocationAddress, CloudKeys, int, Timeouts], LocationBackend]


def _open_s3(
    address: LocationAddress, keys: CloudKeys, connections: int, timeouts: Timeouts
) -> LocationBackend:
    if not isinstance(keys, AccessKeys):
        raise TypeError(f"an S3 location needs AccessKeys, not {type(keys).__name__}")
    return S3Backend(
        address.endpoint,
        address.bucket,
        keys,
        region=address.region,
        connections=connections,
        timeouts=timeouts,
    )


def _open_azure(
    address: LocationAddress, keys: CloudKeys, connections: int, timeouts: Timeouts
) -> LocationBackend:
    if not isinstance(keys, AzureKeys):
        raise TypeError(f"an Azure location needs AzureKeys, not {type(keys).__name__}")
    return AzureBackend(
        address.endpoint, address.bucket, keys, connections=connections, timeouts=timeouts
    )


@dataclass(frozen=True)
class StorageKind:
    """What one kind of location is reached with, and how it is opened."""

    keys: type[CloudKeys]
    # Cloud accounts (classic mode) whose keys reach it.
    providers: frozenset[CloudProvider]
    open: Opener


KINDS: dict[LocationKind, StorageKind] = {
    LocationKind.S3: StorageKind(
        AccessKeys, frozenset({CloudProvider.AWS, CloudProvider.S3_COMPATIBLE}), _open_s3
    ),
    LocationKind.AZURE: StorageKind(AzureKeys, frozenset({CloudProvider.AZURE}), _open_azure),
}


def open_backend(
    address: LocationAddress,
    keys: CloudKeys,
    *,
    connections: int = 16,
    timeouts: Timeouts = TRANSFER,
) -> LocationBackend:
    """The backend of a location at `address`, reached with its decrypted `keys`."""
    return KINDS[address.kind].open(address, keys, connections, timeouts)
