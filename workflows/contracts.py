"""The dataclasses in and out of every workflow and activity.

New fields get defaults so running workflows still decode. Payloads carry uids and small
results only: never a secret, never a manifest.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from lifeboat.status import (
    BackupStatus,
    ClusterStatus,
    DiscoveryStatus,
    RestorePhase,
    RestoreStatus,
    RulePhase,
    Stage,
    VolumeStatus,
)


@dataclass
class ClusterSyncInput:
    cluster_uid: str


@dataclass
class VirtualMachineInfo:
    """A KubeVirt VM as a sync found it: its printable status and the claims of its disks."""

    namespace: str
    name: str
    status: str = ""
    running: bool = False
    claims: list[str] = field(default_factory=list)


@dataclass
class ClusterInventory:
    """What a sync found: status Online, or Offline/Failed with the reason."""

    status: ClusterStatus
    reason: str = ""
    kubernetes_version: str = ""
    namespaces: list[str] = field(default_factory=list)
    application_count: int = 0
    pvc_count: int = 0
    pvc_requested_bytes: int = 0
    # Empty when the cluster has no KubeVirt.
    virtual_machines: list[VirtualMachineInfo] = field(default_factory=list)
    # For the license: its nodes (None: not counted) and identity (kube-system's uid).
    node_count: int | None = None
    identity: str = ""


@dataclass
class RecordInventoryInput:
    cluster_uid: str
    inventory: ClusterInventory


@dataclass
class ClusterSyncResult:
    cluster_uid: str
    status: ClusterStatus
    reason: str = ""


@dataclass
class LocationCheckInput:
    """Where a backup location's bucket is, and whose keys to reach it with: a cloud
    account's, or a location's own (`LocationCredentials`); the activity fetches them.
    `provider` is the kind of storage (`lifeboat.locations.LocationKind`)."""

    endpoint: str
    bucket: str
    region: str = ""
    prefix: str = ""
    cloud_account_uid: str = ""
    credentials_uid: str = ""
    provider: str = "s3"
    # An immutability mode asked for: the bucket must have object lock.
    immutability: str = ""


@dataclass
class LocationCheckResult:
    """Whether the bucket can be used; else the reason and the field a user should correct."""

    ok: bool
    reason: str = ""
    field: str = ""


@dataclass
class KeyRotationInput:
    """A location whose new key (stored apart in the catalog) is to replace its key."""

    location_uid: str


@dataclass
class KeyRotationResult:
    """Whether the location's data key is now wrapped by the new key; else why not."""

    ok: bool
    reason: str = ""


@dataclass
class LighthouseCheckInput:
    """The lighthouse to check; the activity fetches its endpoint and credentials."""

    lighthouse_uid: str


@dataclass
class LicenseCheckResult:
    """What a license check found and did: the state, the nodes, schedules changed (uids)."""

    state: str = ""
    nodes_used: int = 0
    suspended: list[str] = field(default_factory=list)
    resumed: list[str] = field(default_factory=list)


@dataclass
class DirectorySyncResult:
    """What a directory sync found: users counted, unknown now, and who changed (user ids)."""

    users: int = 0
    unknown: int = 0
    gone: list[str] = field(default_factory=list)
    returned: list[str] = field(default_factory=list)


@dataclass
class LighthouseProbe:
    """What a check found: Online with the version and cluster, else Offline/Failed and why."""

    status: ClusterStatus
    reason: str = ""
    version: str = ""
    cluster_name: str = ""
    cluster_id: str = ""


@dataclass
class RecordLighthouseInput:
    lighthouse_uid: str
    probe: LighthouseProbe


@dataclass
class LighthouseCheckResult:
    lighthouse_uid: str
    status: str
    reason: str = ""
    version: str = ""


@dataclass
class DiscoveryInput:
    """The discovery configuration to run; activities fetch its garden kubeconfig."""

    config_uid: str


@dataclass
class ShootRef:
    """A matching Gardener shoot: where it is and which one (never its kubeconfig)."""

    namespace: str
    name: str
    uid: str


@dataclass
class ShootListing:
    """The shoots that match, or (reachable False) why the garden could not say."""

    reachable: bool
    reason: str = ""
    shoots: list[ShootRef] = field(default_factory=list)


@dataclass
class ReconcileShootInput:
    config_uid: str
    shoot: ShootRef


@dataclass
class ShootOutcome:
    """What discovery did for one shoot: onboarded, refreshed, unchanged or failed, and why."""

    action: str
    cluster_uid: str = ""
    # Why it failed, or a warning (credentials about to expire with nothing newer).
    reason: str = ""


