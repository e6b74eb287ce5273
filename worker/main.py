"""Worker: connect to Temporal, register workflows and activities, drain on SIGTERM."""

from __future__ import annotations

import asyncio
import logging
import signal
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

from temporalio.client import Client
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from activities.backup import BackupActivities
from activities.catalog import CatalogActivities
from activities.clusters import ClusterActivities
from activities.directory import DirectoryActivities
from activities.discovery import DiscoveryActivities
from activities.eks import EksActivities
from activities.kube import KubeActivities
from activities.license import LicenseActivities
from activities.lighthouse import LighthouseActivities
from activities.locations import LocationActivities
from activities.mover.runners import mover_for
from activities.notifications import NotificationActivities
from activities.restore import RestoreActivities
from activities.rules import RuleActivities
from activities.schedules import ScheduleActivities
from activities.verification import VerificationActivities
from activities.volumes import VolumeActivities
from lifeboat.catalog.session import create_engine, create_sessionmaker
from lifeboat.logs import configure_logging
from lifeboat.settings import Settings
from lifeboat.temporal import connect_with_retry
from worker.metrics import serve_metrics
from workflows.backup import BackupWorkflow
from workflows.cluster_deletion import ClusterDeletionWorkflow
from workflows.cluster_sync import ClusterSyncWorkflow
from workflows.deletion import DeletionWorkflow
from workflows.discovery import DiscoveryWorkflow
from workflows.eks import EksClustersWorkflow
from workflows.ids import license_check_schedule_id, user_directory_schedule_id
from workflows.license_check import LicenseCheckWorkflow
from workflows.lighthouse_check import LighthouseCheckWorkflow
from workflows.location_check import LocationCheckWorkflow, LocationKeyRotationWorkflow
from workflows.notify import NotificationTestWorkflow, NotifyWorkflow
from workflows.platform_schedules import ensure_platform_schedule
from workflows.restore import RestoreWorkflow
from workflows.scheduled_backup import ScheduledBackupWorkflow
from workflows.user_directory import UserDirectoryWorkflow
from workflows.verification import RepositoryCheckWorkflow, VerifyBackupWorkflow

log = logging.getLogger("lifeboat.worker")

WORKFLOWS = [
    ClusterSyncWorkflow,
    ClusterDeletionWorkflow,
    LocationCheckWorkflow,
    LocationKeyRotationWorkflow,
    EksClustersWorkflow,
    LighthouseCheckWorkflow,
    BackupWorkflow,
    RestoreWorkflow,
    DeletionWorkflow,
    DiscoveryWorkflow,
    ScheduledBackupWorkflow,
    UserDirectoryWorkflow,
    LicenseCheckWorkflow,
    VerifyBackupWorkflow,
    RepositoryCheckWorkflow,
    NotifyWorkflow,
    NotificationTestWorkflow,
]
# Shorter than a pod's default 30 s termination grace period, so draining finishes first.
GRACEFUL_SHUTDOWN = timedelta(seconds=20)
# Modules of data only (contracts, status enums, option presets, error names, ids): the
# workflow sandbox shares them between workflow runs instead of importing them afresh for each
# new run, which held the worker's event loop 80-140 ms per backup started (mostly the
# dataclasses of `workflows.contracts`), while every other activity and workflow waited.
SHARED_WITH_WORKFLOWS = (
    "lifeboat.status",
    "workflows.contracts",
    "workflows.errors",
    "workflows.ids",
    "workflows.options",
)


def worker_options(settings: Settings) -> dict[str, Any]:
    """How a worker runs its workflows and activities, whatever it registers."""
    return {
        "max_concurrent_activities": settings.worker_activity_slots,
        "workflow_runner": SandboxedWorkflowRunner(
            restrictions=SandboxRestrictions.default.with_passthrough_modules(
                *SHARED_WITH_WORKFLOWS
            )
        ),
        "graceful_shutdown_timeout": GRACEFUL_SHUTDOWN,
        # Progress reaches the API no later than this (else only every 0.8 x a heartbeat
        # timeout: a data move's 16 s, longer than many a volume's whole upload).
        "max_heartbeat_throttle_interval": timedelta(seconds=settings.progress_interval_seconds),
    }


def use_activity_threads(loop: asyncio.AbstractEventLoop, settings: Settings) -> None:
    """Give the loop one thread per activity slot for blocking work (`asyncio.to_thread`).

    asyncio's own pool has os.cpu_count() + 4 threads (6 on two cores) for all activities:
    beyond that, a data move, a snapshot wait or an export waited for another to end.
    """
    loop.set_default_executor(
        ThreadPoolExecutor(settings.worker_activity_slots, thread_name_prefix="activity")
    )


