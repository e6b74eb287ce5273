"""Every status, stage and phase Lifeboat records, as string enums: one place for the values.

The values are what the catalog rows, the API and the recorded workflow histories hold: a
value never changes (stored rows and running workflows must keep decoding); a new one may be
added. Standard library only: the workflows import this module too.
"""

from __future__ import annotations

import enum


class BackupStatus(enum.StrEnum):
    PENDING = "Pending"
    IN_PROGRESS = "InProgress"
    SUCCESS = "Success"
    # Everything that could be backed up is; some volumes, or post rules, failed: see reason.
    PARTIAL_SUCCESS = "PartialSuccess"
    FAILED = "Failed"
    # Cancelled while running.
    ABORTED = "Aborted"
    # Its deletion workflow runs.
    DELETING = "Deleting"


class RestoreStatus(enum.StrEnum):
    PENDING = "Pending"
    IN_PROGRESS = "InProgress"
    SUCCESS = "Success"
    PARTIAL_SUCCESS = "PartialSuccess"
    FAILED = "Failed"
    # Cancelled while running (what it applied before stays; a retry does the rest).
    ABORTED = "Aborted"


class VerificationStatus(enum.StrEnum):
    """A backup's verification (a restore into scratch namespaces, compared), or a location's
    repository check."""

    IN_PROGRESS = "InProgress"
    # Everything compared equal.
    PASSED = "Passed"
    # Differences were found, or it could not run to its end: see reason and differences.
    FAILED = "Failed"
    CANCELLED = "Cancelled"


# Not finished yet: a backup or restore in one of these may still change.
RUNNING = frozenset({BackupStatus.PENDING, BackupStatus.IN_PROGRESS})
RESTORE_RUNNING = frozenset({RestoreStatus.PENDING, RestoreStatus.IN_PROGRESS})
# A backup whose archive can be restored.
USABLE = frozenset({BackupStatus.SUCCESS, BackupStatus.PARTIAL_SUCCESS})


class Stage(enum.StrEnum):
    """Where a running backup or restore is (the step its workflow runs)."""

    NOT_STARTED = ""
    PENDING = "Pending"
    VALIDATE = "Validate"
    WAITING_FOR_NAMESPACES = "WaitingForNamespaces"
    PRE_RULES = "PreRules"
    EXPORT_RESOURCES = "ExportResources"
    FREEZE_VIRTUAL_MACHINES = "FreezeVirtualMachines"
    SNAPSHOT_VOLUMES = "SnapshotVolumes"
    THAW_VIRTUAL_MACHINES = "ThawVirtualMachines"
    POST_RULES = "PostRules"
    MOVE_VOLUME_DATA = "MoveVolumeData"
    WRITE_MANIFEST = "WriteManifest"
    APPLY_RESOURCES = "ApplyResources"
    DONE = "Done"


class RestorePhase(enum.StrEnum):
    """Which of a backup's objects a restore step applies."""

    # What volumes need (CRDs, namespaces, classes, claims), before their data is restored.
    CLAIMS = "claims"
    # The others, once the data is back.
    REST = "rest"
    ALL = "all"


class RulePhase(enum.StrEnum):
    PRE = "pre"
    POST = "post"


class VolumeStatus(enum.StrEnum):
    """One volume's data in a backup or a restore."""

    # A restore will write it (`PLANNED` in a preview).
    PENDING = "Pending"
    PLANNED = "Planned"
    SUCCESS = "Success"
    FAILED = "Failed"
    # Not backed up (an unbound claim), or not restored (its claim was kept).
    SKIPPED = "Skipped"


class ClusterStatus(enum.StrEnum):
    PENDING = "Pending"
    ONLINE = "Online"
    OFFLINE = "Offline"
    FAILED = "Failed"
    DELETE_PENDING = "DeletePending"


class ScheduleStatus(enum.StrEnum):
    ACTIVE = "Active"
    SUSPENDED = "Suspended"
    # A run came due and no backup was made for it (skipped, not started, paused by Temporal).
    OVERDUE = "Overdue"


class DiscoveryStatus(enum.StrEnum):
    PENDING = "Pending"
    # The last run listed the garden and handled every matching shoot.
    READY = "Ready"
    # The last run listed the garden, but some shoots could not be onboarded or refreshed.
    DEGRADED = "Degraded"
    # The garden could not be listed: no cluster was touched.
    FAILED = "Failed"
