"""Named timeout and retry presets: every activity call uses one of these."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio.common import RetryPolicy
from temporalio.workflow import ActivityCancellationType

# A call to a protected cluster's API: bounded, retried a few times, then reported.
KUBE_QUERY: dict[str, Any] = {
    "start_to_close_timeout": timedelta(seconds=90),
    "retry_policy": RetryPolicy(
        initial_interval=timedelta(seconds=1),
        maximum_interval=timedelta(seconds=10),
        maximum_attempts=3,
        non_retryable_error_types=["ClusterNotFound"],
    ),
}

# A catalog write: quick, retried until the database is back.
CATALOG_WRITE: dict[str, Any] = {
    "start_to_close_timeout": timedelta(seconds=30),
    "retry_policy": RetryPolicy(
        initial_interval=timedelta(seconds=1),
        maximum_interval=timedelta(seconds=30),
        non_retryable_error_types=["ClusterNotFound"],
    ),
}

# Reaching a bucket to validate a backup location while the caller waits: each try is short,
# a refusal is a result rather than an error, and only an unexpected failure is tried again.
LOCATION_CHECK: dict[str, Any] = {
    "start_to_close_timeout": timedelta(seconds=25),
    "retry_policy": RetryPolicy(initial_interval=timedelta(seconds=1), maximum_attempts=2),
}

# Asking a storage cluster (lighthouse) for its version and status while the caller may wait:
# short tries; unreachable or refused is a result, only an unexpected failure is tried again.
LIGHTHOUSE_CHECK: dict[str, Any] = {
    "start_to_close_timeout": timedelta(seconds=40),
    "retry_policy": RetryPolicy(
        initial_interval=timedelta(seconds=1),
        maximum_attempts=2,
        non_retryable_error_types=["LighthouseNotFound"],
    ),
}

# Asking the AWS API about a cloud account's EKS clusters while the caller waits: short tries;
# refused keys or an unknown region are a result, only an unexpected failure is tried again.
AWS_QUERY: dict[str, Any] = {
    "start_to_close_timeout": timedelta(seconds=40),
    "retry_policy": RetryPolicy(initial_interval=timedelta(seconds=1), maximum_attempts=2),
}

# The validate step: a few quick checks; a user error fails at once.
VALIDATE: dict[str, Any] = {
    "start_to_close_timeout": timedelta(seconds=60),
    "retry_policy": RetryPolicy(
        maximum_attempts=3, non_retryable_error_types=["InvalidBackup", "BackupNotFound"]
    ),
}

# Waiting for another backup of the same namespaces to finish: retried for up to a day.
NAMESPACE_LOCK: dict[str, Any] = {
    "start_to_close_timeout": timedelta(seconds=30),
    "schedule_to_close_timeout": timedelta(hours=24),
    "retry_policy": RetryPolicy(
        initial_interval=timedelta(seconds=2),
        backoff_coefficient=1.5,
        maximum_interval=timedelta(minutes=1),
        non_retryable_error_types=["BackupNotFound"],
    ),
}

# Export or apply of many objects: long, heartbeating, retried (each object is idempotent).
RESOURCES: dict[str, Any] = {
    "start_to_close_timeout": timedelta(hours=2),
    "heartbeat_timeout": timedelta(minutes=2),
    "retry_policy": RetryPolicy(
        initial_interval=timedelta(seconds=5),
        maximum_interval=timedelta(minutes=1),
        maximum_attempts=5,
        non_retryable_error_types=["InvalidBackup", "BackupNotFound"],
    ),
}

# Rule actions: each has its own timeout; a pre rule is not repeated (a lock taken twice).
PRE_RULES: dict[str, Any] = {
    "start_to_close_timeout": timedelta(hours=1),
    "retry_policy": RetryPolicy(maximum_attempts=1),
}
# Post rules undo pre rules (a thaw): retried, they must run.
POST_RULES: dict[str, Any] = {
    "start_to_close_timeout": timedelta(hours=1),
    "retry_policy": RetryPolicy(
        maximum_attempts=5,
        initial_interval=timedelta(seconds=2),
        non_retryable_error_types=["InvalidBackup", "RuleFailed"],
    ),
}
# Holding background actions open until the snapshots are taken; ends when cancelled.
HOLD: dict[str, Any] = {
    "start_to_close_timeout": timedelta(hours=6),
    # A cancel arrives with a heartbeat's answer, and heartbeats are sent at most every
    # 0.8 x this: short, so the application is let go within ~2.4 s of the snapshots.
    "heartbeat_timeout": timedelta(seconds=3),
    "retry_policy": RetryPolicy(maximum_attempts=1),
    # The workflow waits until the hold has let go before it thaws the application.
    "cancellation_type": ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
}

# Snapshots: created quickly, then waited for (a big volume takes a while to cut).
SNAPSHOTS: dict[str, Any] = {
    "start_to_close_timeout": timedelta(minutes=30),
    "heartbeat_timeout": timedelta(minutes=1),
    "retry_policy": RetryPolicy(
        maximum_interval=timedelta(seconds=30), maximum_attempts=10,
        non_retryable_error_types=["InvalidBackup", "BackupNotFound"],
    ),
}  # fmt: skip

# Moving a volume's data: long; resumes from the last heartbeat after a worker dies.
MOVE_DATA: dict[str, Any] = {
    "start_to_close_timeout": timedelta(hours=12),
    "heartbeat_timeout": timedelta(seconds=20),
    "retry_policy": RetryPolicy(
        initial_interval=timedelta(seconds=2),
        maximum_interval=timedelta(minutes=1),
        maximum_attempts=20,
        non_retryable_error_types=["InvalidBackup", "BackupNotFound"],
    ),
}
# Removing a verification's scratch namespaces and waiting until they are gone: retried, it
# must happen.
SCRATCH_CLEANUP: dict[str, Any] = {
    "start_to_close_timeout": timedelta(minutes=15),
    "heartbeat_timeout": timedelta(minutes=1),
    "retry_policy": RetryPolicy(
        initial_interval=timedelta(seconds=2), maximum_interval=timedelta(minutes=1),
        maximum_attempts=10,
    ),
}  # fmt: skip
# Checking a repository: long (a sample of its chunks is downloaded), heartbeating.
REPOSITORY_CHECK: dict[str, Any] = {
    "start_to_close_timeout": timedelta(hours=12),
    "heartbeat_timeout": timedelta(minutes=1),
    "retry_policy": RetryPolicy(
        initial_interval=timedelta(seconds=5), maximum_interval=timedelta(minutes=1),
        maximum_attempts=5, non_retryable_error_types=["InvalidBackup"],
    ),
}  # fmt: skip
# Checking the license and pausing or resuming Temporal Schedules: the next check retries.
LICENSE_CHECK: dict[str, Any] = {
    "start_to_close_timeout": timedelta(minutes=5),
    "retry_policy": RetryPolicy(initial_interval=timedelta(seconds=5), maximum_attempts=5),
}
# Asking the vendor's license server for a subscription's license: a few quick tries, then
# the next check asks again (the current license stays in force meanwhile).
LICENSE_RENEWAL: dict[str, Any] = {
    "start_to_close_timeout": timedelta(minutes=1),
    "retry_policy": RetryPolicy(initial_interval=timedelta(seconds=2), maximum_attempts=3),
}
# Reading the identity provider's user list: a few tries, then the next scheduled run retries.
DIRECTORY_READ: dict[str, Any] = {
    "start_to_close_timeout": timedelta(minutes=5),
    "retry_policy": RetryPolicy(initial_interval=timedelta(seconds=5), maximum_attempts=3),
}
# Delivering a notification: a receiver that is down is tried again (5 s, then doubling up to
# every 5 minutes) for about an hour; one that refuses the message for good is not.
NOTIFICATION_DELIVERY: dict[str, Any] = {
    "start_to_close_timeout": timedelta(seconds=90),
    "schedule_to_close_timeout": timedelta(hours=1),
    "retry_policy": RetryPolicy(
        initial_interval=timedelta(seconds=5),
        backoff_coefficient=2.0,
        maximum_interval=timedelta(minutes=5),
    ),
}
# A test message while its sender waits: one try, its result is the answer.
NOTIFICATION_TEST: dict[str, Any] = {
    "start_to_close_timeout": timedelta(seconds=90),
    "retry_policy": RetryPolicy(maximum_attempts=1),
}
