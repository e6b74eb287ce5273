"""Noticing users removed at the identity provider, so they show as `Unknown (<user id>)`."""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from lifeboat.catalog.models import User, utcnow
from lifeboat.directory import DirectoryError, ScimDirectory
from lifeboat.settings import Settings
from workflows.contracts import DirectorySyncResult
from workflows.errors import DIRECTORY_UNREADABLE

log = logging.getLogger("lifeboat.directory")


def scim_directory(settings: Settings) -> ScimDirectory | None:
    """The provider's SCIM directory, when one is configured."""
    if not settings.directory_scim_url:
        return None
    return ScimDirectory(
        scim_url=settings.directory_scim_url,
        issuer=settings.oidc_issuer,
        client_id=settings.directory_client_id,
        client_secret=settings.directory_client_secret,
        subject_attribute=settings.directory_subject_attribute,
    )


class DirectoryActivities:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], settings: Settings) -> None:
        self._sessions = sessions
        self._directory = scim_directory(settings)
        self._unseen = (
            timedelta(days=settings.user_unseen_days) if settings.user_unseen_days else None
        )

    @activity.defn
    async def reconcile_users(self) -> DirectorySyncResult:
        """Mark each catalog user known or unknown: listed by the provider (when it has SCIM)
        and seen within the unseen limit (when one is set)."""
        listed: set[str] | None = None
        if self._directory is not None:
            try:
                listed = await self._directory.subjects()
            except DirectoryError as exc:
                raise ApplicationError(str(exc), type=DIRECTORY_UNREADABLE) from None
            if not listed:
                # A client that may not list users sees none: that proves nobody left.
                raise ApplicationError(
                    "the provider's SCIM interface listed no users at all; not marking every "
                    "user unknown (may the directory client list users?)",
                    type=DIRECTORY_UNREADABLE,
                    non_retryable=True,
                )
        now = utcnow()
        result = DirectorySyncResult()
        async with self._sessions.begin() as session:
            for user in await session.scalars(select(User).order_by(User.subject)):
                seen = user.last_seen_at or user.created_at
                known = (listed is None or user.subject in listed) and (
                    self._unseen is None or now - seen <= self._unseen
                )
                if known != user.in_provider:
                    (result.returned if known else result.gone).append(user.subject)
                    user.in_provider = known
                result.users += 1
                result.unknown += not known
        if result.gone or result.returned:
            log.info(
                "directory: %d users now unknown, %d known again",
                len(result.gone),
                len(result.returned),
            )
        return result