@dataclass
class RetireInput:
    """Retire the configuration's clusters whose shoot is not among `present` (shoot uids)."""

    config_uid: str
    present: list[str] = field(default_factory=list)


@dataclass
class RecordDiscoveryInput:
    config_uid: str
    reachable: bool
    reason: str = ""
    onboarded: int = 0
    refreshed: int = 0
    retired: int = 0
    failed: int = 0
    matched: int = 0
    problems: list[str] = field(default_factory=list)


@dataclass
class DiscoveryResult:
    config_uid: str
    status: DiscoveryStatus
    reason: str = ""
    onboarded: int = 0
    refreshed: int = 0
    retired: int = 0
    failed: int = 0


@dataclass
class BackupInput:
    backup_uid: str


@dataclass
class BackupPlan:
    """What a backup will do, resolved from its spec by the validate step."""

    cluster_uid: str
    location_uid: str
    namespaces: list[str]
    pre_rule_uid: str = ""
    post_rule_uid: str = ""
    volumes: bool = True
    # Whether the pre rule has background actions to hold open until the snapshots.
    pre_background: bool = False
    # A VM backup: the VMs ("namespace/name") to freeze around the snapshots.
    virtual_machines: list[str] = field(default_factory=list)
    # False when retrying only a backup's failed volumes: its resources are already there.
    export: bool = True


class Operation(enum.StrEnum):
    BACKUP = "backup"
    RESTORE = "restore"


@dataclass
class StageInput:
    """The stage a backup (`uid` a backup's) or a restore (a restore's) has reached."""

    uid: str
    stage: Stage
    # Restores started before it was carried send none: their first stage is not shown.
    kind: Operation = Operation.BACKUP


@dataclass
class ExportResult:
    resource_count: int
    index_key: str


@dataclass
class RecordBackupInput:
    backup_uid: str
    status: BackupStatus
    reason: str = ""
    resource_count: int = 0
    volume_count: int = 0
    size_bytes: int = 0
    manifest_key: str = ""


@dataclass
class BackupResult:
    backup_uid: str
    status: BackupStatus
    reason: str = ""


@dataclass
class RestoreInput:
    restore_uid: str
    dry_run: bool = False
    phase: RestorePhase = RestorePhase.ALL
    # A retry: apply only the objects and volumes an earlier attempt did not restore.
    retry: bool = False


@dataclass
class RestoreResult:
    restore_uid: str
    status: RestoreStatus
    reason: str = ""
    created: int = 0
    replaced: int = 0
    skipped: int = 0
    failed: int = 0


@dataclass
class RecordRestoreInput:
    restore_uid: str
    status: RestoreStatus
    reason: str = ""


@dataclass
class RulesInput:
    """Run a backup's pre or post rules; post rules run only in `pods` (where pre rules ran)."""

    backup_uid: str
    rule_uid: str
    phase: RulePhase
    pods: list[str] | None = None


@dataclass
class RulesResult:
    pods: list[str] = field(default_factory=list)  # "namespace/pod" where actions ran
    ran: int = 0
    failures: list[str] = field(default_factory=list)


@dataclass
class FreezeInput:
    """Freeze (before the snapshots) or thaw (after them) a backup's virtual machines."""

    backup_uid: str
    # Thaw only where the freeze ran ("namespace/name"); None: every VM of the backup.
    virtual_machines: list[str] | None = None


@dataclass
class FreezeResult:
    reached: list[str] = field(default_factory=list)  # "namespace/name" where the command ran
    # Freeze: the VMs backed up crash-consistent, and why; thaw: the thaws that failed.
    problems: list[str] = field(default_factory=list)


@dataclass
class VolumeRef:
    """One volume of a backup: its claim, and the snapshot taken of it."""

    namespace: str
    pvc: str
    snapshot: str = ""
    size_bytes: int = 0


@dataclass
class MoveVolumeInput:
    backup_uid: str
    volume: VolumeRef


@dataclass
class MoveVolumeResult:
    namespace: str
    pvc: str
    status: VolumeStatus  # Success | Failed | Skipped
    reason: str = ""
    data_snapshot_id: str = ""
    bytes_total: int = 0
    bytes_uploaded: int = 0


@dataclass
class RestoreVolumeInput:
    restore_uid: str
    namespace: str  # in the backup
    pvc: str
    data_snapshot_id: str


