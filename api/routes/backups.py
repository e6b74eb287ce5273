"""Backups: All Backups lists the caller's own backups and those shared with them.

A backup is shared directly, or through a share of its cluster by the backup's owner ("share
cluster backups" shares only the sharer's own backups of that cluster).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends

from api.authz import Authorize, AuthzContext
from api.crud import list_visible
from api.schemas import ListOf, ObjectRead
from lifeboat.catalog.models import Backup
from lifeboat.rbac.matrix import Action, Kind

router = APIRouter(prefix="/backups", tags=["backups"])

ViewBackup = Annotated[AuthzContext, Depends(Authorize(Kind.BACKUPS, Action.VIEW))]


class BackupRead(ObjectRead):
    cluster_uid: str
    location_uid: str
    schedule_uid: str | None
    status: str
    stage: str
    reason: str
    resource_count: int
    volume_count: int
    size_bytes: int
    started_at: datetime | None
    finished_at: datetime | None


class BackupDetail(BackupRead):
    # How far the caller may go with it: view, restore or full.
    access: str


@router.get("")
async def list_backups(ctx: ViewBackup) -> ListOf[BackupRead]:
    """All Backups: the caller's own and those shared with them (super admins: every one)."""
    items = [BackupRead.model_validate(b) for b in await list_visible(ctx, Backup)]
    return ListOf(items=items, count=len(items))


@router.get("/{uid}")
async def get_backup(uid: str, ctx: ViewBackup) -> BackupDetail:
    backup = await ctx.load(Backup, uid)
    data: dict[str, Any] = BackupRead.model_validate(backup).model_dump()
    return BackupDetail(**data, access=str(await ctx.access(backup)))