def build_worker(client: Client, settings: Settings) -> Worker:
    """A worker with every workflow and activity, each activity class built once."""
    sessions = create_sessionmaker(create_engine(settings.database_url))
    secrets = settings.secret_box()
    kube = KubeActivities(sessions, secrets)
    catalog = CatalogActivities(sessions)
    clusters = ClusterActivities(sessions, client)
    locations = LocationActivities(sessions, secrets)
    discovery = DiscoveryActivities(sessions, secrets, client, settings)
    eks = EksActivities(sessions, secrets, settings.aws_endpoint_url)
    lighthouses = LighthouseActivities(sessions, secrets)
    backups = BackupActivities(sessions, secrets)
    restores = RestoreActivities(sessions, secrets)
    rules = RuleActivities(sessions, secrets)
    mover = mover_for(settings)
    volumes = VolumeActivities(sessions, secrets, mover)
    verification = VerificationActivities(sessions, secrets, mover)
    schedules = ScheduleActivities(sessions)
    directory = DirectoryActivities(sessions, settings)
    licensing = LicenseActivities(sessions, settings, secrets, client)
    notifications = NotificationActivities(sessions, secrets, settings.console_url)
    return Worker(
        client,
        task_queue=settings.task_queue,
        workflows=WORKFLOWS,
        activities=[
            kube.take_inventory,
            catalog.record_inventory,
            catalog.set_stage,
            clusters.running_work,
            clusters.delete_sync_schedule,
            clusters.delete_cluster_record,
            locations.check_location,
            locations.rotate_location_key,
            discovery.list_shoots,
            discovery.reconcile_shoot,
            discovery.retire_missing,
            discovery.record_discovery,
            eks.describe_eks_clusters,
            lighthouses.probe_lighthouse,
            lighthouses.record_lighthouse_check,
            backups.validate_backup,
            backups.lock_namespaces,
            backups.export_resources,
            backups.write_manifest,
            backups.record_backup,
            restores.restore_resources,
            restores.record_restore,
            restores.lock_restore_namespaces,
            backups.delete_archive,
            backups.delete_backup_record,
            rules.run_rules,
            schedules.prepare_scheduled_backup,
            schedules.expired_backups,
            volumes.snapshot_volumes,
            volumes.move_volume,
            volumes.delete_snapshots,
            volumes.restore_volume,
            volumes.forget_volume_data,
            volumes.prune_location,
            restores.volumes_to_restore,
            restores.record_restored_volumes,
            rules.hold_background_actions,
            rules.freeze_virtual_machines,
            rules.thaw_virtual_machines,
            directory.reconcile_users,
            licensing.renew_subscription,
            licensing.enforce_license,
            verification.begin_verification,
            verification.restore_for_verification,
            verification.verify_volume,
            verification.remove_scratch_namespaces,
            verification.finish_verification,
            verification.verification_due,
            verification.check_repository,
            verification.record_repository_check,
            notifications.plan_notifications,
            notifications.deliver_notification,
            notifications.send_test_notification,
        ],
        **worker_options(settings),
    )


async def run(settings: Settings) -> None:
    """Connect (waiting while Temporal is unreachable), then poll until SIGTERM or SIGINT.

    Once connected, the client rides out a Temporal restart on the same address by itself:
    its polls are retried until the server answers again.
    """
    serve_metrics(settings)  # before connecting: it sets the SDK's runtime
    use_activity_threads(asyncio.get_running_loop(), settings)
    # Until connected there is nothing to drain: the default signal handling stops us.
    client = await connect_with_retry(settings)
    worker = build_worker(client, settings)
    directory = settings.directory_scim_url or settings.user_unseen_days
    await ensure_platform_schedule(
        client,
        UserDirectoryWorkflow.run,
        schedule_id=user_directory_schedule_id(settings.task_queue),
        kind="user-directory",
        task_queue=settings.task_queue,
        every=timedelta(seconds=settings.directory_sync_interval_seconds) if directory else None,
    )
    await ensure_platform_schedule(
        client,
        LicenseCheckWorkflow.run,
        schedule_id=license_check_schedule_id(settings.task_queue),
        kind="license",
        task_queue=settings.task_queue,
        every=timedelta(seconds=settings.license_check_interval_seconds),
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with worker:
        log.info(
            "worker polling task queue %s on %s", settings.task_queue, settings.temporal_address
        )
        await stop.wait()
        log.info("draining: finishing running activities before exit")
    log.info("worker stopped")


def main() -> None:
    settings = Settings()
    configure_logging(settings.log_format)
    asyncio.run(run(settings))


if __name__ == "__main__":
    main()
