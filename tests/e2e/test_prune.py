"""Pruning a location's repository never races a backup writing to it.

A backup may reuse chunks no finished snapshot refers to yet, so prune and backups exclude
each other through the location's prune lock: a prune is deferred while a backup of the
location is in progress, and backups wait in their namespace lock step while a prune runs.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.testing import ActivityEnvironment

from activities.volumes import VolumeActivities
from deploy.local.stack import Stack
from lifeboat.catalog.models import Backup, BackupLocation, utcnow
from lifeboat.catalog.session import create_engine, create_sessionmaker
from lifeboat.secrets import SecretBox
from tests.api.helpers import unique
from tests.conftest import Users
from tests.e2e.conftest import Kube
from workflows.contracts import PruneInput


@pytest.fixture
async def sessions(stack: Stack) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(stack.database_url)
    try:
        yield create_sessionmaker(engine)
    finally:
        await engine.dispose()


def _start_backup(api: httpx.Client, target: dict[str, str], namespace: str) -> str:
    started = api.post(
        "/api/v1/backups",
        json={"cluster_uid": target["cluster"], "location_uid": target["location"],
              "namespaces": [namespace]},
    )  # fmt: skip
    assert started.status_code == 201, started.text
    return str(started.json()["uid"])


def _finished(api: httpx.Client, uid: str) -> dict[str, Any]:
    deadline = time.monotonic() + 120
    while (backup := api.get(f"/api/v1/backups/{uid}").json())["status"] in (
        "Pending",
        "InProgress",
    ):
        assert time.monotonic() < deadline, backup
        time.sleep(0.5)
    return dict(backup)


async def test_prune_waits_for_backups_and_backups_wait_for_prune(
    as_user: Users,
    target: dict[str, str],
    kube: Kube,
    stack: Stack,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    api = as_user("infraadmin")
    namespace = unique("prune")
    kube.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
    activities = VolumeActivities(sessions, SecretBox(stack.secret_key))
    prune = PruneInput(target["location"], holder="prune-test")

    # A prune while a backup of the location is in progress is deferred, naming it (the
    # catalog is set as a backup's own lock step sets it, for as long as the test needs).
    uid = _start_backup(api, target, namespace)
    assert _finished(api, uid)["status"] == "Success"
    async with sessions.begin() as session:
        await session.execute(update(Backup).where(Backup.uid == uid).values(status="InProgress"))
    deferred = await ActivityEnvironment().run(activities.prune_location, prune)
    assert deferred.status == "Deferred" and "are writing to it" in deferred.reason
    async with sessions.begin() as session:
        await session.execute(update(Backup).where(Backup.uid == uid).values(status="Success"))

    # While a prune holds the location, a new backup waits for it, then completes.
    async with sessions.begin() as session:
        await session.execute(
            update(BackupLocation)
            .where(BackupLocation.uid == target["location"])
            .values(prune_holder="prune-elsewhere", prune_started_at=utcnow())
        )
    waiting = _start_backup(api, target, namespace)
    await asyncio.sleep(5)
    backup = api.get(f"/api/v1/backups/{waiting}").json()
    assert backup["stage"] == "WaitingForNamespaces" and backup["status"] == "Pending", backup
    other = await ActivityEnvironment().run(activities.prune_location, prune)
    assert other.status == "Deferred" and "prune-elsewhere is pruning it" in other.reason
    async with sessions.begin() as session:
        await session.execute(
            update(BackupLocation)
            .where(BackupLocation.uid == target["location"])
            .values(prune_holder="", prune_started_at=None)
        )
    backup = _finished(api, waiting)
    assert backup["status"] == "Success", backup["reason"]

    # With no backup writing, the prune runs and lets go of the location.
    pruned = await ActivityEnvironment().run(activities.prune_location, prune)
    assert pruned.status == "Pruned"
    async with sessions() as session:
        location = await session.get(BackupLocation, target["location"])
        assert location is not None and location.prune_holder == ""
