"""Lifeboat's domain metrics (prometheus-client), served by the worker's /metrics.

What happens is counted where it is recorded: the activities that write a backup's or a
restore's end, or a location check's result, call the functions below. What the catalog holds
(each schedule's last success, each cluster's status) is read from the catalog when Prometheus
scrapes (`CatalogCollector`): a gauge set in one worker would be missing after it restarts,
differ between replicas, and outlive a deleted schedule.

Labels are bounded: statuses, and names of schedules and clusters with their owner (names are
unique per owner), never the uid of a backup or a restore.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy
from prometheus_client import Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lifeboat.catalog.models import (
    Backup,
    BackupSchedule,
    Cluster,
    License,
    LicenseUsage,
    Restore,
    SchedulePolicy,
)
from lifeboat.catalog.session import sync_url
from lifeboat.policies import SchedulePolicySpec
from lifeboat.schedules import next_fire_times
from lifeboat.status import BackupStatus, ClusterStatus, VolumeStatus

log = logging.getLogger("lifeboat.metrics")

# From seconds (a namespace of a few objects) to the data mover's 12 h limit.
_DURATION_BUCKETS = (5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600, 43200)

BACKUPS_FINISHED = Counter(
    "lifeboat_backups_finished", "Backups that ended, by status.", ["status"]
)
BACKUP_DURATION = Histogram(
    "lifeboat_backup_duration_seconds",
    "From a backup's start to its end, by status.",
    ["status"],
    buckets=_DURATION_BUCKETS,
)
BACKUP_READ_BYTES = Counter(
    "lifeboat_backup_read_bytes", "Bytes the data mover read from the volumes it backed up."
)
BACKUP_UPLOADED_BYTES = Counter(
    "lifeboat_backup_uploaded_bytes",
    "Bytes the data mover uploaded to backup locations (new chunks, compressed).",
)
BACKUP_DEDUP_RATIO = Histogram(
    "lifeboat_backup_dedup_ratio",
    "Per backup with volume data: bytes read per byte uploaded (deduplication and "
    "compression together).",
    buckets=(1, 1.5, 2, 3, 5, 10, 20, 50, 100, 1000),
)
RESTORES_FINISHED = Counter(
    "lifeboat_restores_finished", "Restores that ended, by status.", ["status"]
)
RESTORE_DURATION = Histogram(
    "lifeboat_restore_duration_seconds",
    "From a restore's start to its end, by status.",
    ["status"],
    buckets=_DURATION_BUCKETS,
)
VERIFICATIONS = Counter(
    "lifeboat_verifications",
    "Backup verifications (a restore into scratch namespaces, compared with the backup) that "
    "ended, by status: Passed, Failed or Cancelled.",
    ["status"],
)
LOCATION_CHECKS = Counter(
    "lifeboat_location_checks",
    "Checks that a backup location's bucket can be reached with its keys, by result.",
    ["endpoint", "bucket", "result"],
)


def _seconds(started: datetime | None, finished: datetime | None) -> float | None:
    return (finished - started).total_seconds() if started and finished else None


def backup_finished(backup: Backup) -> None:
    """Count a backup that ended: its status, duration, and its volumes' bytes."""
    BACKUPS_FINISHED.labels(backup.status).inc()
    duration = _seconds(backup.started_at or backup.created_at, backup.finished_at)
    if duration is not None:
        BACKUP_DURATION.labels(backup.status).observe(duration)
    moved = [v for v in backup.volumes if v["status"] == VolumeStatus.SUCCESS]
    read = sum(v.get("bytes_total", 0) for v in moved)
    uploaded = sum(v.get("bytes_uploaded", 0) for v in moved)
    BACKUP_READ_BYTES.inc(read)
    BACKUP_UPLOADED_BYTES.inc(uploaded)
    if read:
        # Everything already in the location (nothing uploaded) counts as one byte.
        BACKUP_DEDUP_RATIO.observe(read / max(uploaded, 1))


def restore_finished(restore: Restore) -> None:
    """Count a restore that ended: its status and duration."""
    RESTORES_FINISHED.labels(restore.status).inc()
    duration = _seconds(restore.started_at or restore.created_at, restore.finished_at)
    if duration is not None:
        RESTORE_DURATION.labels(restore.status).observe(duration)


def verification_finished(status: str) -> None:
    VERIFICATIONS.labels(status).inc()


def location_checked(endpoint: str, bucket: str, *, ok: bool) -> None:
    LOCATION_CHECKS.labels(endpoint, bucket, "ok" if ok else "failed").inc()


