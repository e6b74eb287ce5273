"""Backups nobody can delete early, keys that rotate, retention by the hour: end to end on the
dev stack (SeaweedFS implements S3 Object Lock)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from activities.locations import LocationUnavailable
from deploy.local.servers.oidc import OidcProvider
from deploy.local.servers.procs import free_port
from deploy.local.stack import REPO_ROOT, Stack
from lifeboat.catalog.migrate import upgrade
from lifeboat.catalog.models import Backup, BackupLocation
from lifeboat.locations import LocationError
from lifeboat.secrets import SecretBox, SecretDecryptError
from tests.api.helpers import dev_location, dev_s3, platform_users, unique, wait_for_sync
from tests.conftest import Users
from tests.e2e.conftest import Kube
from tests.e2e.test_archive_packs import _open
from tests.e2e.test_backup_restore import (
    _backup,
    _bound_dir,
    _checksums,
    _claim,
    _delete_namespace,
    _fill,
    _wait,
)

KEYS_DIRECTORY = "lifeboat/keys/"


def _namespace_with_data(kube: Kube, stack: Stack) -> tuple[str, dict[str, str]]:
    namespace = unique("vault")
    kube.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
    kube.create(
        {"apiVersion": "v1", "kind": "ConfigMap",
         "metadata": {"name": "settings", "namespace": namespace}, "data": {"mode": "safe"}}
    )  # fmt: skip
    _claim(kube, namespace, "pgdata")
    return namespace, _fill(_bound_dir(stack, namespace, "pgdata"))


def _restore_and_check(
    api: httpx.Client, kube: Kube, stack: Stack, backup: dict[str, Any], expected: dict[str, str]
) -> None:
    [volume] = api.get(f"/api/v1/backups/{backup['uid']}").json()["volumes"]
    namespace = volume["namespace"]
    _delete_namespace(kube, namespace)
    restored = api.post("/api/v1/restores", json={"backup_uid": backup["uid"]})
    assert restored.status_code == 201, restored.text
    restore = _wait(api, f"/api/v1/restores/{restored.json()['uid']}")
    assert restore["status"] == "Success", (restore["reason"], restore["volumes"])
    assert _checksums(_bound_dir(stack, namespace, "pgdata")) == expected


def _objects(stack: Stack, bucket: str) -> dict[str, str]:
    """Every object of the bucket but the key files: key -> etag."""
    return {
        o.object_name or "": o.etag or ""
        for o in dev_s3(stack).list_objects(bucket, recursive=True)
        if KEYS_DIRECTORY not in (o.object_name or "")
    }


def _key_files(stack: Stack, bucket: str) -> list[str]:
    listing = dev_s3(stack).list_objects(bucket, prefix=KEYS_DIRECTORY, recursive=True)
    return sorted(o.object_name or "" for o in listing)


# Key rotation.


@pytest.mark.slow
def test_a_backup_made_before_a_key_rotation_restores_after_it(
    as_user: Users, target: dict[str, str], kube: Kube, stack: Stack
) -> None:
    api = as_user("infraadmin")
    location = dev_location(api, stack)
    mine = {**target, **location}
    namespace, expected = _namespace_with_data(kube, stack)
    before = _backup(api, mine, namespace)
    assert before["status"] == "Success", before["reason"]
    [first_key_file] = _key_files(stack, location["bucket"])
    stored = _objects(stack, location["bucket"])

    rotated = api.post(f"/api/v1/backup-locations/{location['location']}/rotate-key", json={})
    assert rotated.status_code == 200, rotated.text
    # By an update too, with a key the caller chose.
    body = {
        k: rotated.json()[k] for k in ("name", "labels", "endpoint", "bucket", "cloud_account_uid")
    }
    updated = api.put(
        f"/api/v1/backup-locations/{location['location']}",
        json={**body, "encryption_key": "a-key-the-user-chose-for-this-location"},
    )
    assert updated.status_code == 200, updated.text
    assert "encryption_key" not in updated.json()

    # Re-wrapped, never re-uploaded: the data is exactly as it was; one key file, a new one.
    assert _objects(stack, location["bucket"]) == stored
    [key_file] = _key_files(stack, location["bucket"])
    assert key_file != first_key_file

    _restore_and_check(api, kube, stack, before, expected)
    # New backups go on under the rotated key and dedupe against the old ones.
    after = _backup(api, mine, namespace)
    assert after["status"] == "Success", after["reason"]
    _restore_and_check(api, kube, stack, after, expected)


def test_a_location_made_before_key_files_keeps_its_backups_through_its_first_rotation(
    as_user: Users,
    target: dict[str, str],
    kube: Kube,
    stack: Stack,
    catalog: sessionmaker[Session],
) -> None:
    api = as_user("infraadmin")
    location = dev_location(api, stack)
    with catalog.begin() as session:  # as migration 0007 leaves the locations made before it
        session.execute(
            update(BackupLocation)
            .where(BackupLocation.uid == location["location"])
            .values(data_key_in_bucket=False)
        )
    mine = {**target, **location}
    namespace, expected = _namespace_with_data(kube, stack)
    before = _backup(api, mine, namespace)
    assert before["status"] == "Success", before["reason"]
    assert _key_files(stack, location["bucket"]) == []  # its key is its data key
    stored = _objects(stack, location["bucket"])

    rotated = api.post(
        f"/api/v1/backup-locations/{location['location']}/rotate-key",
        json={"encryption_key": "the-first-new-key-of-an-old-location"},
    )
    assert rotated.status_code == 200, rotated.text
    assert len(_key_files(stack, location["bucket"])) == 1
    assert _objects(stack, location["bucket"]) == stored
    _restore_and_check(api, kube, stack, before, expected)


def test_a_rotation_to_a_key_too_short_is_refused_and_changes_nothing(
    as_user: Users, stack: Stack
) -> None:
    api = as_user("infraadmin")
    location = dev_location(api, stack)
    refused = api.post(
        f"/api/v1/backup-locations/{location['location']}/rotate-key",
        json={"encryption_key": "short"},
    )
    assert refused.status_code == 422
    assert refused.json()["error"]["field"] == "encryption_key"
    assert _key_files(stack, location["bucket"]) == []


# Immutability.


def _immutable_location(api: httpx.Client, stack: Stack, *, object_lock: bool) -> httpx.Response:
    bucket = unique("locked" if object_lock else "plain")
    dev_s3(stack).make_bucket(bucket, object_lock=object_lock)
    keys = {"access_key_id": stack.s3_access_key, "secret_access_key": stack.s3_secret_key}
    account = api.post(
        "/api/v1/cloud-accounts",
        json={"name": unique("acct"), "provider": "s3-compatible", "credentials": keys},
    )
    assert account.status_code == 201, account.text
    return api.post(
        "/api/v1/backup-locations",
        json={
            "name": unique("vault"),
            "endpoint": stack.s3_endpoint,
            "bucket": bucket,
            "cloud_account_uid": account.json()["uid"],
            "immutability": {"mode": "compliance", "retention_days": 2},
        },
    )


def test_a_store_that_does_not_answer_is_an_outage_to_retry_not_an_unusable_location(
    as_user: Users, stack: Stack, catalog: sessionmaker[Session], postgres_url: str
) -> None:
    """Opening a location reads its key file from the bucket: a store that does not answer
    then is a failed request (the step is retried until it answers), never the refusal that
    ends a backup at once; once it answers the location opens as before."""
    api = as_user("infraadmin")
    location = dev_location(api, stack)["location"]
    _open(stack, postgres_url, location).backend.close()  # its key file is made
    closed = f"http://127.0.0.1:{free_port()}"

    def endpoint(value: str) -> None:
        with catalog.begin() as session:
            session.execute(
                update(BackupLocation).where(BackupLocation.uid == location).values(endpoint=value)
            )

    endpoint(closed)
    try:
        with pytest.raises(LocationError) as failed:
            _open(stack, postgres_url, location)
        assert not isinstance(failed.value, LocationUnavailable)
        assert "lifeboat/keys/" in str(failed.value), failed.value
    finally:
        endpoint(stack.s3_endpoint)
    _open(stack, postgres_url, location).backend.close()


def test_immutability_needs_a_bucket_with_object_lock(as_user: Users, stack: Stack) -> None:
    api = as_user("infraadmin")
    refused = _immutable_location(api, stack, object_lock=False)
    assert refused.status_code == 422, refused.text
    error = refused.json()["error"]
    assert error["field"] == "immutability"
    assert "has no object lock" in error["message"]
    names = {loc["name"] for loc in api.get("/api/v1/backup-locations").json()["items"]}
    assert refused.request.content and json.loads(refused.request.content)["name"] not in names

    made = _immutable_location(api, stack, object_lock=True)
    assert made.status_code == 201, made.text
    assert made.json()["immutability"] == {"mode": "compliance", "retention_days": 2}


def _scheduled_twice(
    api: httpx.Client, target: dict[str, str], namespace: str
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A daily schedule keeping 1 backup, suspended, run twice; its schedule and backups."""
    policy = api.post("/api/v1/schedule-policies", json={
        "name": unique("daily"), "schedule": {"type": "daily", "time": "03:00"},
        "retention": {"keep_last": 1},
    })  # fmt: skip
    assert policy.status_code == 201, policy.text
    schedule = api.post("/api/v1/backup-schedules", json={
        "name": unique("locked"), "policy_uid": policy.json()["uid"],
        "backup": {"cluster_uid": target["cluster"], "location_uid": target["location"],
                   "namespaces": [namespace]},
    })  # fmt: skip
    assert schedule.status_code == 201, schedule.text
    uid = schedule.json()["uid"]
    api.post(f"/api/v1/backup-schedules/{uid}/suspend")
    made: list[dict[str, Any]] = []
    for run in (1, 2):
        assert api.post(f"/api/v1/backup-schedules/{uid}/run-now").status_code == 202
        deadline = time.monotonic() + 120
        while len(made := _of_schedule(api, uid, finished=True)) < run:
            assert time.monotonic() < deadline, f"run {run} of the schedule did not finish"
            time.sleep(0.5)
        time.sleep(1.1)  # the next run's name has a later second
    return schedule.json(), made


