"""Steps every resource route shares: save under a per-owner unique name, list the visible."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Query
from sqlalchemy import ColumnElement, delete, tuple_
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import defer
from temporalio.client import Client, WorkflowFailureError
from temporalio.service import RPCError, RPCStatusCode

from api.authz import AuthzContext
from api.errors import Conflict, Unprocessable
from api.schemas import Subject, Text, Timestamp
from lifeboat.catalog.models import Backup, CatalogObject, Cluster, Share
from lifeboat.rbac.access import Use
from lifeboat.rbac.matrix import Action, Kind
from lifeboat.status import ClusterStatus

T = TypeVar("T", bound=CatalogObject)


async def save_unique(ctx: AuthzContext, obj: T) -> T:
    """Add or update the object; a name the owner already uses for this kind is a 409."""
    name = obj.name  # a rollback expires a loaded object's attributes
    ctx.session.add(obj)
    try:
        await ctx.session.flush()
    except IntegrityError:
        await ctx.session.rollback()
        raise Conflict(
            f"a {ctx.kind.noun} named {name!r} already exists for its owner; choose another name",
            field="name",
        ) from None
    await ctx.session.commit()
    await ctx.session.refresh(obj)
    return obj


async def active_cluster(ctx: AuthzContext, uid: str, *, to: Use) -> Cluster:
    """A cluster the caller may use so for a backup, restore or schedule: not being removed."""
    cluster = await ctx.for_kind(Kind.CLUSTERS, Action.VIEW).load(Cluster, uid, to=to)
    return not_being_removed(cluster, field="cluster_uid")


async def restore_target(
    ctx: AuthzContext, backup: Backup, cluster_uid: str | None, *, verb: str
) -> Cluster:
    """The cluster a backup is restored (or verified) into: `cluster_uid`, else the backup's
    own, which must still be in Lifeboat (422 naming the field otherwise)."""
    if not cluster_uid and await ctx.session.get(Cluster, backup.cluster_uid) is None:
        raise Unprocessable(
            f"the cluster backup {backup.name} was taken from was removed from Lifeboat: "
            f"set cluster_uid to the cluster to {verb}",
            field="cluster_uid",
        )
    target_uid = cluster_uid or backup.cluster_uid
    return await active_cluster(ctx, target_uid, to=restore_access(target_uid, backup))


def restore_access(target_uid: str, backup: Backup) -> Use:
    """Putting a cluster's own backup back needs restore access to it; bringing in objects
    from another cluster's backup needs full access."""
    if target_uid == backup.cluster_uid:
        return Use.RESTORE_ITS_BACKUPS_INTO
    return Use.RESTORE_OTHER_BACKUPS_INTO


def not_being_removed(cluster: Cluster, *, field: str | None = None) -> Cluster:
    """The cluster, unless it is `DeletePending` (409: nothing new may start on it)."""
    if cluster.status == ClusterStatus.DELETE_PENDING:
        raise Conflict(f"cluster {cluster.name} is being removed from Lifeboat", field=field)
    return cluster


async def list_visible(ctx: AuthzContext, model: type[T]) -> Sequence[T]:
    """The objects of the kind the caller owns, or that are shared with them, by name."""
    rows = await ctx.session.scalars(ctx.visible(model).order_by(model.name, model.uid))
    return rows.all()


MAX_PAGE = 1000


def _cursor(obj: CatalogObject) -> str:
    return base64.urlsafe_b64encode(json.dumps([obj.name, obj.uid]).encode()).decode()


def _after(cursor: str) -> tuple[str, str]:
    try:
        name, uid = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        if isinstance(name, str) and isinstance(uid, str):
            return name, uid
    except (ValueError, TypeError):
        pass
    raise Unprocessable(
        "`after` is not a cursor this API gave: pass a list's `next` unchanged", field="after"
    )


