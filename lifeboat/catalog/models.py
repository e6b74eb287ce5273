"""The catalog: every kind Lifeboat keeps, as typed SQLAlchemy 2.x models.

Every object carries uid, name, org_id, labels, owner_id (the token subject), created_at and
updated_at; names are unique per owner and kind (two users may each have a cluster `prod`).
References between objects are by uid. Secrets are stored only as ciphertext
(`*_ciphertext` columns, see `lifeboat.secrets`).
"""

from __future__ import annotations

import enum
import uuid
from datetime import UTC, datetime
from typing import Any, ClassVar, TypeVar

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    ForeignKey,
    Index,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    select,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    aliased,
    column_property,
    declared_attr,
    mapped_column,
)
from sqlalchemy.types import TypeDecorator

from lifeboat.policies import SchedulePolicySpec
from lifeboat.specs import (
    RESOLUTION_KEYS,
    BackupResolution,
    BackupSpec,
    RestoreSpec,
    ScheduledBackupSpec,
)
from lifeboat.status import (
    BackupStatus,
    ClusterStatus,
    DiscoveryStatus,
    RestoreStatus,
    Stage,
)

DEFAULT_ORG = "default"
# Owner of objects the platform creates itself (built-in roles, users seen in tokens).
SYSTEM_OWNER = "system"

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on every database (SQLite returns naive ones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


E = TypeVar("E", bound=enum.StrEnum)


class EnumText(TypeDecorator[E]):
    """A string enum stored as its value and read back as the enum (see `lifeboat.status`)."""

    impl = String
    cache_ok = True

    def __init__(self, enum_type: type[E], length: int) -> None:
        super().__init__(length)
        self.enum_type = enum_type

    def process_bind_param(self, value: E | str | None, dialect: Dialect) -> str | None:
        return None if value is None else str(value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> E | None:
        return None if value is None else self.enum_type(value)


Spec = TypeVar("Spec", RestoreSpec, ScheduledBackupSpec)


class SpecJSON(TypeDecorator[Spec]):
    """A spec (`lifeboat.specs`), stored as its JSON document and read back typed."""

    impl = JSON
    cache_ok = True

    def __init__(self, spec_type: type[Spec]) -> None:
        super().__init__()
        self.spec_type: type[Spec] = spec_type

    def process_bind_param(self, value: Spec | None, dialect: Dialect) -> Any:
        return None if value is None else value.to_json()

    def process_result_value(self, value: Any, dialect: Dialect) -> Spec | None:
        return None if value is None else self.spec_type.from_json(value)


def new_uid() -> str:
    return str(uuid.uuid4())


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        dict[str, Any]: JSON,
        list[Any]: JSON,
        dict[str, str]: JSON,
    }


class CatalogObject(Base):
    """The fields every catalog object has."""

    __abstract__ = True

    uid: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uid)
    name: Mapped[str] = mapped_column(String(253))
    org_id: Mapped[str] = mapped_column(String(64), default=DEFAULT_ORG)
    labels: Mapped[dict[str, str]] = mapped_column(default=dict)
    owner_id: Mapped[str] = mapped_column(String(255), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    @declared_attr.directive
    def __table_args__(cls) -> tuple[Any, ...]:
        return (UniqueConstraint("org_id", "owner_id", "name"),)

    @property
    def owner(self) -> str:
        """The owner as users see it (the OWNER column): see `shown_user`."""
        if self.owner_id == SYSTEM_OWNER:
            return SYSTEM_OWNER
        # Loaded with the row (`owner_name`, below), never lazily.
        return shown_user(self.__dict__.get("owner_name"), self.owner_id)


def shown_user(name: str | None, subject: str) -> str:
    """A user's name, or `Unknown (<user id>)` once the provider no longer has them."""
    return name or f"Unknown ({subject})"


class User(CatalogObject):
    """A person seen in a token or invited; `subject` is the provider's user id."""

    __tablename__ = "users"
    subject: Mapped[str] = mapped_column(String(255), unique=True)
    email: Mapped[str | None] = mapped_column(String(320))
    # False once the provider no longer knows the user: shown as `Unknown (<user id>)`.
    in_provider: Mapped[bool] = mapped_column(default=True)
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Group(CatalogObject):
    """A provider group, by the name the token's groups claim carries."""

    __tablename__ = "groups"


class Role(CatalogObject):
    """A built-in or custom role: a set of permissions (see `lifeboat.rbac`)."""

    __tablename__ = "roles"
    builtin: Mapped[bool] = mapped_column(default=False)
    permissions: Mapped[list[Any]] = mapped_column(default=list)
    description: Mapped[str] = mapped_column(Text, default="")


class RoleBinding(CatalogObject):
    """A user (by subject) or group (by name) holding a role."""

    __tablename__ = "role_bindings"
    role_uid: Mapped[str] = mapped_column(ForeignKey("roles.uid", ondelete="CASCADE"))
    subject_kind: Mapped[str] = mapped_column(String(16))
    subject: Mapped[str] = mapped_column(String(255))


class CloudAccount(CatalogObject):
    __tablename__ = "cloud_accounts"
    provider: Mapped[str] = mapped_column(String(32))
    # Public part shown to users (access key id, tenant, project).
    identity: Mapped[str] = mapped_column(String(255), default="")
    credentials_ciphertext: Mapped[bytes] = mapped_column(LargeBinary)


class LocationCredentials(Base):
    """The S3 access key pair of one backup location (federated mode has no cloud accounts).

    Its own row, so that new keys are stored, and checked by the location check workflow
    (which gets only this uid), before the location is created or its keys are replaced.
    """

    __tablename__ = "location_credentials"
    uid: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uid)
    owner_id: Mapped[str] = mapped_column(String(255))
    # The public part, shown with the location.
    access_key_id: Mapped[str] = mapped_column(String(255))
    credentials_ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class BackupLocation(CatalogObject):
    """A bucket reached with a cloud account's keys (classic mode) or its own (federated)."""

    __tablename__ = "backup_locations"
    provider: Mapped[str] = mapped_column(String(32), default="s3")
    endpoint: Mapped[str] = mapped_column(String(2048))
    bucket: Mapped[str] = mapped_column(String(63))
    region: Mapped[str] = mapped_column(String(64), default="")
    prefix: Mapped[str] = mapped_column(String(1024), default="")
    # Exactly one of the two says where the location's S3 keys are.
    cloud_account_uid: Mapped[str | None] = mapped_column(String(36))
    credentials_uid: Mapped[str | None] = mapped_column(String(36))
    # The location's key: it opens the location's key file in the bucket, which holds the
    # data key everything is encrypted with (lifeboat.keyring).
    encryption_key_ciphertext: Mapped[bytes | None] = mapped_column(LargeBinary)
    # False: a location made before key files, whose key is its data key until its first
    # rotation writes a key file.
    data_key_in_bucket: Mapped[bool] = mapped_column(default=True)
    # A rotation under way: the new key, until the key file under it is written.
    rotating_key_ciphertext: Mapped[bytes | None] = mapped_column(LargeBinary)
    # Immutable backups (S3 Object Lock): `governance` or `compliance` ('' for none), and how
    # many days a backup made on demand stays locked (lifeboat.immutability).
    immutability_mode: Mapped[str] = mapped_column(String(16), default="")
    immutability_days: Mapped[int] = mapped_column(default=0)

    @property
    def immutability(self) -> dict[str, Any] | None:
        """The immutability setting as the API shows it; None when backups are not locked."""
        if not self.immutability_mode:
            return None
        return {"mode": self.immutability_mode, "retention_days": self.immutability_days}

    # Who prunes the repository now (a workflow id) and since when; backups wait meanwhile.
    prune_holder: Mapped[str] = mapped_column(String(255), default="")
    prune_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The last repository check's result (see api/routes/backup_locations.py), {} if none.
    repository_check: Mapped[dict[str, Any]] = mapped_column(default=dict)


