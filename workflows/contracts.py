"""The dataclasses in and out of every workflow and activity.

New fields get defaults so running workflows still decode. Payloads carry uids and small
results only: never a secret, never a manifest.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class ClusterSyncInput:
    cluster_uid: str


@dataclass
class ClusterInventory:
    """What a sync found: status Online, or Offline/Failed with the reason."""

    status: str
    reason: str = ""
    kubernetes_version: str = ""
    namespaces: list[str] = field(default_factory=list)
    application_count: int = 0
    pvc_count: int = 0
    pvc_requested_bytes: int = 0


@dataclass
class RecordInventoryInput:
    cluster_uid: str
    inventory: ClusterInventory


@dataclass
class ClusterSyncResult:
    cluster_uid: str
    status: str
    reason: str = ""


@dataclass
class LocationCheckInput:
    """Where a backup location's bucket is; the activity fetches the account's credentials."""

    endpoint: str
    bucket: str
    region: str = ""
    prefix: str = ""
    cloud_account_uid: str = ""


@dataclass
class LocationCheckResult:
    """Whether the bucket can be used; else the reason and the field a user should correct."""

    ok: bool
    reason: str = ""
    field: str = ""