@dataclass
class RecordRestoredVolumesInput:
    restore_uid: str
    volumes: list[MoveVolumeResult] = field(default_factory=list)


@dataclass
class ScheduledBackupInput:
    schedule_uid: str
    # A "run now" of the schedule's user, outside its calendar (and even while suspended).
    manual: bool = False
    # The policy's schedule (JSON) the Temporal Schedule's calendar was made from, set with it
    # in one update: a run is checked against the calendar that fired it, not against a policy
    # edited since. '' in schedules made before it was carried: the policy's current one.
    schedule: str = ""


@dataclass
class PrepareScheduledInput:
    schedule_uid: str
    fire_time: str  # ISO 8601, the time the schedule fired
    manual: bool = False
    schedule: str = ""  # as in ScheduledBackupInput


@dataclass
class ScheduledBackupResult:
    schedule_uid: str
    backup_uid: str = ""
    status: str = "Skipped"
    reason: str = ""
    deleted: list[str] = field(default_factory=list)


@dataclass
class PruneInput:
    """Prune a location's repository; `holder` (the workflow id) owns the prune lock."""

    location_uid: str
    holder: str


@dataclass
class PruneResult:
    """`Pruned`, or `Deferred` with the reason (a backup writes, another prune runs)."""

    status: str
    reason: str = ""
    objects_deleted: int = 0
    bytes_deleted: int = 0


@dataclass
class EksClustersInput:
    """The EKS clusters to describe: every one in the region, or only the named ones.

    The activity fetches the cloud account's keys itself.
    """

    cloud_account_uid: str
    region: str
    names: list[str] = field(default_factory=list)


@dataclass
class EksCluster:
    """One EKS cluster as DescribeCluster tells it; its CA (public data) only when named."""

    name: str
    arn: str
    endpoint: str = ""
    version: str = ""
    status: str = ""
    certificate_authority: str = ""


@dataclass
class EksClustersResult:
    """The clusters found and the names asked for that do not exist; or why AWS did not say,
    with the field a user should correct."""

    clusters: list[EksCluster] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    reason: str = ""
    field: str = ""


@dataclass
class RunningWork:
    """Workflow ids of the backups and restores still running on a cluster."""

    workflow_ids: list[str] = field(default_factory=list)


@dataclass
class VerifyInput:
    """Verify a backup: restore it into scratch namespaces of `cluster_uid` (the backup's own
    cluster when empty) and compare."""

    backup_uid: str
    cluster_uid: str = ""


@dataclass
class VerificationPlan:
    """Where a verification restores: its cluster, and each backed-up namespace's scratch
    namespace."""

    backup_uid: str
    cluster_uid: str
    namespaces: dict[str, str] = field(default_factory=dict)


@dataclass
class VerifyVolumeInput:
    """One volume of a verification: its scratch claim and the data snapshot it gets."""

    backup_uid: str
    cluster_uid: str
    namespace: str  # the scratch namespace
    pvc: str
    data_snapshot_id: str
    source_namespace: str = ""


@dataclass
class FinishVerificationInput:
    """The end of a verification; `reason` says why it could not run to its end ('' if it
    did)."""

    backup_uid: str
    reason: str = ""
    cancelled: bool = False


@dataclass
class VerificationResult:
    backup_uid: str
    status: str
    reason: str = ""
    differences: int = 0


@dataclass
class RepositoryCheckInput:
    """Check a location's repository; download and open `sample_fraction` (0..1) of its
    chunks."""

    location_uid: str
    sample_fraction: float = 0.0


@dataclass
class RepositoryCheckResult:
    location_uid: str
    status: str
    reason: str = ""
    problems: int = 0


@dataclass
class NotifyInput:
    """A finished backup or restore to notify about: its uid only (the rest is read)."""

    operation: Operation
    uid: str


@dataclass
class NotificationPlan:
    """The event a finished backup or restore sends ('' for none) and the receivers of the
    subscriptions it matches."""

    event: str
    receiver_uids: list[str] = field(default_factory=list)


@dataclass
class DeliverInput:
    """One notification to one receiver (whose address and secret are read from the catalog)."""

    receiver_uid: str
    operation: Operation
    uid: str
    event: str


@dataclass
class DeliveryResult:
    receiver_uid: str
    delivered: bool
    error: str = ""


@dataclass
class NotifyResult:
    event: str
    deliveries: list[DeliveryResult] = field(default_factory=list)


@dataclass
class NotificationTestInput:
    receiver_uid: str