class SchedulePolicy(CatalogObject):
    __tablename__ = "schedule_policies"
    schedule: Mapped[dict[str, Any]] = mapped_column(default=dict)
    retention: Mapped[dict[str, Any]] = mapped_column(default=dict)

    @property
    def spec(self) -> SchedulePolicySpec:
        """The stored policy, read back typed."""
        return SchedulePolicySpec.model_validate(
            {"schedule": self.schedule, "retention": self.retention}
        )


class Rule(CatalogObject):
    """Pre- or post-exec rules: pod selector, container, actions."""

    __tablename__ = "rules"
    rules: Mapped[list[Any]] = mapped_column(default=list)


class Cluster(CatalogObject):
    """A protected cluster, its kubeconfig (encrypted) and its last inventory."""

    __tablename__ = "clusters"
    server_url: Mapped[str] = mapped_column(String(2048))
    kubeconfig_ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    provider: Mapped[str] = mapped_column(String(32), default="kubernetes")
    status: Mapped[ClusterStatus] = mapped_column(
        EnumText(ClusterStatus, 16), default=ClusterStatus.PENDING
    )
    status_reason: Mapped[str] = mapped_column(Text, default="")
    kubernetes_version: Mapped[str] = mapped_column(String(64), default="")
    namespaces: Mapped[list[Any]] = mapped_column(default=list)
    application_count: Mapped[int] = mapped_column(default=0)
    pvc_count: Mapped[int] = mapped_column(default=0)
    pvc_requested_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    protected_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    virtual_machines: Mapped[list[Any]] = mapped_column(default=list)
    last_synced_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Where the cluster came from, for clusters Lifeboat onboarded itself: the discovery
    # configuration or cloud account (`source_uid`) and the shoot uid or EKS ARN there.
    source_uid: Mapped[str | None] = mapped_column(String(36), index=True)
    external_id: Mapped[str] = mapped_column(String(2048), default="")
    # When the stored kubeconfig's credentials stop working (refreshed before then).
    credentials_expire_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Licensed usage: the nodes its last sync counted (None: the kubeconfig may not list
    # nodes) and the cluster's identity (its kube-system namespace uid), so that one cluster
    # registered by several users is counted once.
    node_count: Mapped[int | None] = mapped_column()
    identity: Mapped[str] = mapped_column(String(64), default="")


class DiscoveryConfig(CatalogObject):
    """Federated mode: a garden cluster whose matching Gardener shoots are onboarded."""

    __tablename__ = "discovery_configs"
    garden_server_url: Mapped[str] = mapped_column(String(2048))
    garden_kubeconfig_ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    label_selector: Mapped[str] = mapped_column(String(1024), default="")
    # Project namespaces to search (`garden-<project>`); empty means every namespace.
    namespaces: Mapped[list[Any]] = mapped_column(default=list)
    interval_seconds: Mapped[int] = mapped_column(default=600)
    status: Mapped[DiscoveryStatus] = mapped_column(
        EnumText(DiscoveryStatus, 16), default=DiscoveryStatus.PENDING
    )
    status_reason: Mapped[str] = mapped_column(Text, default="")
    last_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Lighthouse(CatalogObject):
    """A storage cluster's endpoint registered with its security option (token or TLS)."""

    __tablename__ = "lighthouses"
    endpoint: Mapped[str] = mapped_column(String(2048))
    security: Mapped[str] = mapped_column(String(16))
    # The token, or the client certificate and key, encrypted.
    credentials_ciphertext: Mapped[bytes | None] = mapped_column(LargeBinary)
    ca_certificate: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[ClusterStatus] = mapped_column(
        EnumText(ClusterStatus, 16), default=ClusterStatus.PENDING
    )
    status_reason: Mapped[str] = mapped_column(Text, default="")
    version: Mapped[str] = mapped_column(String(64), default="")
    last_checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class SuspendedBy(enum.StrEnum):
    """Who suspended a backup schedule: a user (only a user resumes it) or the license (it
    resumes by itself once a license allows backups again)."""

    USER = "user"
    LICENSE = "license"


class BackupSchedule(CatalogObject):
    __tablename__ = "backup_schedules"
    policy_uid: Mapped[str] = mapped_column(ForeignKey("schedule_policies.uid"))
    cluster_uid: Mapped[str] = mapped_column(ForeignKey("clusters.uid"))
    spec: Mapped[ScheduledBackupSpec] = mapped_column(
        SpecJSON(ScheduledBackupSpec), default=lambda: ScheduledBackupSpec()
    )
    suspended: Mapped[bool] = mapped_column(default=False)
    # A SuspendedBy, '' while it runs.
    suspended_by: Mapped[str] = mapped_column(String(16), default="")
    # Why its Temporal Schedule does not follow the policy's last change ('' when it does).
    policy_update_error: Mapped[str] = mapped_column(Text, default="")
    # Runs are owed from here on: since it was made, resumed or last given a new calendar.
    due_since: Mapped[datetime | None] = mapped_column(UTCDateTime())

    def suspend(self, by: SuspendedBy) -> None:
        self.suspended, self.suspended_by = True, by

    def resume(self) -> None:
        self.suspended, self.suspended_by = False, ""
        self.due_since = utcnow()  # runs that came due while it was suspended are not owed


class Backup(CatalogObject):
    __tablename__ = "backups"
    # No foreign key: a backup outlives its cluster (restore it into another one).
    cluster_uid: Mapped[str] = mapped_column(String(36), index=True)
    location_uid: Mapped[str] = mapped_column(ForeignKey("backup_locations.uid"))
    schedule_uid: Mapped[str | None] = mapped_column(String(36))
    # The request (`spec`) and what it resolved to (`resolution`), read and written typed
    # through the properties below; one JSON document, as backups always stored them.
    document: Mapped[dict[str, Any]] = mapped_column("spec", default=dict)
    status: Mapped[BackupStatus] = mapped_column(
        EnumText(BackupStatus, 16), default=BackupStatus.PENDING
    )
    stage: Mapped[Stage] = mapped_column(EnumText(Stage, 32), default=Stage.NOT_STARTED)
    reason: Mapped[str] = mapped_column(Text, default="")
    resource_count: Mapped[int] = mapped_column(default=0)
    volume_count: Mapped[int] = mapped_column(default=0)
    size_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    resources: Mapped[list[Any]] = mapped_column(default=list)
    volumes: Mapped[list[Any]] = mapped_column(default=list)
    manifest_key: Mapped[str] = mapped_column(String(1024), default="")
    # SHA-256 (hex) of the sealed manifest as written: one modified or substituted in the
    # bucket is refused at restore. Empty for backups made before it was kept.
    manifest_digest: Mapped[str] = mapped_column(String(64), default="")
    # How many times only the failed parts were run again (each run writes a new manifest).
    attempt: Mapped[int] = mapped_column(default=1)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # On an immutable location: no object of the backup can be deleted before then.
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The last verification (see activities/verification.py), {} if none; when it ended.
    verification: Mapped[dict[str, Any]] = mapped_column(default=dict)
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    @property
    def spec(self) -> BackupSpec:
        return BackupSpec.from_json(self.document or {})

    @spec.setter
    def spec(self, spec: BackupSpec) -> None:
        resolved = {k: v for k, v in (self.document or {}).items() if k in RESOLUTION_KEYS}
        self.document = {**spec.to_json(), **resolved}

    @property
    def resolution(self) -> BackupResolution:
        return BackupResolution.from_json(self.document or {})

    @resolution.setter
    def resolution(self, resolution: BackupResolution) -> None:
        self.document = {**self.spec.to_json(), **resolution.to_json()}


class Restore(CatalogObject):
    __tablename__ = "restores"
    # No foreign keys: the record of a restore outlives its backup and its cluster.
    backup_uid: Mapped[str] = mapped_column(String(36), index=True)
    cluster_uid: Mapped[str] = mapped_column(String(36), index=True)
    spec: Mapped[RestoreSpec] = mapped_column(SpecJSON(RestoreSpec), default=lambda: RestoreSpec())
    status: Mapped[RestoreStatus] = mapped_column(
        EnumText(RestoreStatus, 16), default=RestoreStatus.PENDING
    )
    stage: Mapped[Stage] = mapped_column(EnumText(Stage, 32), default=Stage.NOT_STARTED)
    reason: Mapped[str] = mapped_column(Text, default="")
    resources: Mapped[list[Any]] = mapped_column(default=list)
    volumes: Mapped[list[Any]] = mapped_column(default=list)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class NotificationReceiver(CatalogObject):
    """Where notifications go: a webhook (`url`, HMAC secret) or email (an SMTP server, a
    sender and recipients). Secrets (the HMAC secret, the SMTP password) only as ciphertext."""

    __tablename__ = "notification_receivers"
    kind: Mapped[str] = mapped_column(String(16))
    url: Mapped[str] = mapped_column(String(2048), default="")
    secret_ciphertext: Mapped[bytes | None] = mapped_column(LargeBinary)
    smtp_host: Mapped[str] = mapped_column(String(255), default="")
    smtp_port: Mapped[int] = mapped_column(default=0)
    smtp_starttls: Mapped[bool] = mapped_column(default=True)
    smtp_username: Mapped[str] = mapped_column(String(255), default="")
    smtp_password_ciphertext: Mapped[bytes | None] = mapped_column(LargeBinary)
    from_address: Mapped[str] = mapped_column(String(320), default="")
    to_addresses: Mapped[list[Any]] = mapped_column(default=list)
    # The last delivery (or test) and why it failed ('' when it worked), for the owner.
    last_delivery_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_delivery_error: Mapped[str] = mapped_column(Text, default="")


class NotificationSubscription(CatalogObject):
    """Which events go to a receiver of the same owner: of one schedule's backups
    (`schedule_uid`), else of every backup and restore the owner owns."""

    __tablename__ = "notification_subscriptions"
    # No foreign key, as between most kinds; a receiver in use is not deleted (the API).
    receiver_uid: Mapped[str] = mapped_column(String(36), index=True)
    events: Mapped[list[Any]] = mapped_column(default=list)
    schedule_uid: Mapped[str | None] = mapped_column(String(36), index=True)


class Share(CatalogObject):
    """An object shared with a user, a group or everyone at an access level."""

    __tablename__ = "shares"
    object_kind: Mapped[str] = mapped_column(String(32))
    object_uid: Mapped[str] = mapped_column(String(36), index=True)
    subject_kind: Mapped[str] = mapped_column(String(16))
    subject: Mapped[str] = mapped_column(String(255), default="")
    access: Mapped[str] = mapped_column(String(16))


class License(CatalogObject):
    """The imported license (at most one): its key, checked again at every read."""

    __tablename__ = "licenses"
    # How it came: `key`, `file`, or `subscription` (the worker fetches and renews its key
    # from the license server with the activation id; no key until the first activation).
    kind: Mapped[str] = mapped_column(String(32), default="key")
    key_ciphertext: Mapped[bytes | None] = mapped_column(LargeBinary)
    node_limit: Mapped[int] = mapped_column(default=0)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    activation_ciphertext: Mapped[bytes | None] = mapped_column(LargeBinary)
    renewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Why the last activation or renewal failed ('' when it worked).
    renewal_error: Mapped[str] = mapped_column(Text, default="")


class LicenseUsage(Base):
    """Licensed nodes in use, as each license check counted them (the usage trend)."""

    __tablename__ = "license_usage"
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    nodes: Mapped[int] = mapped_column()


class Setting(CatalogObject):
    """A deployment setting (for example `mode`), by name, with a JSON value."""

    __tablename__ = "settings"
    value: Mapped[dict[str, Any]] = mapped_column(default=dict)


def _owner_name(model: type[CatalogObject]) -> Any:
    """The owner's user name, read with every row of the kind (None: no such user known)."""
    owners = aliased(User)
    return column_property(
        select(owners.name)
        .where(owners.subject == model.owner_id, owners.in_provider.is_(True))
        .scalar_subquery()
    )


for _model in CatalogObject.__subclasses__():
    _model.owner_name = _owner_name(_model)

# The public part of a location's own keys, read with the location.
BackupLocation.access_key_id = column_property(
    select(LocationCredentials.access_key_id)
    .where(LocationCredentials.uid == BackupLocation.credentials_uid)
    .scalar_subquery()
)

# What lists are read by (see `AuthzContext.visible` and `api.crud.list_page`): shares to a
# caller by kind, a kind's shares of one object, and pages by name.
Index("ix_shares_object_kind_subject", Share.object_kind, Share.subject_kind, Share.subject)
Index("ix_shares_object_kind_object_uid", Share.object_kind, Share.object_uid)
Index("ix_backups_name_uid", Backup.name, Backup.uid)
Index("ix_backups_schedule_uid", Backup.schedule_uid)
Index("ix_restores_name_uid", Restore.name, Restore.uid)
