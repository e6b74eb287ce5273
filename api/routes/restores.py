"""Restores: from a backup into the same or another cluster; a preview changes nothing."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, status
from pydantic import BaseModel, Field
from sqlalchemy import ColumnElement
from temporalio.client import Client

from api.authz import Authorize, AuthzContext
from api.crud import (
    PageDep,
    active_cluster,
    delete_object,
    last_run_closed,
    list_page,
    restore_access,
    restore_target,
    save_named,
)
from api.deps import TemporalDep
from api.errors import Conflict
from api.schemas import Accepted, ListOf, Name, ObjectRead, Text, TextMap, Uid
from lifeboat.catalog.models import Backup, Restore, utcnow
from lifeboat.rbac.access import Use
from lifeboat.rbac.matrix import Action, Kind
from lifeboat.specs import ReplacePolicy, RestoreSpec
from lifeboat.status import RESTORE_RUNNING, USABLE, RestoreStatus, Stage
from workflows.contracts import RestoreInput
from workflows.ids import restore_workflow_id, search_attributes
from workflows.restore import RestoreWorkflow

router = APIRouter(prefix="/restores", tags=["restores"])

CreateRestore = Annotated[AuthzContext, Depends(Authorize(Kind.RESTORES, Action.CREATE))]
ViewRestore = Annotated[AuthzContext, Depends(Authorize(Kind.RESTORES, Action.VIEW))]
EditRestore = Annotated[AuthzContext, Depends(Authorize(Kind.RESTORES, Action.EDIT))]
DeleteRestore = Annotated[AuthzContext, Depends(Authorize(Kind.RESTORES, Action.DELETE))]
PREVIEW_TIMEOUT = timedelta(minutes=2)


class RestoreCreate(BaseModel):
    backup_uid: Uid
    cluster_uid: Uid | None = Field(
        default=None, description="Target; the backup's cluster if unset"
    )
    name: Name | None = None
    namespace_mapping: TextMap = Field(default_factory=dict, max_length=500)
    storage_class_mapping: TextMap = Field(default_factory=dict, max_length=100)
    replace_policy: ReplacePolicy = ReplacePolicy.KEEP
    include_namespaces: list[Text] = Field(default_factory=list, max_length=500)
    include_types: list[Text] = Field(default_factory=list, max_length=200)
    exclude_types: list[Text] = Field(default_factory=list, max_length=200)


class RestoreRead(ObjectRead):
    backup_uid: str
    cluster_uid: str
    spec: RestoreSpec
    status: RestoreStatus
    stage: Stage
    reason: str
    resources: list[dict[str, Any]] = Field(
        description="What became (in a preview: would become) of each object: `kind`, `type`, "
        "`namespace`, `name`, `action` (`created`, `replaced`, `skipped`, `failed`; a preview "
        "says `create`, `replace`, `skip`), `reason`, and for a preview's `replace` its "
        "`changes`: each field it would change, as `path` (a JSON path such as "
        "`spec.replicas`), `change` (`changed`, `added`: only the backup has it, `removed`: only "
        "the cluster has it), `old` (the cluster's value) and `new` (the backup's); a Secret's "
        "values are never shown, its changes say `hidden: true` instead"
    )
    volumes: list[dict[str, Any]] = Field(
        description="What becomes of each backed-up volume's data: `namespace`, `pvc`, "
        "`action` (`create`: a new claim filled with the backup's data; `replace`: the "
        "existing claim replaced and its data overwritten; `keep`: the existing claim kept, "
        "its data untouched; `none`: the claim could not be restored), `status` (`Planned` in "
        "a preview; `Pending`, then `Success` or `Failed`, in a restore; `Skipped` when kept; "
        "`Failed` when the claim could not be restored), `reason`, `bytes_total`"
    )
    started_at: datetime | None
    finished_at: datetime | None


async def _new_restore(body: RestoreCreate, ctx: AuthzContext, *, preview: bool) -> Restore:
    backup = await ctx.for_kind(Kind.BACKUPS, Action.VIEW).load(
        Backup, body.backup_uid, to=Use.RESTORE
    )
    target = await restore_target(ctx, backup, body.cluster_uid, verb="restore into")
    backup_uid, target_uid = backup.uid, target.uid  # before a name clash's rollback
    stamp = utcnow().strftime("%Y%m%d%H%M%S")
    return await save_named(
        ctx,
        lambda name: Restore(
            name=name,
            owner_id=ctx.caller.subject,
            backup_uid=backup_uid,
            cluster_uid=target_uid,
            spec=RestoreSpec.from_json({**body.model_dump(), "preview": preview}),
            started_at=utcnow(),
        ),
        body.name,
        default=f"{'preview' if preview else 'restore'}-{backup.name}-{stamp}",
    )


@router.post("", status_code=status.HTTP_201_CREATED)
async def start_restore(
    body: RestoreCreate, ctx: CreateRestore, temporal: TemporalDep
) -> RestoreRead:
    """Start a restore; read its progress and per-object results with GET.

    It waits (stage `WaitingForNamespaces`) while a backup or another restore of the same
    target namespaces runs."""
    restore = await _new_restore(body, ctx, preview=False)
    await _start(temporal, restore, ctx, retry=False)
    return RestoreRead.model_validate(restore)


async def _start(temporal: Client, restore: Restore, ctx: AuthzContext, *, retry: bool) -> None:
    await temporal.start_workflow(
        RestoreWorkflow.run,
        RestoreInput(restore_uid=restore.uid, retry=retry),
        id=restore_workflow_id(restore.uid),
        task_queue=ctx.settings.task_queue,
        search_attributes=search_attributes(
            owner=restore.owner_id, cluster=restore.cluster_uid, kind="restore"
        ),
    )


@router.post("/{uid}/cancel", status_code=status.HTTP_202_ACCEPTED)
async def cancel_restore(uid: Uid, ctx: EditRestore, temporal: TemporalDep) -> Accepted:
    """Cancel a running restore: it ends `Aborted`; what it applied stays (retry does the
    rest)."""
    restore = await ctx.load(Restore, uid)
    if restore.status not in RESTORE_RUNNING or restore.spec.preview:
        raise Conflict(f"restore {restore.name} is {restore.status}: nothing to cancel")
    await temporal.get_workflow_handle(restore_workflow_id(uid)).cancel()
    return Accepted(message=f"cancelling restore {restore.name}")


@router.post("/{uid}/retry", status_code=status.HTTP_202_ACCEPTED)
async def retry_restore(uid: Uid, ctx: EditRestore, temporal: TemporalDep) -> Accepted:
    """Restore again only what failed or was not reached, under the same name and uid.

    The objects and volumes an earlier attempt restored (or kept) keep their results and are
    not touched again; a Failed restore that restored nothing runs again from the start.
    """
    restore = await ctx.load(Restore, uid)
    if restore.status in RESTORE_RUNNING:
        raise Conflict(f"restore {restore.name} is {restore.status}: cancel it first")
    if restore.spec.preview:
        raise Conflict(f"{restore.name} is a preview: it restores nothing; start a restore")
    if restore.status == RestoreStatus.SUCCESS:
        raise Conflict(f"restore {restore.name} is {restore.status}: nothing to retry")
    backup = await ctx.for_kind(Kind.BACKUPS, Action.VIEW).load(
        Backup, restore.backup_uid, to=Use.RESTORE
    )
    if backup.status not in USABLE:
        raise Conflict(f"backup {backup.name} is {backup.status}: it cannot be restored")
    await active_cluster(ctx, restore.cluster_uid, to=restore_access(restore.cluster_uid, backup))
    await last_run_closed(temporal, restore_workflow_id(uid), what=f"restore {restore.name}")
    restore.status, restore.stage, restore.reason = RestoreStatus.PENDING, Stage.NOT_STARTED, ""
    restore.started_at, restore.finished_at = utcnow(), None
    name = restore.name
    await ctx.session.commit()
    await _start(temporal, restore, ctx, retry=True)
    return Accepted(message=f"retrying what restore {name} did not restore")


@router.delete("/{uid}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_restore(uid: Uid, ctx: DeleteRestore) -> None:
    """Delete a restore's record (and its shares); the cluster and the backup are untouched."""
    restore = await ctx.load(Restore, uid)
    if restore.status in RESTORE_RUNNING and not restore.spec.preview:
        raise Conflict(f"restore {restore.name} is {restore.status}: cancel it first")
    await delete_object(ctx, restore)


