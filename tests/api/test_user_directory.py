"""Users removed at the identity provider show as `Unknown (<user id>)`: the directory sync
reads the provider's SCIM interface (the dev stack's Canaille) on a Temporal Schedule."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from temporalio.client import Client, ScheduleActionExecutionStartWorkflow
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.directory import DirectoryActivities
from deploy.local.servers.oidc import (
    OidcProvider,
    add_provider_user,
    password_token,
    remove_provider_user,
)
from deploy.local.stack import Stack
from lifeboat.catalog.models import SYSTEM_OWNER, User, utcnow
from lifeboat.catalog.session import create_engine, create_sessionmaker
from lifeboat.settings import Settings
from tests.api.helpers import remove_cluster, unique
from tests.conftest import Users
from workflows.contracts import DirectorySyncResult
from workflows.errors import DIRECTORY_UNREADABLE
from workflows.ids import user_directory_schedule_id


def _sync_directory(stack: Stack) -> DirectorySyncResult:
    """Run the directory sync now, as an operator does with the schedule's Trigger button, and
    wait for that run's result."""

    async def run() -> DirectorySyncResult:
        client = await Client.connect(stack.temporal_address)
        schedule = client.get_schedule_handle(user_directory_schedule_id("lifeboat"))
        before = (await schedule.describe()).info.num_actions
        await schedule.trigger()
        deadline = time.monotonic() + 60
        while (info := (await schedule.describe()).info).num_actions <= before:
            assert time.monotonic() < deadline, "the triggered directory sync never started"
            await asyncio.sleep(0.3)
        started = info.recent_actions[-1].action
        assert isinstance(started, ScheduleActionExecutionStartWorkflow)
        result: DirectorySyncResult = await client.get_workflow_handle(
            started.workflow_id,
            run_id=started.first_execution_run_id,
            result_type=DirectorySyncResult,
        ).result()
        return result

    return asyncio.run(run())


def _user(api: httpx.Client, subject: str) -> dict[str, Any]:
    users = api.get("/api/v1/users")
    assert users.status_code == 200, users.text
    found: list[dict[str, Any]] = [u for u in users.json()["items"] if u["subject"] == subject]
    assert len(found) == 1, found
    return found[0]


def test_a_user_removed_at_the_provider_shows_as_unknown(
    stack: Stack, provider: OidcProvider, as_user: Users, kubeconfig_text: str
) -> None:
    admin = as_user("superadmin")
    name = unique("leaver")
    scim_id = add_provider_user(provider, name)
    invited = admin.post("/api/v1/users", json={"subject": name, "roles": ["lifeboat.infra-admin"]})
    assert invited.status_code == 201, invited.text
    with httpx.Client(
        base_url=stack.api_url,
        headers={"Authorization": f"Bearer {password_token(provider, name)}"},
        timeout=30,
    ) as leaver:
        registered = leaver.post(
            "/api/v1/clusters", json={"name": unique("theirs"), "kubeconfig": kubeconfig_text}
        )
        assert registered.status_code == 201, registered.text
    cluster = registered.json()
    try:
        assert admin.get(f"/api/v1/clusters/{cluster['uid']}").json()["owner"] == name
        assert name not in _sync_directory(stack).gone  # still there: nothing changes
        assert _user(admin, name)["in_provider"] is True

        remove_provider_user(provider, scim_id)
        assert name in _sync_directory(stack).gone
        found = admin.get(f"/api/v1/clusters/{cluster['uid']}").json()
        assert found["owner"] == f"Unknown ({name})"
        gone = _user(admin, name)
        assert gone["in_provider"] is False
        assert gone["display_name"] == f"Unknown ({name})"
        # The users the provider still has keep their names.
        assert _user(admin, "superadmin")["in_provider"] is True
        assert admin.get("/api/v1/clusters").json()["count"] >= 1
    finally:
        remove_cluster(admin, cluster["uid"])


def _activities(stack: Stack, **settings: Any) -> tuple[DirectoryActivities, Any]:
    sessions = create_sessionmaker(create_engine(stack.database_url))
    base = Settings(database_url=stack.database_url, oidc_issuer=stack.oidc_issuer)
    return DirectoryActivities(sessions, base.model_copy(update=settings)), sessions


async def _add_user(sessions: Any, subject: str, *, seen_days_ago: int) -> None:
    async with sessions.begin() as session:
        session.add(
            User(
                name=subject,
                owner_id=SYSTEM_OWNER,
                subject=subject,
                last_seen_at=utcnow() - timedelta(days=seen_days_ago),
            )
        )


async def _known(sessions: Any, subject: str) -> bool:
    async with sessions() as session:
        return bool(await session.scalar(select(User.in_provider).where(User.subject == subject)))


def test_users_not_seen_for_the_set_time_show_as_unknown(stack: Stack) -> None:
    """For providers without SCIM: a user not seen for `user_unseen_days` is unknown."""
    activities, sessions = _activities(stack, user_unseen_days=30)
    away, recent = unique("away"), unique("recent")

    async def run() -> tuple[bool, bool]:
        await _add_user(sessions, away, seen_days_ago=31)
        await _add_user(sessions, recent, seen_days_ago=29)
        result = await ActivityEnvironment().run(activities.reconcile_users)
        assert away in result.gone and recent not in result.gone
        return await _known(sessions, away), await _known(sessions, recent)

    assert asyncio.run(run()) == (False, True)


def test_an_unreadable_directory_marks_nobody(stack: Stack, as_user: Users) -> None:
    """A refused directory client is a failure saying so, not a reason to forget everyone."""
    as_user("appuser").get("/api/v1/me")
    activities, sessions = _activities(
        stack,
        directory_scim_url=stack.oidc_issuer + "/scim/v2",
        directory_client_id="lifeboat-directory",
        directory_client_secret="not-the-secret",
    )

    async def run() -> bool:
        with pytest.raises(ApplicationError) as refused:
            await ActivityEnvironment().run(activities.reconcile_users)
        assert refused.value.type == DIRECTORY_UNREADABLE
        assert "LIFEBOAT_DIRECTORY_CLIENT_ID" in str(refused.value)
        return await _known(sessions, "appuser")

    assert asyncio.run(run()) is True
