"""Backup locations: buckets backups go to (`provider`: the kind of storage, see
lifeboat.locations), each reached with keys.

Where the keys are depends on the mode (seeds/001): in classic mode, in a cloud account
(`cloud_account_uid`); in federated mode, which has no cloud accounts, with the location itself
(`credentials`: write-only, stored encrypted, never returned; only the access key id shows).

A location is stored only once its bucket has been reached: the API does not talk to object
storage itself, it runs the location check workflow and waits for its answer. New keys of a
location are stored first, apart (`LocationCredentials`), so that the check reads them by uid,
as it reads a cloud account's; they are dropped again when the check refuses them. Each
location has an encryption key (write-only, generated when not given): it wraps the data key
everything in the bucket is encrypted with (lifeboat.keyring), so a new key (a PUT with
`encryption_key`, or POST /rotate-key) re-wraps that data key and re-encrypts no data.

A location with `immutability` is on a bucket with S3 Object Lock (its check refuses a bucket
without): every object of its backups is written locked (lifeboat.immutability).
"""

from __future__ import annotations

import json
import secrets
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, status
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
)
from sqlalchemy import delete, func, select
from temporalio.client import Client, WorkflowFailureError

from api.authz import Authorize, AuthzContext
from api.crud import PageDep, delete_object, list_page, save_unique
from api.deps import AppState, StateDep, TemporalDep
from api.errors import Conflict, Forbidden, NotFound, ServiceUnavailable, Unprocessable
from api.routes.cloud_accounts import AzureKeys, S3Keys
from api.schemas import Labels, ListOf, Name, ObjectRead, Text, Uid, base_url
from lifeboat.catalog.models import (
    Backup,
    BackupLocation,
    CloudAccount,
    LocationCredentials,
    new_uid,
)
from lifeboat.credentials import field_names
from lifeboat.immutability import MAX_RETENTION_DAYS
from lifeboat.locations import KINDS, LocationKind, LockMode
from lifeboat.rbac.matrix import Action, Kind, Permission
from lifeboat.settings import Mode
from lifeboat.status import VerificationStatus
from workflows.contracts import KeyRotationInput, LocationCheckInput, RepositoryCheckInput
from workflows.ids import (
    location_check_workflow_id,
    location_key_rotation_workflow_id,
    repository_check_workflow_id,
    search_attributes,
)
from workflows.location_check import LocationCheckWorkflow, LocationKeyRotationWorkflow
from workflows.verification import RepositoryCheckWorkflow

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


Endpoint = Annotated[Text, StringConstraints(max_length=2048), AfterValidator(_endpoint)]
# S3 bucket naming rules: 3-63 lowercase letters, digits, dots and hyphens.
Bucket = Annotated[
    str,
    StringConstraints(min_length=3, max_length=63, pattern=r"^[a-z0-9][a-z0-9.-]*[a-z0-9]$"),
]
Region = Annotated[str, StringConstraints(max_length=64, pattern=r"^[A-Za-z0-9-]*$")]
Prefix = Annotated[Text, StringConstraints(max_length=1024), AfterValidator(lambda p: p.strip("/"))]
# A location's own keys (federated mode): those of its kind of storage.
LocationKeys = S3Keys | AzureKeys
EncryptionKey = Annotated[Text, StringConstraints(min_length=16, max_length=256)]


class Immutability(BaseModel):
    """Immutable backups: each backup's objects are written under S3 Object Lock for as long
    as its schedule's policy keeps it (a backup made on demand: `retention_days`), and nobody
    can delete the backup before then. The bucket must have been created with object lock."""

    model_config = ConfigDict(extra="forbid")

    mode: LockMode = Field(
        description="governance: users with the bypass permission may still remove locked "
        "versions in the bucket; compliance: nobody can, not even the bucket's owner"
    )
    retention_days: int = Field(
        default=30,
        strict=True,
        ge=1,
        le=MAX_RETENTION_DAYS,
        description="how many days a backup made on demand (not by a schedule) stays locked",
    )


