"""Backup locations: S3 buckets backups go to, each reached with a cloud account.

A location is stored only once its bucket has been reached: the API does not talk to object
storage itself, it runs the location check workflow and waits for its answer. Each location
has an encryption key (write-only, generated when not given) the data mover encrypts with.
"""

from __future__ import annotations

import secrets
import uuid
from datetime import timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, status
from pydantic import AfterValidator, BaseModel, Field, StringConstraints
from sqlalchemy import func, select
from temporalio.client import Client, WorkflowFailureError

from api.authz import Authorize, AuthzContext
from api.crud import delete_object, list_visible, save_unique
from api.deps import StateDep, TemporalDep
from api.errors import Conflict, Forbidden, NotFound, ServiceUnavailable, Unprocessable
from api.routes.cloud_accounts import S3_PROVIDERS
from api.schemas import Labels, ListOf, Name, ObjectRead, base_url
from lifeboat.catalog.models import Backup, BackupLocation, CloudAccount
from lifeboat.rbac.matrix import MODE_KINDS_DISABLED, Action, Kind, Permission
from workflows.contracts import LocationCheckInput
from workflows.location_check import LocationCheckWorkflow

router = APIRouter(prefix="/backup-locations", tags=["backup locations"])

CreateLocation = Annotated[AuthzContext, Depends(Authorize(Kind.BACKUP_LOCATIONS, Action.CREATE))]
ViewLocation = Annotated[AuthzContext, Depends(Authorize(Kind.BACKUP_LOCATIONS, Action.VIEW))]
EditLocation = Annotated[AuthzContext, Depends(Authorize(Kind.BACKUP_LOCATIONS, Action.EDIT))]
DeleteLocation = Annotated[AuthzContext, Depends(Authorize(Kind.BACKUP_LOCATIONS, Action.DELETE))]

# The caller waits for the check; a worker that does not answer by then is reported.
CHECK_TIMEOUT = timedelta(seconds=60)


def _endpoint(value: str) -> str:
    return base_url(
        value,
        schemes=("http", "https"),
        example="https://s3.eu-west-1.amazonaws.com",
        path_hint="put a path into prefix",
    )


Endpoint = Annotated[str, StringConstraints(max_length=2048), AfterValidator(_endpoint)]
# S3 bucket naming rules: 3-63 lowercase letters, digits, dots and hyphens.
Bucket = Annotated[
    str,
    StringConstraints(min_length=3, max_length=63, pattern=r"^[a-z0-9][a-z0-9.-]*[a-z0-9]$"),
]
Region = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=64, pattern=r"^[A-Za-z0-9-]*$")
]
Prefix = Annotated[str, StringConstraints(max_length=1024), AfterValidator(lambda p: p.strip("/"))]


class BackupLocationFields(BaseModel):
    name: Name
    labels: Labels = Field(default_factory=dict)
    endpoint: Endpoint
    bucket: Bucket
    region: Region = ""
    prefix: Prefix = ""
    cloud_account_uid: str = Field(description="An aws or s3-compatible cloud account")


class BackupLocationCreate(BackupLocationFields):
    provider: Literal["s3"] = "s3"
    encryption_key: str | None = Field(
        default=None,
        min_length=16,
        max_length=256,
        description="write-only: backups are encrypted with it; generated when omitted",
    )


class BackupLocationUpdate(BackupLocationFields):
    """Everything but the encryption key, which the location's backups are encrypted with."""


class BackupLocationRead(ObjectRead):
    provider: str
    endpoint: str
    bucket: str
    region: str
    prefix: str
    cloud_account_uid: str | None


async def _usable_account(ctx: AuthzContext, uid: str) -> CloudAccount:
    """The cloud account if the caller owns it, it is shared with them, or they are super admin."""
    if Kind.CLOUD_ACCOUNTS in MODE_KINDS_DISABLED[ctx.settings.mode]:
        raise Unprocessable(
            f"cloud accounts are not used in {ctx.settings.mode} mode, and locations reached "
            "by workload identity are not supported yet",
            field="cloud_account_uid",
        )
    if not ctx.caller.can(Permission.CLOUD_ACCOUNTS_VIEW):
        raise Forbidden(
            "your roles do not allow you to view cloud accounts, which a location needs"
        )
    accounts = AuthzContext(
        caller=ctx.caller,
        kind=Kind.CLOUD_ACCOUNTS,
        action=Action.VIEW,
        session=ctx.session,
        settings=ctx.settings,
    )
    try:
        account = await accounts.load(CloudAccount, uid)
    except NotFound:
        raise Unprocessable(
            f"no cloud account {uid} that you own or that is shared with you",
            field="cloud_account_uid",
        ) from None
    if account.provider not in S3_PROVIDERS:
        raise Unprocessable(
            f"cloud account {account.name} is an {account.provider} account; an S3 location "
            f"needs one of: {', '.join(sorted(S3_PROVIDERS))}",
            field="cloud_account_uid",
        )
    return account


