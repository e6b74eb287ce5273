"""Sharing: owners give users, groups or everyone access to their objects.

Sharing a cluster shares the sharer's own backups of that cluster ("share cluster backups").
A super admin may share anything except backups it did not create. Unsharing a cluster that
has backup schedules is refused: the schedules of those it was shared with would break.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, status
from pydantic import BaseModel, Field, model_validator
from sqlalchemy import func, select

from api.authz import Access, AuthzContext, SignedIn
from api.errors import Conflict, Forbidden, NotFound, Unprocessable
from api.routes.users import display_name
from api.schemas import ListOf, ObjectRead, Text, Uid
from lifeboat.catalog.models import (
    Backup,
    BackupLocation,
    BackupSchedule,
    CatalogObject,
    CloudAccount,
    Cluster,
    Group,
    Lighthouse,
    Restore,
    Role,
    Rule,
    SchedulePolicy,
    Share,
    User,
)
from lifeboat.rbac.access import AccessLevel, ShareLevel, ShareSubject, share_refusal
from lifeboat.rbac.matrix import Action, Kind

router = APIRouter(tags=["sharing"])

Member = Annotated[Access, Depends(SignedIn())]

SHAREABLE: dict[Kind, type[CatalogObject]] = {
    Kind.CLUSTERS: Cluster,
    Kind.CLOUD_ACCOUNTS: CloudAccount,
    Kind.BACKUP_LOCATIONS: BackupLocation,
    Kind.SCHEDULE_POLICIES: SchedulePolicy,
    Kind.RULES: Rule,
    Kind.ROLES: Role,
    Kind.BACKUP_SCHEDULES: BackupSchedule,
    Kind.BACKUPS: Backup,
    Kind.RESTORES: Restore,
    Kind.LIGHTHOUSES: Lighthouse,
}


class ShareCreate(BaseModel):
    object_kind: Kind
    object_uid: Uid
    subject_kind: ShareSubject
    subject: Text = Field(default="", max_length=253, description="User id or group name")
    access: ShareLevel = ShareLevel.VIEW

    @model_validator(mode="after")
    def _subject_matches_kind(self) -> ShareCreate:
        if self.subject_kind != ShareSubject.EVERYONE and not self.subject:
            raise ValueError(f"subject: name the {self.subject_kind} to share with")
        if self.subject_kind == ShareSubject.EVERYONE:
            self.subject = ""
        return self


class ShareRead(ObjectRead):
    object_kind: str
    object_uid: str
    subject_kind: str
    subject: str
    access: str


class SharedSubject(BaseModel):
    share_uid: str
    subject_kind: str
    subject: str
    subject_name: str
    access: str


class SharedCluster(BaseModel):
    uid: str
    name: str
    owner_id: str
    status: str
    shared_with: list[SharedSubject]


async def _object(access: Access, kind: Kind, uid: Uid) -> tuple[AuthzContext, CatalogObject]:
    if kind not in SHAREABLE:
        raise Unprocessable(f"{kind} cannot be shared", field="object_kind")
    ctx = access.for_kind(kind, Action.VIEW)
    return ctx, await ctx.load(SHAREABLE[kind], uid)


def _may_share(access: Access, kind: Kind, obj: CatalogObject) -> None:
    if refusal := share_refusal(access.caller, kind, obj.owner_id):
        raise Forbidden(refusal)


async def _check_subject(access: Access, body: ShareCreate) -> None:
    if body.subject_kind == ShareSubject.USER:
        known = await access.session.scalar(select(User).where(User.subject == body.subject))
        if known is None:
            raise Unprocessable(
                f"unknown user {body.subject!r}: they must sign in once or be invited",
                field="subject",
            )
    if body.subject_kind == ShareSubject.GROUP:
        known_group = await access.session.scalar(select(Group).where(Group.name == body.subject))
        if known_group is None:
            raise Unprocessable(
                f"unknown group {body.subject!r}: a member must sign in once, or assign it a role",
                field="subject",
            )


async def _refuse_while_scheduled(
    access: Access, kind: Kind, obj: CatalogObject, doing: str
) -> None:
    """A cluster's share is not taken back (or lowered) while it has backup schedules: the
    schedules of those it was shared with would go on running without the access."""
    if kind != Kind.CLUSTERS:
        return
    schedules = await access.session.scalar(
        select(func.count()).where(BackupSchedule.cluster_uid == obj.uid)
    )
    if schedules:
        raise Conflict(
            f"cluster {obj.name} has {schedules} backup schedule(s): delete them before {doing}"
        )


@router.post("/shares", status_code=status.HTTP_201_CREATED)
async def share(body: ShareCreate, access: Member) -> ShareRead:
    """Share an object (or re-share it at another access level)."""
    _ctx, obj = await _object(access, body.object_kind, body.object_uid)
    _may_share(access, body.object_kind, obj)
    await _check_subject(access, body)
    existing = await access.session.scalar(
        select(Share).where(
            Share.object_kind == body.object_kind,
            Share.object_uid == obj.uid,
            Share.subject_kind == body.subject_kind,
            Share.subject == body.subject,
            Share.owner_id == access.caller.subject,
        )
    )
    # The share belongs to the sharer: a cluster share covers the sharer's own backups of it.
    row = existing or Share(
        name=f"{body.object_kind}/{obj.uid}/{body.subject_kind}/{body.subject}",
        owner_id=access.caller.subject,
        object_kind=body.object_kind,
        object_uid=obj.uid,
        subject_kind=body.subject_kind,
        subject=body.subject,
    )
    if existing is not None and not AccessLevel(body.access).allows(AccessLevel(existing.access)):
        await _refuse_while_scheduled(access, body.object_kind, obj, "lowering its share")
    row.access = body.access
    access.session.add(row)
    await access.session.commit()
    await access.session.refresh(row)
    return ShareRead.model_validate(row)


@router.get("/shares")
async def list_shares(
    access: Member, object_kind: Annotated[Kind, Query()], object_uid: Annotated[Uid, Query()]
) -> ListOf[ShareRead]:
    """Who an object is shared with (for its owner and super admins)."""
    _ctx, obj = await _object(access, object_kind, object_uid)
    _may_share(access, object_kind, obj)
    rows = await access.session.scalars(
        select(Share)
        .where(Share.object_kind == object_kind, Share.object_uid == obj.uid)
        .order_by(Share.created_at)
    )
    items = [ShareRead.model_validate(r) for r in rows]
    return ListOf(items=items, count=len(items))


@router.delete("/shares/{uid}", status_code=status.HTTP_204_NO_CONTENT)
async def unshare(uid: Uid, access: Member) -> None:
    row = await access.session.get(Share, uid)
    if row is None:
        raise NotFound(f"no share {uid}")
    kind = Kind(row.object_kind)
    _ctx, obj = await _object(access, kind, row.object_uid)
    _may_share(access, kind, obj)
    await _refuse_while_scheduled(access, kind, obj, "unsharing it")
    await access.session.delete(row)
    await access.session.commit()


@router.get("/shared-clusters")
async def shared_clusters(access: Member) -> ListOf[SharedCluster]:
    """All Shared Clusters: clusters whose backups the caller shared, with whom, how far."""
    query = (
        select(Cluster, Share)
        .join(Share, (Share.object_uid == Cluster.uid) & (Share.object_kind == Kind.CLUSTERS))
        .where(access.owned(Cluster))
    )
    clusters: dict[str, SharedCluster] = {}
    users = {u.subject: u for u in await access.session.scalars(select(User))}
    for cluster, row in await access.session.execute(query.order_by(Cluster.name)):
        entry = clusters.setdefault(
            cluster.uid,
            SharedCluster(
                uid=cluster.uid,
                name=cluster.name,
                owner_id=cluster.owner_id,
                status=cluster.status,
                shared_with=[],
            ),
        )
        name = {
            ShareSubject.USER: display_name(users.get(row.subject), row.subject),
            ShareSubject.GROUP: row.subject,
        }.get(ShareSubject(row.subject_kind), "everyone")
        entry.shared_with.append(
            SharedSubject(
                share_uid=row.uid,
                subject_kind=row.subject_kind,
                subject=row.subject,
                subject_name=name,
                access=row.access,
            )
        )
    items = list(clusters.values())
    return ListOf(items=items, count=len(items))