class BackupLocationFields(BaseModel):
    name: Name
    labels: Labels = Field(default_factory=dict)
    endpoint: Endpoint
    bucket: Bucket
    region: Region = ""
    prefix: Prefix = ""
    cloud_account_uid: Uid | None = Field(
        default=None,
        description="classic mode: a cloud account whose keys fit the provider (s3: an aws or "
        "s3-compatible one; azure: an azure one)",
    )
    credentials: LocationKeys | None = Field(
        default=None,
        description="federated mode: the location's own keys (s3: access_key_id and "
        "secret_access_key; azure: account_name and account_key), write-only (on an update, "
        "omit them to keep the current ones)",
    )
    immutability: Immutability | None = Field(
        default=None,
        description="immutable backups (S3 locations on a bucket with object lock); on an "
        "update, backups already made keep their locks",
    )


class BackupLocationCreate(BackupLocationFields):
    provider: LocationKind = Field(
        default=LocationKind.S3, description="the kind of storage the bucket is on"
    )
    encryption_key: EncryptionKey | None = Field(
        default=None,
        description="write-only: it wraps the key backups are encrypted with; generated when "
        "omitted",
    )


class BackupLocationUpdate(BackupLocationFields):
    """Everything but the provider: the location's backups are on that storage."""

    encryption_key: EncryptionKey | None = Field(
        default=None,
        description="write-only: a new key rotates the location's key (its data key is "
        "re-wrapped, no backup is re-encrypted or uploaded again); omit it to keep the key",
    )


class KeyRotation(BaseModel):
    model_config = ConfigDict(extra="forbid")

    encryption_key: EncryptionKey | None = Field(
        default=None, description="write-only: the location's new key; generated when omitted"
    )


class BackupLocationRead(ObjectRead):
    provider: str
    endpoint: str
    bucket: str
    region: str
    prefix: str
    cloud_account_uid: str | None
    access_key_id: str | None = Field(
        description="the public part of the location's own credentials (federated mode): the "
        "access key id, or the Azure storage account"
    )
    immutability: Immutability | None


def _immutable_fits(body: BackupLocationFields, kind: LocationKind) -> None:
    """Object lock is an S3 feature: refuse immutability elsewhere (422 naming the field)."""
    if body.immutability is not None and kind is not LocationKind.S3:
        raise Unprocessable(
            f"immutable backups need an S3 bucket with object lock; an {kind} location "
            "cannot have immutability: leave it out",
            field="immutability",
        )


def _set_immutability(location: BackupLocation, immutability: Immutability | None) -> None:
    location.immutability_mode = immutability.mode if immutability else ""
    location.immutability_days = immutability.retention_days if immutability else 0


async def _usable_keys(
    ctx: AuthzContext,
    body: BackupLocationFields,
    kind: LocationKind,
    *,
    current: BackupLocation | None,
) -> None:
    """Refuse keys the mode or the kind of storage does not use, or a location left without
    any (422 naming the field): a cloud account in classic mode, the location's own
    credentials in federated."""
    fields = ", ".join(field_names(KINDS[kind].keys))
    if ctx.settings.mode is Mode.FEDERATED:
        if body.cloud_account_uid:
            raise Unprocessable(
                "cloud accounts are not used in federated mode: give the location its own "
                f"keys in credentials ({fields}) instead",
                field="cloud_account_uid",
            )
        if body.credentials is None and (current is None or not current.credentials_uid):
            raise Unprocessable(
                "a backup location in federated mode carries its own keys: give "
                f"credentials ({fields})",
                field="credentials",
            )
        if body.credentials is not None and tuple(type(body.credentials).model_fields) != (
            field_names(KINDS[kind].keys)
        ):
            raise Unprocessable(
                f"the credentials of an {kind} location are {fields}", field="credentials"
            )
        return
    if body.credentials is not None:
        raise Unprocessable(
            "in classic mode a backup location is reached with a cloud account's keys: give "
            "cloud_account_uid instead of credentials",
            field="credentials",
        )
    if not body.cloud_account_uid:
        raise Unprocessable(
            f"give cloud_account_uid: the {' or '.join(sorted(KINDS[kind].providers))} cloud "
            "account to reach the bucket with",
            field="cloud_account_uid",
        )
    await _usable_account(ctx, body.cloud_account_uid, kind)