def _of_schedule(api: httpx.Client, uid: str, *, finished: bool) -> list[dict[str, Any]]:
    items = api.get("/api/v1/backups", params={"schedule_uid": uid}).json()["items"]
    return sorted(
        (b for b in items if not finished or b["status"] not in ("Pending", "InProgress")),
        key=lambda b: b["created_at"],
    )


@pytest.mark.slow
def test_a_locked_backup_outlives_its_deletion_and_its_retention(
    as_user: Users, target: dict[str, str], kube: Kube, stack: Stack
) -> None:
    api = as_user("infraadmin")
    made = _immutable_location(api, stack, object_lock=True)
    assert made.status_code == 201, made.text
    locked = {**target, "location": made.json()["uid"], "bucket": made.json()["bucket"]}
    namespace, expected = _namespace_with_data(kube, stack)

    backup = _backup(api, locked, namespace)
    assert backup["status"] == "Success", backup["reason"]
    # On demand: the location's retention_days (2).
    until = datetime.fromisoformat(backup["locked_until"])
    created = datetime.fromisoformat(backup["created_at"])
    assert until - created == timedelta(days=2)
    # Every object in the bucket (archive and volume data) is locked until then, but the
    # key file, which a rotation replaces.
    s3 = dev_s3(stack)
    objects = [o.object_name or "" for o in s3.list_objects(locked["bucket"], recursive=True)]
    assert any("/lifeboat-data/" in f"/{name}" for name in objects)
    assert any(backup["uid"] in name for name in objects)
    for name in (n for n in objects if KEYS_DIRECTORY not in n):
        retention = s3.get_object_retention(locked["bucket"], name)
        assert retention is not None and retention.mode == "COMPLIANCE", name
        assert retention.retain_until_date == until.replace(microsecond=0), name

    refused = api.delete(f"/api/v1/backups/{backup['uid']}")
    assert refused.status_code == 409, refused.text
    message = refused.json()["error"]["message"]
    assert "immutable" in message and until.isoformat(timespec="seconds") in message
    assert api.get(f"/api/v1/backups/{backup['uid']}").json()["status"] == "Success"

    # A daily schedule keeping one backup: its lock covers a day, and the first backup,
    # which retention would delete, stays and says why.
    schedule, runs = _scheduled_twice(api, locked, namespace)
    assert [b["status"] for b in runs] == ["Success", "Success"]
    deadline = time.monotonic() + 60
    while (
        "retention would delete it, but"
        not in (first := api.get(f"/api/v1/backups/{runs[0]['uid']}").json())["reason"]
    ):
        assert first["status"] == "Success", first
        assert time.monotonic() < deadline, f"retention did not say why it kept {first}"
        time.sleep(0.5)
    assert "immutable" in first["reason"]
    kept_for = datetime.fromisoformat(first["locked_until"]) - datetime.fromisoformat(
        first["created_at"]
    )
    assert kept_for == timedelta(days=1)
    deleting = api.delete(
        f"/api/v1/backup-schedules/{schedule['uid']}", params={"backups": "delete"}
    )
    assert deleting.status_code == 409, deleting.text
    assert api.get(f"/api/v1/backup-schedules/{schedule['uid']}").status_code == 200

    _restore_and_check(api, kube, stack, backup, expected)


