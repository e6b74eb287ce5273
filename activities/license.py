"""Enforcing the license on backup schedules, and recording the nodes in use."""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from lifeboat.catalog.licenses import license_status
from lifeboat.catalog.models import BackupSchedule, LicenseUsage, SuspendedBy, utcnow
from lifeboat.secrets import SecretBox
from lifeboat.settings import Settings
from workflows.contracts import LicenseCheckResult
from workflows.ids import backup_schedule_id

log = logging.getLogger("lifeboat.license")

# The usage trend keeps this much history.
USAGE_KEPT = timedelta(days=400)


class LicenseActivities:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        settings: Settings,
        secrets: SecretBox,
        client: Client,
    ) -> None:
        self._sessions = sessions
        self._settings = settings
        self._secrets = secrets
        self._client = client

    async def _pause(self, schedule: BackupSchedule, *, paused: bool, note: str) -> None:
        handle = self._client.get_schedule_handle(backup_schedule_id(schedule.uid))
        try:
            await (handle.pause(note=note) if paused else handle.unpause(note=note))
        except RPCError as exc:
            if exc.status != RPCStatusCode.NOT_FOUND:
                raise
            # The schedule's own status says its Temporal Schedule is missing.
            log.warning("backup schedule %s has no Temporal Schedule to pause", schedule.uid)

    @activity.defn
    async def enforce_license(self) -> LicenseCheckResult:
        """Record the nodes in use; suspend running backup schedules while the license stops
        backups, resume the ones it suspended once it allows them. Safe to repeat."""
        now = utcnow()
        async with self._sessions.begin() as session:
            status = await license_status(session, self._settings, self._secrets, now=now)
            session.add(LicenseUsage(recorded_at=now, nodes=status.nodes_used))
            await session.execute(
                delete(LicenseUsage).where(LicenseUsage.recorded_at < now - USAGE_KEPT)
            )
        result = LicenseCheckResult(state=status.state, nodes_used=status.nodes_used)
        async with self._sessions.begin() as session:
            if status.enforced:
                query = select(BackupSchedule).where(BackupSchedule.suspended.is_(False))
            else:
                query = select(BackupSchedule).where(
                    BackupSchedule.suspended_by == SuspendedBy.LICENSE
                )
            for schedule in await session.scalars(query.with_for_update()):
                if status.enforced:
                    await self._pause(
                        schedule, paused=True, note=f"suspended by the license: {status.reason}"
                    )
                    schedule.suspended, schedule.suspended_by = True, SuspendedBy.LICENSE
                    result.suspended.append(schedule.uid)
                else:
                    await self._pause(schedule, paused=False, note="the license allows backups")
                    schedule.suspended, schedule.suspended_by = False, ""
                    schedule.due_since = now  # runs missed while suspended are not owed
                    result.resumed.append(schedule.uid)
        if result.suspended or result.resumed:
            log.info(
                "license %s: suspended %d, resumed %d backup schedules",
                status.state,
                len(result.suspended),
                len(result.resumed),
            )
        return result