async def _usable_account(ctx: AuthzContext, uid: str, kind: LocationKind) -> CloudAccount:
    """The cloud account if the caller owns it, it is shared with them, or they are super admin."""
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
    providers = KINDS[kind].providers
    if account.provider not in providers:
        raise Unprocessable(
            f"cloud account {account.name} is an {account.provider} account; an {kind} location "
            f"needs one of: {', '.join(sorted(providers))}",
            field="cloud_account_uid",
        )
    return account


async def _stage(ctx: AuthzContext, state: AppState, keys: LocationKeys) -> str:
    """Store new keys, encrypted, for the check to read by uid; not yet any location's."""
    uid = new_uid()
    ctx.session.add(
        LocationCredentials(
            uid=uid,
            owner_id=ctx.caller.subject,
            access_key_id=keys.identity,
            credentials_ciphertext=state.secrets.encrypt(json.dumps(keys.model_dump())),
        )
    )
    await ctx.session.commit()
    return uid


async def _discard(ctx: AuthzContext, credentials_uid: str) -> None:
    await ctx.session.execute(
        delete(LocationCredentials).where(LocationCredentials.uid == credentials_uid)
    )
    await ctx.session.commit()


async def _check(
    ctx: AuthzContext,
    temporal: Client,
    body: BackupLocationFields,
    kind: LocationKind,
    credentials_uid: str | None,
    *,
    location_uid: str,
    owner_id: str,
) -> None:
    """Reach the bucket through the location check workflow; 422 naming the field if not.

    The workflow is `location-check-<uid>` of the location (a new one's uid is chosen first)
    and carries the location's owner, so the Temporal UI finds it from the location.
    """
    # End the read transaction: the check takes seconds and must not hold a connection.
    await ctx.session.commit()
    check = LocationCheckInput(
        endpoint=body.endpoint,
        bucket=body.bucket,
        region=body.region,
        prefix=body.prefix,
        cloud_account_uid=body.cloud_account_uid or "",
        credentials_uid=credentials_uid or "",
        provider=kind,
        immutability=body.immutability.mode if body.immutability else "",
    )
    try:
        result = await temporal.execute_workflow(
            LocationCheckWorkflow.run,
            check,
            id=location_check_workflow_id(location_uid),
            task_queue=ctx.settings.task_queue,
            execution_timeout=CHECK_TIMEOUT,
            search_attributes=search_attributes(owner=owner_id, cluster="", kind="location-check"),
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
    await _usable_keys(ctx, body, body.provider, current=None)
    _immutable_fits(body, body.provider)
    staged = await _stage(ctx, state, body.credentials) if body.credentials else None
    kept = False
    uid = new_uid()
    try:
        await _check(
            ctx,
            temporal,
            body,
            body.provider,
            staged,
            location_uid=uid,
            owner_id=ctx.caller.subject,
        )
        location = BackupLocation(
            uid=uid,
            name=body.name,
            labels=body.labels,
            owner_id=ctx.caller.subject,
            provider=body.provider,
            endpoint=body.endpoint,
            bucket=body.bucket,
            region=body.region,
            prefix=body.prefix,
            cloud_account_uid=body.cloud_account_uid,
            credentials_uid=staged,
            encryption_key_ciphertext=state.secrets.encrypt(
                body.encryption_key or secrets.token_urlsafe(32)
            ),
        )
        _set_immutability(location, body.immutability)
        location = await save_unique(ctx, location)
        kept = True
    finally:
        if staged and not kept:
            await _discard(ctx, staged)
    return BackupLocationRead.model_validate(location)


@router.get("")
async def list_locations(ctx: ViewLocation, page: PageDep) -> ListOf[BackupLocationRead]:
    """The locations the caller owns or that are shared with them."""
    rows, next_page = await list_page(ctx, BackupLocation, page)
    items = [BackupLocationRead.model_validate(b) for b in rows]
    return ListOf(items=items, count=len(items), next=next_page)


@router.get("/{uid}")
async def get_location(uid: Uid, ctx: ViewLocation) -> BackupLocationRead:
    return BackupLocationRead.model_validate(await ctx.load(BackupLocation, uid))


@router.put("/{uid}")
async def update_location(
    uid: Uid, body: BackupLocationUpdate, ctx: EditLocation, state: StateDep, temporal: TemporalDep
) -> BackupLocationRead:
    """Rename, relabel or repoint a location; a new bucket, account or keys are checked first.

    Keys replaced are dropped once the location uses the new ones.
    """
    location = await ctx.load(BackupLocation, uid)
    kind = LocationKind(location.provider)
    await _usable_keys(ctx, body, kind, current=location)
    _immutable_fits(body, kind)
    reach = ("endpoint", "bucket", "region", "prefix", "cloud_account_uid")
    moved = any(getattr(location, f) != getattr(body, f) for f in reach)
    # Newly immutable: the check confirms the bucket has object lock.
    moved = moved or (body.immutability is not None and not location.immutability_mode)
    staged = await _stage(ctx, state, body.credentials) if body.credentials else None
    # New keys, else the location's own unless it now uses a cloud account.
    credentials_uid = staged or (None if body.cloud_account_uid else location.credentials_uid)
    replaced = location.credentials_uid if location.credentials_uid != credentials_uid else None
    kept = False
    try:
        if moved or staged:
            await _check(
                ctx,
                temporal,
                body,
                kind,
                credentials_uid,
                location_uid=uid,
                owner_id=location.owner_id,
            )
        for field in ("name", "labels", *reach):
            setattr(location, field, getattr(body, field))
        location.credentials_uid = credentials_uid
        _set_immutability(location, body.immutability)
        location = await save_unique(ctx, location)
        kept = True
    finally:
        if staged and not kept:
            await _discard(ctx, staged)
    if replaced:
        await _discard(ctx, replaced)
    if body.encryption_key is not None:
        await _rotate_key(ctx, state, temporal, location, body.encryption_key)
    return BackupLocationRead.model_validate(location)


@router.post("/{uid}/rotate-key")
async def rotate_key(
    uid: Uid, body: KeyRotation, ctx: EditLocation, state: StateDep, temporal: TemporalDep
) -> BackupLocationRead:
    """Give the location a new key (generated when not given): its data key is re-wrapped
    under it in the bucket; no backup is re-encrypted or uploaded again."""
    location = await ctx.load(BackupLocation, uid)
    await _rotate_key(
        ctx, state, temporal, location, body.encryption_key or secrets.token_urlsafe(32)
    )
    return BackupLocationRead.model_validate(location)


async def _rotate_key(
    ctx: AuthzContext, state: AppState, temporal: Client, location: BackupLocation, new_key: str
) -> None:
    """Run the key rotation workflow and wait; 422 naming `encryption_key` when it fails.

    The new key waits in the catalog (encrypted) for the workflow to read; a rotation that
    fails drops it again, and the location keeps its key.
    """
    location.rotating_key_ciphertext = state.secrets.encrypt(new_key)
    await ctx.session.commit()
    try:
        result = await temporal.execute_workflow(
            LocationKeyRotationWorkflow.run,
            KeyRotationInput(location.uid),
            id=location_key_rotation_workflow_id(location.uid),
            task_queue=ctx.settings.task_queue,
            execution_timeout=CHECK_TIMEOUT,
            search_attributes=search_attributes(
                owner=location.owner_id, cluster="", kind="location-key-rotation"
            ),
        )
    except WorkflowFailureError as exc:
        await _end_rotation(ctx, location)
        raise ServiceUnavailable(
            f"the key rotation of location {location.name} did not finish ({exc.cause}): "
            "make sure a worker is running, then try again"
        ) from exc
    if not result.ok:
        await _end_rotation(ctx, location)
        raise Unprocessable(result.reason, field="encryption_key")
    await ctx.session.refresh(location)


async def _end_rotation(ctx: AuthzContext, location: BackupLocation) -> None:
    await ctx.session.refresh(location)
    location.rotating_key_ciphertext = None
    await ctx.session.commit()


@router.delete("/{uid}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_location(uid: Uid, ctx: DeleteLocation) -> None:
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
    if location.credentials_uid:
        await session.execute(
            delete(LocationCredentials).where(LocationCredentials.uid == location.credentials_uid)
        )
    await delete_object(ctx, location)


class RepositoryCheckRequest(BaseModel):
    sample_fraction: float = Field(
        default=0.0,
        ge=0,
        le=1,
        description="The share of chunks (0 to 1) downloaded and opened to prove their content "
        "hash; every chunk's presence and size are checked whatever it is",
    )


class RepositoryCheckRead(BaseModel):
    """A location's last repository check."""

    status: VerificationStatus | None = Field(
        default=None,
        description="InProgress, Passed, Failed (chunks missing or corrupt, or the check could "
        "not run: see reason); none if the repository was never checked",
    )
    reason: str = ""
    started_at: datetime | None = None
    finished_at: datetime | None = None
    sample_fraction: float = 0.0
    snapshots: int = Field(default=0, description="Data snapshots (one per backed-up volume)")
    chunks: int = Field(default=0, description="Distinct chunks they refer to")
    chunks_sampled: int = 0
    bytes_sampled: int = 0
    problems: list[dict[str, Any]] = Field(
        default_factory=list,
        description="Up to 500 of: `chunk` (its id), `object` (the key it is stored under), "
        "`problem` (missing, truncated or corrupt), `reason`, `snapshots` that refer to it, "
        "`backups` affected (`uid`, `name`)",
    )
    problems_total: int = 0
    unreadable_snapshots: list[dict[str, str]] = Field(
        default_factory=list, description="`snapshot`, `reason`: snapshots that cannot be read"
    )
    backups_affected: list[dict[str, str]] = Field(
        default_factory=list, description="Every backup with missing or corrupt data: uid, name"
    )


@router.post("/{uid}/check-repository", status_code=status.HTTP_202_ACCEPTED)
async def check_repository(
    uid: Uid,
    ctx: EditLocation,
    temporal: TemporalDep,
    body: RepositoryCheckRequest | None = None,
) -> RepositoryCheckRead:
    """Check the location's repository: every chunk its snapshots refer to must exist with
    the right size; `sample_fraction` of them are downloaded and their content hash checked.
    Read the result with GET .../repository-check (409 while a check runs)."""
    body = body or RepositoryCheckRequest()
    location = await ctx.load(BackupLocation, uid)
    await temporal.start_workflow(
        RepositoryCheckWorkflow.run,
        RepositoryCheckInput(location.uid, body.sample_fraction),
        id=repository_check_workflow_id(location.uid),
        task_queue=ctx.settings.task_queue,
        search_attributes=search_attributes(
            owner=location.owner_id, cluster="", kind="repository-check"
        ),
    )
    return RepositoryCheckRead(
        status=VerificationStatus.IN_PROGRESS, sample_fraction=body.sample_fraction
    )


@router.get("/{uid}/repository-check")
async def get_repository_check(uid: Uid, ctx: ViewLocation) -> RepositoryCheckRead:
    """The location's last repository check (all fields empty if it was never checked)."""
    location = await ctx.load(BackupLocation, uid)
    return RepositoryCheckRead.model_validate(location.repository_check or {})