# Retention by the hour.


def test_a_policy_with_hourly_counts_keeps_the_newest_backup_of_each_recent_hour(
    as_user: Users, target: dict[str, str], kube: Kube, catalog: sessionmaker[Session]
) -> None:
    api = as_user("infraadmin")
    namespace = unique("hourly")
    kube.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
    policy = api.post("/api/v1/schedule-policies", json={
        "name": unique("hourly"), "schedule": {"type": "interval", "every_minutes": 60},
        "retention": {"keep_last": 1, "keep_hourly": 2},
    })  # fmt: skip
    assert policy.status_code == 201, policy.text
    assert policy.json()["retention"]["keep_hourly"] == 2
    schedule = api.post("/api/v1/backup-schedules", json={
        "name": unique("hourly"), "policy_uid": policy.json()["uid"],
        "backup": {"cluster_uid": target["cluster"], "location_uid": target["location"],
                   "namespaces": [namespace]},
    })  # fmt: skip
    assert schedule.status_code == 201, schedule.text
    uid = schedule.json()["uid"]
    api.post(f"/api/v1/backup-schedules/{uid}/suspend")
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)

    def run() -> str:
        """One more run, finished, and its retention applied; the new backup's uid."""
        known = {b["uid"] for b in _of_schedule(api, uid, finished=False)}
        assert api.post(f"/api/v1/backup-schedules/{uid}/run-now").status_code == 202
        deadline = time.monotonic() + 120
        while True:
            new = [b for b in _of_schedule(api, uid, finished=True) if b["uid"] not in known]
            if new and new[0]["status"] == "Success":
                time.sleep(1.1)  # the next run's name has a later second
                return str(new[0]["uid"])
            assert time.monotonic() < deadline, "the run did not finish"
            time.sleep(0.5)

    def dated(backup_uid: str, at: datetime) -> None:
        with catalog.begin() as session:
            session.execute(update(Backup).where(Backup.uid == backup_uid).values(created_at=at))

    def kept(expected: set[str]) -> None:
        deadline = time.monotonic() + 60
        while {b["uid"] for b in _of_schedule(api, uid, finished=False)} != expected:
            assert time.monotonic() < deadline, (
                f"kept {[b['name'] for b in _of_schedule(api, uid, finished=False)]}"
            )
            time.sleep(0.5)

    a = run()
    dated(a, hour - timedelta(hours=3) + timedelta(minutes=10))
    b = run()
    kept({a, b})  # the newest, and the newest of the next hour that has a backup (3 h ago)
    dated(b, hour - timedelta(hours=1) + timedelta(minutes=20))
    c = run()
    kept({b, c})  # two hours kept: this one's and the last; 3 h ago is beyond the count
    dated(c, hour - timedelta(hours=1) + timedelta(minutes=10))
    d = run()
    kept({b, d})  # c is not the newest of its hour: b is


