"""Steps every resource route shares: save under a per-owner unique name, list the visible."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError

from api.authz import AuthzContext
from api.errors import Conflict
from lifeboat.catalog.models import CatalogObject, Cluster, Share
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


def not_being_removed(cluster: Cluster, *, field: str | None = None) -> Cluster:
    """The cluster, unless it is `DeletePending` (409: nothing new may start on it)."""
    if cluster.status == ClusterStatus.DELETE_PENDING:
        raise Conflict(f"cluster {cluster.name} is being removed from Lifeboat", field=field)
    return cluster


async def list_visible(ctx: AuthzContext, model: type[T]) -> Sequence[T]:
    """The objects of the kind the caller owns, or that are shared with them, by name."""
    rows = await ctx.session.scalars(ctx.visible(model).order_by(model.name, model.uid))
    return rows.all()


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