class CatalogCollector(Collector):
    """Gauges read from the catalog at each scrape: every schedule's last success and
    interval, every cluster's status, the license's usage and limits, and whether the catalog
    could be read at all."""

    def __init__(self, database_url: str) -> None:
        self._engine = sqlalchemy.create_engine(sync_url(database_url), pool_pre_ping=True)

    def collect(self) -> Iterator[Metric]:
        catalog_up = GaugeMetricFamily(
            "lifeboat_catalog_up", "Whether the worker could read the catalog for /metrics."
        )
        try:
            with Session(self._engine) as session:
                families = [
                    *_schedule_families(session),
                    _cluster_family(session),
                    *_license_families(session),
                ]
        except sqlalchemy.exc.SQLAlchemyError as exc:
            log.warning("metrics: the catalog cannot be read: %s", type(exc).__name__)
            catalog_up.add_metric([], 0)
            yield catalog_up
            return
        catalog_up.add_metric([], 1)
        yield catalog_up
        yield from families

    def describe(self) -> Iterator[Metric]:
        # Nothing at registration: describing would query the catalog.
        return iter(())


def _schedule_families(session: Session) -> list[Metric]:
    last_success = GaugeMetricFamily(
        "lifeboat_schedule_last_success_timestamp_seconds",
        "Per backup schedule that is not suspended: when its last successful backup ended "
        "(Unix time); before its first, when runs became due.",
        labels=["schedule", "owner"],
    )
    interval = GaugeMetricFamily(
        "lifeboat_schedule_interval_seconds",
        "Per backup schedule that is not suspended: the time between its next two runs.",
        labels=["schedule", "owner"],
    )
    succeeded = (
        select(Backup.schedule_uid, func.max(Backup.finished_at).label("at"))
        .where(Backup.status == BackupStatus.SUCCESS, Backup.schedule_uid.is_not(None))
        .group_by(Backup.schedule_uid)
        .subquery()
    )
    rows = session.execute(
        select(BackupSchedule, SchedulePolicy, succeeded.c.at)
        .join(SchedulePolicy, SchedulePolicy.uid == BackupSchedule.policy_uid)
        .outerjoin(succeeded, succeeded.c.schedule_uid == BackupSchedule.uid)
        .where(BackupSchedule.suspended.is_(False))
    )
    now = datetime.now(UTC)
    for schedule, policy, at in rows:
        labels = [schedule.name, schedule.owner_id]
        since = at or schedule.due_since or schedule.created_at
        last_success.add_metric(labels, since.timestamp())
        interval.add_metric(labels, _interval(policy, now).total_seconds())
    return [last_success, interval]


def _interval(policy: SchedulePolicy, now: datetime) -> timedelta:
    spec = SchedulePolicySpec.model_validate(
        {"schedule": policy.schedule, "retention": policy.retention}
    )
    first, second = next_fire_times(spec, now, 2)
    return second - first


def _cluster_family(session: Session) -> Metric:
    status = GaugeMetricFamily(
        "lifeboat_cluster_status",
        "Per cluster: 1 for its status from the last sync, 0 for the others.",
        labels=["cluster", "owner", "status"],
    )
    rows: Any = session.execute(select(Cluster.name, Cluster.owner_id, Cluster.status))
    for name, owner, current in rows:
        for each in ClusterStatus:
            status.add_metric([name, owner, each.value], 1 if current == each else 0)
    return status


def _license_families(session: Session) -> list[Metric]:
    used = GaugeMetricFamily(
        "lifeboat_license_nodes_used",
        "Licensed nodes in use, as the last license check counted them.",
    )
    limit = GaugeMetricFamily(
        "lifeboat_license_node_limit", "Nodes the imported license allows (none: the trial)."
    )
    expiry = GaugeMetricFamily(
        "lifeboat_license_expiry_timestamp_seconds",
        "When the imported license ends (Unix time; none: the trial).",
    )
    nodes = session.scalar(select(LicenseUsage.nodes).order_by(LicenseUsage.id.desc()).limit(1))
    if nodes is not None:
        used.add_metric([], nodes)
    imported = session.scalar(select(License).where(License.key_ciphertext.is_not(None)).limit(1))
    if imported is not None:
        limit.add_metric([], imported.node_limit)
        if imported.expires_at is not None:
            expiry.add_metric([], imported.expires_at.timestamp())
    return [used, limit, expiry]