@router.post("/preview")
async def preview_restore(
    body: RestoreCreate, ctx: CreateRestore, temporal: TemporalDep
) -> RestoreRead:
    """What a restore would create, replace or skip, and what it would do with each volume's
    data (`volumes`), without changing the cluster."""
    restore = await _new_restore(body, ctx, preview=True)
    await temporal.execute_workflow(
        RestoreWorkflow.run,
        RestoreInput(restore_uid=restore.uid, dry_run=True),
        id=restore_workflow_id(restore.uid),
        task_queue=ctx.settings.task_queue,
        execution_timeout=PREVIEW_TIMEOUT,
        search_attributes=search_attributes(
            owner=restore.owner_id, cluster=restore.cluster_uid, kind="restore-preview"
        ),
    )
    await ctx.session.refresh(restore)
    return RestoreRead.model_validate(restore)


class RestoreFilters:
    """What the restores list can be narrowed to (with the filters of every list)."""

    def __init__(
        self,
        cluster_uid: Annotated[Uid | None, Query()] = None,
        backup_uid: Annotated[Uid | None, Query()] = None,
        status: Annotated[RestoreStatus | None, Query()] = None,
    ) -> None:
        self.cluster_uid, self.backup_uid, self.status = cluster_uid, backup_uid, status

    def conditions(self) -> list[ColumnElement[bool]]:
        found = []
        if self.cluster_uid:
            found.append(Restore.cluster_uid == self.cluster_uid)
        if self.backup_uid:
            found.append(Restore.backup_uid == self.backup_uid)
        if self.status:
            found.append(Restore.status == self.status)
        return found


RestoreFiltersDep = Annotated[RestoreFilters, Depends()]


@router.get("")
async def list_restores(
    ctx: ViewRestore, page: PageDep, filters: RestoreFiltersDep
) -> ListOf[RestoreRead]:
    rows, next_page = await list_page(ctx, Restore, page, *filters.conditions())
    items = [RestoreRead.model_validate(r) for r in rows]
    return ListOf(items=items, count=len(items), next=next_page)


@router.get("/{uid}")
async def get_restore(uid: Uid, ctx: ViewRestore) -> RestoreRead:
    return RestoreRead.model_validate(await ctx.load(Restore, uid))
