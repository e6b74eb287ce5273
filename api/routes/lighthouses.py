"""Lighthouses: storage clusters (Portworx-like) registered by their SDK endpoint and security.

The security option is a bearer token or a client certificate and key (mutual TLS), with an
optional CA certificate to verify the cluster's server certificate; the credentials are
checked before anything is stored, then stored encrypted and never returned.

A lighthouse is stored first and checked after, unlike a backup location: a storage cluster
that is down or refuses the credentials is still worth registering, and its status says why.
The API never talks to the cluster itself: it runs the lighthouse check workflow on the worker
and, as for backup locations, waits for its answer (up to CHECK_WAIT), so that create, replace
credentials and check answer with the status found. A check that outlasts the wait goes on;
the lighthouse shows `Pending` until it records.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, status
from pydantic import AfterValidator, BaseModel, Field, StringConstraints
from temporalio.client import Client, WorkflowFailureError, WorkflowHandle
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.service import RPCError

from api.authz import Authorize, AuthzContext
from api.crud import PageDep, delete_object, list_page, save_unique
from api.deps import StateDep, TemporalDep
from api.errors import Unprocessable
from api.schemas import Document, Labels, ListOf, Name, ObjectRead, Text, Uid, base_url
from lifeboat.catalog.models import Lighthouse
from lifeboat.lighthouse import (
    CredentialsError,
    LighthouseCredentials,
    LighthouseSecurity,
    check_ca_certificate,
    check_client_certificate,
)
from lifeboat.rbac.access import Use
from lifeboat.rbac.matrix import Action, Kind
from lifeboat.settings import Settings
from lifeboat.status import ClusterStatus
from workflows.contracts import LighthouseCheckInput, LighthouseCheckResult
from workflows.ids import lighthouse_check_workflow_id, search_attributes
from workflows.lighthouse_check import LighthouseCheckWorkflow

router = APIRouter(prefix="/lighthouses", tags=["lighthouses"])

CreateLighthouse = Annotated[AuthzContext, Depends(Authorize(Kind.LIGHTHOUSES, Action.CREATE))]
ViewLighthouse = Annotated[AuthzContext, Depends(Authorize(Kind.LIGHTHOUSES, Action.VIEW))]
EditLighthouse = Annotated[AuthzContext, Depends(Authorize(Kind.LIGHTHOUSES, Action.EDIT))]
DeleteLighthouse = Annotated[AuthzContext, Depends(Authorize(Kind.LIGHTHOUSES, Action.DELETE))]

# How long a request waits for the check's answer (its own timeouts are shorter).
CHECK_WAIT = timedelta(seconds=45)
# A check no worker picked up by then is dropped; the lighthouse stays Pending.
CHECK_EXPIRY = timedelta(minutes=10)
PENDING_REASON = "the check has not finished yet"


def _endpoint(value: str) -> str:
    return base_url(
        value,
        schemes=("https",),
        example="https://px.example.com:9021, the storage cluster's SDK REST gateway",
        path_hint="without a path or user",
    )


Endpoint = Annotated[Text, StringConstraints(max_length=2048), AfterValidator(_endpoint)]
Pem = Annotated[Document, StringConstraints(max_length=64 << 10)]
# Room for a bundle of CA certificates.
CaPem = Annotated[Document, StringConstraints(max_length=256 << 10)]


class LighthouseCredentialsReplace(BaseModel):
    """The security option and its credentials, replaced as a whole."""

    security: LighthouseSecurity = Field(
        description="token: a bearer token; tls: a client certificate and key (mutual TLS)"
    )
    token: Annotated[Text, StringConstraints(max_length=16 << 10)] | None = Field(
        default=None, description="write-only: the bearer token (security token)"
    )
    certificate: Pem | None = Field(
        default=None, description="write-only: the PEM client certificate (security tls)"
    )
    key: Pem | None = Field(
        default=None, description="write-only: the certificate's PEM private key (security tls)"
    )
    ca_certificate: CaPem | None = Field(
        default=None,
        description="PEM CA certificate(s) to verify the cluster with; else the system's CAs",
    )


class LighthouseCreate(LighthouseCredentialsReplace):
    name: Name
    labels: Labels = Field(default_factory=dict)
    endpoint: Endpoint


class LighthouseRead(ObjectRead):
    endpoint: str
    security: str
    has_ca_certificate: bool
    status: ClusterStatus
    status_reason: str
    version: str
    last_checked_at: datetime | None


def _read(lighthouse: Lighthouse) -> LighthouseRead:
    shown = {f: getattr(lighthouse, f) for f in ObjectRead.model_fields}
    return LighthouseRead(
        **shown,
        endpoint=lighthouse.endpoint,
        security=lighthouse.security,
        has_ca_certificate=bool(lighthouse.ca_certificate),
        status=lighthouse.status,
        status_reason=lighthouse.status_reason,
        version=lighthouse.version,
        last_checked_at=lighthouse.last_checked_at,
    )


def _credentials(body: LighthouseCredentialsReplace) -> tuple[LighthouseCredentials, str]:
    """The credentials and CA certificate, when they fit the security option; else a 422."""
    token = (body.token or "").strip()
    certificate = (body.certificate or "").strip()
    key = (body.key or "").strip()
    ca = (body.ca_certificate or "").strip()
    if body.security == LighthouseSecurity.TOKEN:
        for field, value in (("certificate", certificate), ("key", key)):
            if value:
                raise Unprocessable(
                    f"{field} is for security tls only: remove it, or choose security tls",
                    field=field,
                )
        if not token:
            raise Unprocessable(
                "token is required with security token: paste the storage cluster's bearer "
                "token, or choose security tls",
                field="token",
            )
        if not token.isascii() or any(c.isspace() or not c.isprintable() for c in token):
            raise Unprocessable(
                "token must be one line of ASCII without spaces: paste the token alone, "
                "without `bearer`",
                field="token",
            )
        credentials = LighthouseCredentials(token=token)
    else:
        if token:
            raise Unprocessable(
                "token is for security token only: remove it, or choose security token",
                field="token",
            )
        for field, value, what in (
            ("certificate", certificate, "the PEM client certificate"),
            ("key", key, "the client certificate's PEM private key"),
        ):
            if not value:
                raise Unprocessable(
                    f"{field} is required with security tls: paste {what}", field=field
                )
        credentials = LighthouseCredentials(certificate=certificate, key=key)
    try:
        if credentials.certificate:
            check_client_certificate(credentials.certificate, credentials.key)
        if ca:
            check_ca_certificate(ca)
    except CredentialsError as exc:
        raise Unprocessable(f"{exc.field} {exc}", field=exc.field) from None
    return credentials, ca


async def _start_check(
    temporal: Client, lighthouse: Lighthouse, settings: Settings, *, restart: bool = False
) -> WorkflowHandle[Any, LighthouseCheckResult]:
    """Start the check on the worker; `restart` replaces one still running (new credentials),
    else a running one is joined rather than doubled."""
    return await temporal.start_workflow(
        LighthouseCheckWorkflow.run,
        LighthouseCheckInput(lighthouse_uid=lighthouse.uid),
        id=lighthouse_check_workflow_id(lighthouse.uid),
        task_queue=settings.task_queue,
        execution_timeout=CHECK_EXPIRY,
        id_conflict_policy=(
            WorkflowIDConflictPolicy.TERMINATE_EXISTING
            if restart
            else WorkflowIDConflictPolicy.USE_EXISTING
        ),
        search_attributes=search_attributes(
            owner=lighthouse.owner_id, cluster=lighthouse.uid, kind="lighthouse-check"
        ),
    )


async def _answered(
    ctx: AuthzContext, check: WorkflowHandle[Any, LighthouseCheckResult], lighthouse: Lighthouse
) -> LighthouseRead:
    """The lighthouse as the check recorded it, waiting for the check up to CHECK_WAIT."""
    # Past the wait the check goes on (Pending until it records); a lighthouse deleted
    # meanwhile fails it, and is a 404 below.
    with contextlib.suppress(TimeoutError, WorkflowFailureError):
        await asyncio.wait_for(check.result(), CHECK_WAIT.total_seconds())
    uid = lighthouse.uid
    ctx.session.expunge(lighthouse)  # read what the worker recorded, not what we hold
    return _read(await ctx.load(Lighthouse, uid))


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_lighthouse(
    body: LighthouseCreate, ctx: CreateLighthouse, state: StateDep, temporal: TemporalDep
) -> LighthouseRead:
    """Register a storage cluster once its credentials are well-formed, then check it.

    The answer carries the first check's status (Online, Offline or Failed with the reason);
    a lighthouse that is down or refuses the credentials is kept, to be fixed and checked.
    """
    credentials, ca = _credentials(body)
    lighthouse = await save_unique(
        ctx,
        Lighthouse(
            name=body.name,
            labels=body.labels,
            owner_id=ctx.caller.subject,
            endpoint=body.endpoint,
            security=body.security,
            credentials_ciphertext=state.secrets.encrypt(credentials.to_json()),
            ca_certificate=ca,
            status=ClusterStatus.PENDING,
            status_reason=PENDING_REASON,
        ),
    )
    # Stored before the check starts (the worker reads it); removed again when the workflow
    # service refuses the start, so that the caller simply tries again.
    try:
        check = await _start_check(temporal, lighthouse, ctx.settings)
    except RPCError:
        await delete_object(ctx, lighthouse)
        raise
    return await _answered(ctx, check, lighthouse)


@router.get("")
async def list_lighthouses(ctx: ViewLighthouse, page: PageDep) -> ListOf[LighthouseRead]:
    """The lighthouses the caller owns or that are shared with them, with their last status."""
    rows, next_page = await list_page(ctx, Lighthouse, page)
    items = [_read(lighthouse) for lighthouse in rows]
    return ListOf(items=items, count=len(items), next=next_page)


@router.get("/{uid}")
async def get_lighthouse(uid: Uid, ctx: ViewLighthouse) -> LighthouseRead:
    """One lighthouse with its last status; never its credentials."""
    return _read(await ctx.load(Lighthouse, uid))


@router.put("/{uid}/credentials")
async def replace_credentials(
    uid: Uid,
    body: LighthouseCredentialsReplace,
    ctx: EditLighthouse,
    state: StateDep,
    temporal: TemporalDep,
) -> LighthouseRead:
    """Replace the security option and credentials as a whole (checked first), then check."""
    lighthouse = await ctx.load(Lighthouse, uid, to=Use.ADMINISTER)
    credentials, ca = _credentials(body)
    lighthouse.security = body.security
    lighthouse.credentials_ciphertext = state.secrets.encrypt(credentials.to_json())
    lighthouse.ca_certificate = ca
    lighthouse.status, lighthouse.status_reason = ClusterStatus.PENDING, PENDING_REASON
    await ctx.session.commit()
    check = await _start_check(temporal, lighthouse, ctx.settings, restart=True)
    return await _answered(ctx, check, lighthouse)


@router.post("/{uid}/check")
async def check_lighthouse(uid: Uid, ctx: ViewLighthouse, temporal: TemporalDep) -> LighthouseRead:
    """Check now, and answer with the status found; a check already running is not doubled.

    It uses the owner's credentials, so it needs full access to the lighthouse.
    """
    lighthouse = await ctx.load(Lighthouse, uid, to=Use.MANAGE)
    await ctx.session.commit()  # hold no transaction while the check runs
    check = await _start_check(temporal, lighthouse, ctx.settings)
    return await _answered(ctx, check, lighthouse)


@router.delete("/{uid}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_lighthouse(uid: Uid, ctx: DeleteLighthouse) -> None:
    """Remove the lighthouse and its shares from Lifeboat; the storage cluster is untouched."""
    await delete_object(ctx, await ctx.load(Lighthouse, uid, to=Use.ADMINISTER))
