"""Which namespaces of a cluster are taken: a backup or a restore in progress holds those it
reads or writes, and another one of them waits until they are free (one check for both)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from lifeboat.catalog.models import Backup, Restore
from lifeboat.status import BackupStatus, RestoreStatus


async def restore_targets(session: AsyncSession, restore: Restore) -> set[str]:
    """The namespaces a restore writes into (none once its backup is gone: it cannot run)."""
    backup = await session.get(Backup, restore.backup_uid)
    return restore.spec.target_namespaces(backup.resolution.namespaces) if backup else set()


async def taken_by(
    session: AsyncSession, cluster_uid: str, namespaces: set[str], *, besides: str
) -> str:
    """Why some of `namespaces` of the cluster are taken (by which backup or restore in
    progress, other than `besides`); '' when all are free.

    Call it with the cluster's row locked, so that two operations cannot both take a namespace.
    """
    backups = await session.scalars(
        select(Backup).where(
            Backup.cluster_uid == cluster_uid,
            Backup.status == BackupStatus.IN_PROGRESS,
            Backup.uid != besides,
        )
    )
    for backup in backups:
        if busy := namespaces & set(backup.resolution.namespaces):
            return f"namespaces {', '.join(sorted(busy))} are being backed up by {backup.name}"
    restores = await session.scalars(
        select(Restore).where(
            Restore.cluster_uid == cluster_uid,
            Restore.status == RestoreStatus.IN_PROGRESS,
            Restore.uid != besides,
        )
    )
    for restore in restores:
        if restore.spec.preview:
            continue  # a preview changes nothing
        if busy := namespaces & await restore_targets(session, restore):
            return f"namespaces {', '.join(sorted(busy))} are being restored by {restore.name}"
    return ""
