"""Deterministic workflow and schedule ids, from business keys."""

from __future__ import annotations

from temporalio.common import SearchAttributeKey, SearchAttributePair, TypedSearchAttributes


def cluster_sync_schedule_id(cluster_uid: str) -> str:
    return f"cluster-sync-{cluster_uid}"


def cluster_sync_workflow_id(cluster_uid: str) -> str:
    return f"cluster-sync-{cluster_uid}"


def lighthouse_check_workflow_id(lighthouse_uid: str) -> str:
    return f"lighthouse-check-{lighthouse_uid}"


def backup_workflow_id(backup_uid: str) -> str:
    return f"backup-{backup_uid}"


def restore_workflow_id(restore_uid: str) -> str:
    return f"restore-{restore_uid}"


def deletion_workflow_id(backup_uid: str) -> str:
    return f"delete-backup-{backup_uid}"


def backup_schedule_id(schedule_uid: str) -> str:
    return f"backup-schedule-{schedule_uid}"


def discovery_schedule_id(config_uid: str) -> str:
    return f"discovery-{config_uid}"


def discovery_workflow_id(config_uid: str) -> str:
    return f"discovery-{config_uid}"


def user_directory_schedule_id(task_queue: str) -> str:
    """One per platform (its task queue), not per cluster: users are the platform's."""
    return f"user-directory-sync-{task_queue}"


def search_attributes(*, owner: str, cluster: str, kind: str) -> TypedSearchAttributes:
    """What the Temporal UI can find a workflow by: its owner, cluster and kind."""
    return TypedSearchAttributes(
        [
            SearchAttributePair(SearchAttributeKey.for_keyword("LifeboatOwner"), owner),
            SearchAttributePair(SearchAttributeKey.for_keyword("LifeboatCluster"), cluster),
            SearchAttributePair(SearchAttributeKey.for_keyword("LifeboatKind"), kind),
        ]
    )


def cluster_deletion_workflow_id(cluster_uid: str) -> str:
    return f"delete-cluster-{cluster_uid}"
