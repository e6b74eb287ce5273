"""Deterministic workflow and schedule ids, from business keys."""

from __future__ import annotations


def cluster_sync_schedule_id(cluster_uid: str) -> str:
    return f"cluster-sync-{cluster_uid}"


def cluster_sync_workflow_id(cluster_uid: str) -> str:
    return f"cluster-sync-{cluster_uid}"


def backup_workflow_id(backup_uid: str) -> str:
    return f"backup-{backup_uid}"


def restore_workflow_id(restore_uid: str) -> str:
    return f"restore-{restore_uid}"


def deletion_workflow_id(backup_uid: str) -> str:
    return f"delete-backup-{backup_uid}"


def backup_schedule_id(schedule_uid: str) -> str:
    return f"backup-schedule-{schedule_uid}"
