"""Cloud accounts: the credentials backup locations are reached with (classic mode only).

Credentials are write-only: stored encrypted as one JSON document, never returned; only their
public part (`identity`: access key id, storage account, project) is shown.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, status
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
)
from sqlalchemy import ColumnElement, func, select

from api.authz import Authorize, AuthzContext
from api.crud import PageDep, delete_object, list_page, save_unique
from api.deps import StateDep
from api.errors import Conflict, Unprocessable
from api.schemas import Document, Labels, ListOf, Name, ObjectRead, Text, Uid
from lifeboat.catalog.models import BackupLocation, CloudAccount, Cluster
from lifeboat.credentials import CloudProvider
from lifeboat.rbac.matrix import Action, Kind

router = APIRouter(prefix="/cloud-accounts", tags=["cloud accounts"])

CreateCloudAccount = Annotated[AuthzContext, Depends(Authorize(Kind.CLOUD_ACCOUNTS, Action.CREATE))]
ViewCloudAccount = Annotated[AuthzContext, Depends(Authorize(Kind.CLOUD_ACCOUNTS, Action.VIEW))]
EditCloudAccount = Annotated[AuthzContext, Depends(Authorize(Kind.CLOUD_ACCOUNTS, Action.EDIT))]
DeleteCloudAccount = Annotated[AuthzContext, Depends(Authorize(Kind.CLOUD_ACCOUNTS, Action.DELETE))]

PublicId = Annotated[Text, StringConstraints(min_length=1)]
Secret = Annotated[Document, StringConstraints(min_length=1, max_length=16384)]


class S3Keys(BaseModel):
    """An S3 access key pair (AWS or any S3-compatible store)."""

    model_config = ConfigDict(extra="forbid")

    access_key_id: PublicId
    secret_access_key: Secret = Field(description="write-only")

    @property
    def identity(self) -> str:
        return self.access_key_id


class AzureKeys(BaseModel):
    """An Azure storage account and one of its keys."""

    model_config = ConfigDict(extra="forbid")

    account_name: PublicId
    account_key: Secret = Field(description="write-only")

    @property
    def identity(self) -> str:
        return self.account_name


class GcpKeys(BaseModel):
    """A Google Cloud project and a service account key (the JSON key file's content)."""

    model_config = ConfigDict(extra="forbid")

    project_id: PublicId
    service_account_key: Secret = Field(description="write-only")

    @property
    def identity(self) -> str:
        return self.project_id


Credentials = S3Keys | AzureKeys | GcpKeys
CREDENTIALS: dict[CloudProvider, type[Credentials]] = {
    CloudProvider.AWS: S3Keys,
    CloudProvider.S3_COMPATIBLE: S3Keys,
    CloudProvider.AZURE: AzureKeys,
    CloudProvider.GCP: GcpKeys,
}


def _fits(provider: CloudProvider, credentials: Credentials) -> str | None:
    """Why the credentials do not fit the provider, or None when they do."""
    expected = CREDENTIALS[provider]
    if isinstance(credentials, expected):
        return None
    return f"{provider} accounts need {' and '.join(expected.model_fields)}"


class CloudAccountCreate(BaseModel):
    name: Name
    labels: Labels = Field(default_factory=dict)
    provider: CloudProvider
    credentials: Credentials = Field(description="write-only: stored encrypted, never returned")

    @field_validator("credentials")
    @classmethod
    def _credentials_fit_provider(
        cls, credentials: Credentials, info: ValidationInfo
    ) -> Credentials:
        provider = info.data.get("provider")
        problem = provider and _fits(provider, credentials)
        if problem:  # an unknown provider is reported on its own
            raise ValueError(problem)
        return credentials


class CloudAccountUpdate(BaseModel):
    name: Name
    labels: Labels = Field(default_factory=dict)
    credentials: Credentials | None = Field(
        default=None, description="write-only: replaces the stored credentials; omit to keep them"
    )


class CloudAccountRead(ObjectRead):
    provider: str
    identity: str


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_cloud_account(
    body: CloudAccountCreate, ctx: CreateCloudAccount, state: StateDep
) -> CloudAccountRead:
    """Add a cloud account; its credentials are stored encrypted and never shown again."""
    account = CloudAccount(
        name=body.name,
        labels=body.labels,
        owner_id=ctx.caller.subject,
        provider=body.provider,
        identity=body.credentials.identity,
        credentials_ciphertext=state.secrets.encrypt(body.credentials.model_dump_json()),
    )
    return CloudAccountRead.model_validate(await save_unique(ctx, account))


@router.get("")
async def list_cloud_accounts(ctx: ViewCloudAccount, page: PageDep) -> ListOf[CloudAccountRead]:
    """The cloud accounts the caller owns or that are shared with them."""
    rows, next_page = await list_page(ctx, CloudAccount, page)
    items = [CloudAccountRead.model_validate(a) for a in rows]
    return ListOf(items=items, count=len(items), next=next_page)


@router.get("/{uid}")
async def get_cloud_account(uid: Uid, ctx: ViewCloudAccount) -> CloudAccountRead:
    return CloudAccountRead.model_validate(await ctx.load(CloudAccount, uid))


@router.put("/{uid}")
async def update_cloud_account(
    uid: Uid, body: CloudAccountUpdate, ctx: EditCloudAccount, state: StateDep
) -> CloudAccountRead:
    """Rename, relabel, or replace the credentials as a whole (the provider stays)."""
    account = await ctx.load(CloudAccount, uid)
    if body.credentials is not None:
        problem = _fits(CloudProvider(account.provider), body.credentials)
        if problem:
            raise Unprocessable(problem, field="credentials")
        account.identity = body.credentials.identity
        account.credentials_ciphertext = state.secrets.encrypt(body.credentials.model_dump_json())
    account.name, account.labels = body.name, body.labels
    return CloudAccountRead.model_validate(await save_unique(ctx, account))


@router.delete("/{uid}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_cloud_account(uid: Uid, ctx: DeleteCloudAccount) -> None:
    """Remove a cloud account; refused while backup locations or onboarded clusters use it."""
    account = await ctx.load(CloudAccount, uid)
    for model, kind, using in (
        (BackupLocation, Kind.BACKUP_LOCATIONS, BackupLocation.cloud_account_uid == uid),
        (Cluster, Kind.CLUSTERS, Cluster.source_uid == uid),
    ):
        if users := await _named_users(ctx, model, kind, using):
            raise Conflict(
                f"cloud account {account.name} is used by {kind.noun}(s) {users}: delete them first"
            )
    await delete_object(ctx, account)


async def _named_users(
    ctx: AuthzContext,
    model: type[BackupLocation] | type[Cluster],
    kind: Kind,
    using: ColumnElement[bool],
) -> str:
    """The objects using the account: those the caller may see by name, the others counted."""
    session = ctx.session
    total = await session.scalar(select(func.count()).select_from(model).where(using))
    if not total:
        return ""
    viewer = AuthzContext(
        caller=ctx.caller, kind=kind, action=Action.VIEW, session=session, settings=ctx.settings
    )
    names = list(
        await session.scalars(
            viewer.visible(model).where(using).with_only_columns(model.name).order_by(model.name)
        )
    )
    hidden = total - len(names)
    listed = [", ".join(names)] if names else []
    if hidden:
        listed.append(f"{hidden} you cannot see")
    return " and ".join(listed)