async def _check(ctx: AuthzContext, temporal: Client, body: BackupLocationFields) -> None:
    """Reach the bucket through the location check workflow; 422 naming the field if not."""
    # End the read transaction: the check takes seconds and must not hold a connection.
    await ctx.session.commit()
    check = LocationCheckInput(
        endpoint=body.endpoint,
        bucket=body.bucket,
        region=body.region,
        prefix=body.prefix,
        cloud_account_uid=body.cloud_account_uid,
    )
    try:
        result = await temporal.execute_workflow(
            LocationCheckWorkflow.run,
            check,
            id=f"location-check-{uuid.uuid4()}",
            task_queue=ctx.settings.task_queue,
            execution_timeout=CHECK_TIMEOUT,
        )
    except WorkflowFailureError as exc:
        raise ServiceUnavailable(
            f"the check of bucket {body.bucket} did not finish ({exc.cause}): "
            "make sure a worker is running, then try again"
        ) from exc
    if not result.ok:
        raise Unprocessable(result.reason, field=result.field or "endpoint")


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_location(
    body: BackupLocationCreate, ctx: CreateLocation, state: StateDep, temporal: TemporalDep
) -> BackupLocationRead:
    """Add a location once its bucket has been reached and written to; nothing is stored else."""
    await _usable_account(ctx, body.cloud_account_uid)
    await _check(ctx, temporal, body)
    location = BackupLocation(
        name=body.name,
        labels=body.labels,
        owner_id=ctx.caller.subject,
        provider=body.provider,
        endpoint=body.endpoint,
        bucket=body.bucket,
        region=body.region,
        prefix=body.prefix,
        cloud_account_uid=body.cloud_account_uid,
        encryption_key_ciphertext=state.secrets.encrypt(
            body.encryption_key or secrets.token_urlsafe(32)
        ),
    )
    return BackupLocationRead.model_validate(await save_unique(ctx, location))


@router.get("")
async def list_locations(ctx: ViewLocation) -> ListOf[BackupLocationRead]:
    """The locations the caller owns or that are shared with them."""
    items = [BackupLocationRead.model_validate(b) for b in await list_visible(ctx, BackupLocation)]
    return ListOf(items=items, count=len(items))


@router.get("/{uid}")
async def get_location(uid: str, ctx: ViewLocation) -> BackupLocationRead:
    return BackupLocationRead.model_validate(await ctx.load(BackupLocation, uid))


@router.put("/{uid}")
async def update_location(
    uid: str, body: BackupLocationUpdate, ctx: EditLocation, temporal: TemporalDep
) -> BackupLocationRead:
    """Rename, relabel or repoint a location; a new bucket or account is checked first."""
    location = await ctx.load(BackupLocation, uid)
    reach = ("endpoint", "bucket", "region", "prefix", "cloud_account_uid")
    if any(getattr(location, f) != getattr(body, f) for f in reach):
        await _usable_account(ctx, body.cloud_account_uid)
        await _check(ctx, temporal, body)
    for field in ("name", "labels", *reach):
        setattr(location, field, getattr(body, field))
    return BackupLocationRead.model_validate(await save_unique(ctx, location))


@router.delete("/{uid}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_location(uid: str, ctx: DeleteLocation) -> None:
    """Remove a location (its bucket is untouched); refused while backups use it.

    Other users' backups block everyone, super admins too; the caller's own backups block
    until deleted, as Lifeboat would otherwise lose track of them.
    """
    location = await ctx.load(BackupLocation, uid)
    session = ctx.session
    theirs = Backup.owner_id != ctx.caller.subject
    others, own = (
        await session.execute(
            select(func.count().filter(theirs), func.count().filter(~theirs)).where(
                Backup.location_uid == uid
            )
        )
    ).one()
    if others:
        raise Conflict(
            f"backup location {location.name} holds {others} backup(s) of other users: "
            "it cannot be deleted while they use it; they must delete those backups first"
        )
    if own:
        raise Conflict(
            f"backup location {location.name} holds {own} of your backups: delete them "
            "first, or Lifeboat would lose track of them"
        )
    await delete_object(ctx, location)
