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


def verification_workflow_id(backup_uid: str) -> str:
    return f"verify-backup-{backup_uid}"


def repository_check_workflow_id(location_uid: str) -> str:
    return f"check-repository-{location_uid}"


def deletion_workflow_id(backup_uid: str) -> str:
    return f"delete-backup-{backup_uid}"


def backup_schedule_id(schedule_uid: str) -> str:
    return f"backup-schedule-{schedule_uid}"


def scheduled_backup_workflow_id(schedule_uid: str) -> str:
    """A schedule's runs; Temporal appends each run's time, run-now appends `now-<stamp>`."""
    return f"scheduled-backup-{schedule_uid}"


def location_check_workflow_id(location_uid: str) -> str:
    """The check of a location's bucket (a new location's uid is chosen before the check)."""
    return f"location-check-{location_uid}"


def location_key_rotation_workflow_id(location_uid: str) -> str:
    """The rotation of a location's key: one at a time per location."""
    return f"location-key-rotation-{location_uid}"


def discovery_schedule_id(config_uid: str) -> str:
    return f"discovery-{config_uid}"


def discovery_workflow_id(config_uid: str) -> str:
    return f"discovery-{config_uid}"


def user_directory_schedule_id(task_queue: str) -> str:
    """One per platform (its task queue), not per cluster: users are the platform's."""
    return f"user-directory-sync-{task_queue}"


def license_check_schedule_id(task_queue: str) -> str:
    """One per platform, like the user directory's: the license is the platform's."""
    return f"license-check-{task_queue}"


def license_check_workflow_id(key: str) -> str:
    """A license check started outside the schedule (after an import): `key` makes it unique."""
    return f"license-check-{key}"


OWNER = SearchAttributeKey.for_keyword("LifeboatOwner")
CLUSTER = SearchAttributeKey.for_keyword("LifeboatCluster")
KIND = SearchAttributeKey.for_keyword("LifeboatKind")


def search_attributes(*, owner: str, cluster: str, kind: str) -> TypedSearchAttributes:
    """What the Temporal UI can find a workflow by: its owner, cluster and kind.

    Kinds: backup, scheduled-backup, backup-deletion, restore, restore-preview,
    cluster-sync, cluster-deletion, location-check, lighthouse-check, discovery,
    user-directory, license, verification, repository-check, notification,
    notification-test. `cluster` is the cluster the
    workflow acts on: the lighthouse for its check, '' for a location check, a repository
    check, a discovery run or the platform's own work.
    """
    return TypedSearchAttributes(
        [
            SearchAttributePair(OWNER, owner),
            SearchAttributePair(CLUSTER, cluster),
            SearchAttributePair(KIND, kind),
        ]
    )


def notify_workflow_id(workflow_id: str) -> str:
    """The notifications of a finished backup or restore workflow (`backup-<uid>`, ...)."""
    return f"notify-{workflow_id}"


def notification_test_workflow_id(receiver_uid: str) -> str:
    return f"notification-test-{receiver_uid}"


def cluster_deletion_workflow_id(cluster_uid: str) -> str:
    return f"delete-cluster-{cluster_uid}"


def child_attributes(run: TypedSearchAttributes, kind: str) -> TypedSearchAttributes:
    """A child workflow's: the owner and cluster of its parent's (`run`), its own kind."""
    return search_attributes(owner=run.get(OWNER) or "", cluster=run.get(CLUSTER) or "", kind=kind)