class Page:
    """Which page of a list, and the filters every list takes (a FastAPI dependency)."""

    def __init__(
        self,
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE, description="Items per page")] = 500,
        after: Annotated[
            str | None,
            Query(
                max_length=2048,
                pattern=r"^[A-Za-z0-9_=-]*$",
                description="The `next` of the page before",
            ),
        ] = None,
        name_prefix: Annotated[Text | None, Query(description="Names starting so")] = None,
        owner: Annotated[Subject | None, Query(description="The owner's user id")] = None,
        created_after: Annotated[Timestamp | None, Query()] = None,
        created_before: Annotated[Timestamp | None, Query()] = None,
    ) -> None:
        self.limit = limit
        self.after = _after(after) if after else None
        self.name_prefix = name_prefix
        self.owner = owner
        self.created_after = created_after
        self.created_before = created_before

    def conditions(self, model: type[CatalogObject]) -> list[ColumnElement[bool]]:
        found: list[ColumnElement[bool]] = []
        if self.after is not None:
            found.append(tuple_(model.name, model.uid) > tuple_(*self.after))
        if self.name_prefix:
            found.append(model.name.startswith(self.name_prefix, autoescape=True))
        if self.owner:
            found.append(model.owner_id == self.owner)
        if self.created_after:
            found.append(model.created_at >= self.created_after)
        if self.created_before:
            found.append(model.created_at < self.created_before)
        return found


PageDep = Annotated[Page, Depends()]


async def list_page(
    ctx: AuthzContext,
    model: type[T],
    page: Page,
    *conditions: ColumnElement[bool],
    deferred: Sequence[Any] = (),
) -> tuple[Sequence[T], str | None]:
    """One page of the visible objects that match, by name then uid, and the cursor of the
    next page (None on the last). `deferred` columns (per-item results) are never loaded."""
    query = ctx.visible(model).where(*page.conditions(model), *conditions)
    query = query.options(*(defer(column) for column in deferred))
    rows = (
        await ctx.session.scalars(query.order_by(model.name, model.uid).limit(page.limit + 1))
    ).all()
    if len(rows) <= page.limit:
        return rows, None
    return rows[: page.limit], _cursor(rows[page.limit - 1])


async def delete_object(ctx: AuthzContext, obj: CatalogObject) -> None:
    """Delete the object and its shares."""
    await ctx.session.execute(
        delete(Share).where(Share.object_kind == ctx.kind, Share.object_uid == obj.uid)
    )
    await ctx.session.delete(obj)
    await ctx.session.commit()


DEFAULT_NAME_ATTEMPTS = 10


async def save_named(
    ctx: AuthzContext, build: Callable[[str], T], name: str | None, default: str
) -> T:
    """Save an object under the caller's name, or a default one.

    A default name (`<cluster>-<yyyymmddhhmmss>`) taken in the same second gets a suffix
    (`-2`, `-3`, ...) instead of failing; a name the caller chose that is taken is a 409.
    """
    if name:
        return await save_unique(ctx, build(name))
    for attempt in range(DEFAULT_NAME_ATTEMPTS):
        try:
            return await save_unique(
                ctx, build(default if not attempt else f"{default}-{attempt + 1}")
            )
        except Conflict:
            if attempt + 1 == DEFAULT_NAME_ATTEMPTS:
                raise
    raise AssertionError("unreachable")


# A backup or restore closes its workflow a moment after its outcome is recorded (it starts
# its notifications first): a retry asked in that moment waits this long for it.
RUN_CLOSING = timedelta(seconds=30)


async def last_run_closed(temporal: Client, workflow_id: str, *, what: str) -> None:
    """Wait until the workflow's last run has closed (at once when it has, or is gone), so a
    retry under the same id starts; 409 naming `what` if it is still open after a while."""
    handle = temporal.get_workflow_handle(workflow_id)
    try:
        await asyncio.wait_for(handle.result(follow_runs=False), RUN_CLOSING.total_seconds())
    except TimeoutError:
        raise Conflict(f"{what} is still finishing: try again in a minute") from None
    except WorkflowFailureError:
        pass  # failed, cancelled or terminated: closed all the same
    except RPCError as exc:
        if exc.status != RPCStatusCode.NOT_FOUND:
            raise