# Rotation of the catalog's at-rest key.


def _rotate_secrets(
    database_url: str, new: str, previous: list[str]
) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "LIFEBOAT_DATABASE_URL": database_url,
        "LIFEBOAT_SECRET_KEY": new,
        "LIFEBOAT_PREVIOUS_SECRET_KEYS": json.dumps(previous),
        "PYTHONPATH": str(REPO_ROOT),
    }
    return subprocess.run(
        [str(Path(sys.executable).parent / "lifeboat"), "rotate-secrets"],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def _ciphertexts(database_url: str) -> list[bytes]:
    from sqlalchemy import create_engine, text

    from lifeboat.catalog.session import sync_url

    engine = create_engine(sync_url(database_url))
    try:
        with engine.connect() as connection:
            found = []
            for table, column in (
                ("clusters", "kubeconfig_ciphertext"),
                ("cloud_accounts", "credentials_ciphertext"),
                ("backup_locations", "encryption_key_ciphertext"),
            ):
                found += [
                    row[0] for row in connection.execute(text(f"SELECT {column} FROM {table}"))
                ]
            return found
    finally:
        engine.dispose()


@pytest.mark.slow
def test_rotate_secrets_re_encrypts_every_secret_and_the_platform_works_under_the_new_key(
    stack: Stack,
    provider: OidcProvider,
    tmp_path: Path,
    kubeconfig_text: str,
    kube: Kube,
) -> None:
    database_url = f"sqlite:///{tmp_path / 'catalog.db'}"
    upgrade(database_url)
    old, new = "the-old-at-rest-key-of-this-catalog", "the-new-at-rest-key-of-this-catalog"
    queue = unique("rotate-secrets")
    settings = {"LIFEBOAT_DATABASE_URL": database_url, "LIFEBOAT_TASK_QUEUE": queue}
    with platform_users(
        stack, provider, tmp_path / "old", {**settings, "LIFEBOAT_SECRET_KEY": old}
    ) as users:
        api = users("infraadmin")
        cluster = api.post(
            "/api/v1/clusters", json={"name": unique("prod"), "kubeconfig": kubeconfig_text}
        ).json()
        wait_for_sync(api, cluster["uid"])
        location = dev_location(api, stack)
    stored = _ciphertexts(database_url)
    assert len(stored) == 3

    wrong = _rotate_secrets(database_url, new, ["not-the-key-they-were-written-with"])
    assert wrong.returncode != 0
    assert "nothing was changed" in wrong.stderr
    assert _ciphertexts(database_url) == stored

    done = _rotate_secrets(database_url, new, [old])
    assert done.returncode == 0, done.stderr
    assert "re-encrypted 3 secrets" in done.stdout
    rotated = _ciphertexts(database_url)
    assert all(SecretBox(new).decrypt(c) for c in rotated)
    for ciphertext in rotated:
        with pytest.raises(SecretDecryptError):
            SecretBox(old).decrypt(ciphertext)

    # The platform under the new key alone: the kubeconfig reaches the cluster, the cloud
    # account reaches the bucket, the location's key encrypts and restores a backup.
    with platform_users(
        stack, provider, tmp_path / "new", {**settings, "LIFEBOAT_SECRET_KEY": new}
    ) as users:
        api = users("infraadmin")
        synced = api.get(f"/api/v1/clusters/{cluster['uid']}").json()["last_synced_at"]
        assert api.post(f"/api/v1/clusters/{cluster['uid']}/sync").status_code == 202
        assert wait_for_sync(api, cluster["uid"], after=synced)["status"] == "Online"
        namespace, expected = _namespace_with_data(kube, stack)
        backup = _backup(api, {"cluster": cluster["uid"], **location}, namespace)
        assert backup["status"] == "Success", backup["reason"]
        _restore_and_check(api, kube, stack, backup, expected)
