"""Enforcing the license on backup schedules, and recording the nodes in use."""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.client import Client
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from lifeboat.catalog.licenses import (
    SUBSCRIPTION,
    imported,
    installation,
    license_status,
    nodes_used,
    set_key,
    trusted_keys,
)
from lifeboat.catalog.models import BackupSchedule, License, LicenseUsage, SuspendedBy, utcnow
from lifeboat.license_server import LicenseServerError, activate
from lifeboat.licensing import LicenseInvalid, check_installation, read_key
from lifeboat.secrets import SecretBox
from lifeboat.settings import Settings
from workflows.contracts import LicenseCheckResult
from workflows.errors import LICENSE_NOT_RENEWED
from workflows.ids import backup_schedule_id

log = logging.getLogger("lifeboat.license")

# The usage trend keeps this much history.
USAGE_KEPT = timedelta(days=400)
# A subscription's license is renewed once this close to its end, and at least daily (so a
# change of plan arrives within a day).
RENEW_BEFORE = timedelta(days=7)
RENEW_EVERY = timedelta(days=1)


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
    async def renew_subscription(self) -> None:
        """Fetch a subscription's license from the license server when it is due; on failure
        record why (shown with the license) and keep the current license."""
        now = utcnow()
        async with self._sessions.begin() as session:  # begin: an installation made here stays
            row = await imported(session)
            if row is None or row.kind != SUBSCRIPTION or row.activation_ciphertext is None:
                return
            due = (
                row.key_ciphertext is None
                or row.expires_at is None
                or row.expires_at - now < RENEW_BEFORE
                or row.renewed_at is None
                or now - row.renewed_at >= RENEW_EVERY
            )
            if not due:
                return
            this, used = (await installation(session)).uid, await nodes_used(session)
            activation_id = self._secrets.decrypt(row.activation_ciphertext)
        try:
            key = await activate(
                self._settings.license_server_url,
                activation_id=activation_id,
                installation_id=this,
                nodes_used=used,
            )
            document = read_key(key, trusted_keys(self._settings))
            check_installation(document, this)
        except (LicenseServerError, LicenseInvalid) as exc:
            await self._record_renewal(row.uid, error=str(exc))
            permanent = not isinstance(exc, LicenseServerError) or exc.permanent
            raise ApplicationError(
                str(exc), type=LICENSE_NOT_RENEWED, non_retryable=permanent
            ) from None
        async with self._sessions.begin() as session:
            stored = await session.get(License, row.uid, with_for_update=True)
            if stored is None:  # removed meanwhile
                return
            set_key(stored, self._secrets, key, document)
            stored.renewed_at, stored.renewal_error = now, ""
        log.info("subscription license %s renewed until %s", document.id, document.valid_until)

    async def _record_renewal(self, uid: str, *, error: str) -> None:
        async with self._sessions.begin() as session:
            stored = await session.get(License, uid, with_for_update=True)
            if stored is not None:
                stored.renewal_error = error

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
                    schedule.suspend(SuspendedBy.LICENSE)
                    result.suspended.append(schedule.uid)
                else:
                    await self._pause(schedule, paused=False, note="the license allows backups")
                    schedule.resume()
                    result.resumed.append(schedule.uid)
        if result.suspended or result.resumed:
            log.info(
                "license %s: suspended %d, resumed %d backup schedules",
                status.state,
                len(result.suspended),
                len(result.resumed),
            )
        return result
