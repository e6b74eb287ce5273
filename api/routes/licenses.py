"""The license: its status for everyone signed in; import and removal for super admins.

Four ways in: a license key (one line) or a license file (its JSON form), both checked against
the trusted keys before anything is stored (a refused one changes nothing); a subscription's
activation id, which the worker exchanges with the license server for a key and renews; and,
air-gapped, a license file the vendor made in answer to this installation's activation request.
After each change the worker's license check runs at once, suspending or resuming schedules.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field, model_validator
from sqlalchemy import delete, select
from temporalio.client import Client
from temporalio.service import RPCError

from api.authz import Access, Authorize, AuthzContext, SignedIn
from api.deps import StateDep, TemporalDep
from api.errors import PaymentRequired, Unprocessable
from api.schemas import MULTI_LINE, Text
from lifeboat.catalog.licenses import (
    imported,
    installation,
    license_status,
    nodes_used,
    status_of,
    store_license,
    store_subscription,
    trusted_keys,
)
from lifeboat.catalog.models import License, LicenseUsage, utcnow
from lifeboat.licensing import (
    ACTIVATION_REQUEST_FORMAT,
    LicenseInvalid,
    LicenseState,
    check_installation,
    key_of_file,
    read_key,
)
from lifeboat.rbac.matrix import Action, Kind
from workflows.ids import license_check_workflow_id, search_attributes
from workflows.license_check import LicenseCheckWorkflow

log = logging.getLogger("lifeboat.api")
router = APIRouter(prefix="/license", tags=["license"])

ReadLicense = Annotated[Access, Depends(SignedIn())]
ImportLicense = Annotated[AuthzContext, Depends(Authorize(Kind.LICENSES, Action.CREATE))]
RemoveLicense = Annotated[AuthzContext, Depends(Authorize(Kind.LICENSES, Action.DELETE))]
MAX_LICENSE_CHARS = 16_384


class LicenseRead(BaseModel):
    state: LicenseState
    reason: str
    # False while new backups are refused (restores always work).
    backups_allowed: bool
    license_id: str | None
    customer: str
    edition: str
    features: list[str]
    node_limit: int | None
    nodes_used: int
    valid_from: datetime | None
    valid_until: datetime | None
    grace_days: int | None
    days_left: int | None
    # How it was imported (`key`, `file`), who and when; None for the trial.
    imported_as: str | None
    imported_by: str | None
    imported_at: datetime | None
    # A subscription's last renewal, and why the last attempt failed ('' when it worked).
    renewed_at: datetime | None
    renewal_error: str


class LicenseImport(BaseModel):
    """Exactly one of `key` (the one-line license key), `file` (a license file's text) and
    `subscription` (the subscription's activation id)."""

    key: str | None = Field(default=None, max_length=MAX_LICENSE_CHARS, pattern=MULTI_LINE)
    file: str | None = Field(default=None, max_length=MAX_LICENSE_CHARS, pattern=MULTI_LINE)
    subscription: Text | None = None

    @model_validator(mode="after")
    def one_form(self) -> LicenseImport:
        if sum(form is not None for form in (self.key, self.file, self.subscription)) != 1:
            raise ValueError(
                "give exactly one of `key` (a license key), `file` (a license file's text) or "
                "`subscription` (an activation id)"
            )
        return self


class ActivationRequest(BaseModel):
    """What an air-gapped installation sends the vendor, who answers with a license file."""

    format: str = ACTIVATION_REQUEST_FORMAT
    installation_id: str
    nodes_used: int
    requested_at: datetime


class UsagePoint(BaseModel):
    recorded_at: datetime
    nodes: int


class UsageRead(BaseModel):
    items: list[UsagePoint]
    count: int


async def _read(access: Access, state: StateDep) -> LicenseRead:
    row = await imported(access.session)
    current = await status_of(access.session, state.settings, state.secrets, row)
    document = current.document
    return LicenseRead(
        state=current.state,
        reason=current.reason,
        backups_allowed=not current.enforced,
        license_id=document.id if document else None,
        customer=document.customer if document else "",
        edition=document.edition if document else "",
        features=document.features if document else [],
        node_limit=document.node_limit if document else None,
        nodes_used=current.nodes_used,
        valid_from=document.valid_from if document else None,
        valid_until=document.valid_until if document else None,
        grace_days=document.grace_days if document else None,
        days_left=current.days_left,
        imported_as=row.kind if row else None,
        imported_by=row.owner_id if row else None,
        imported_at=row.created_at if row else None,
        renewed_at=row.renewed_at if row else None,
        renewal_error=row.renewal_error if row else "",
    )


async def _check_now(temporal: Client, task_queue: str) -> None:
    """Have the worker enforce the new license now, not at its next periodic check."""
    try:
        await temporal.start_workflow(
            LicenseCheckWorkflow.run,
            id=license_check_workflow_id(f"{task_queue}-{uuid.uuid4()}"),
            task_queue=task_queue,
            search_attributes=search_attributes(owner="system", cluster="", kind="license"),
        )
    except RPCError as exc:  # the periodic check catches up
        log.warning("license check not started: %s", exc.message)


async def check_backups_allowed(access: Access, state: StateDep) -> None:
    """Refuse a new backup while the license stops backups (402, naming the reason and fix)."""
    current = await license_status(access.session, state.settings, state.secrets)
    if current.enforced:
        raise PaymentRequired(current.refusal)


@router.get("")
async def read_license(access: ReadLicense, state: StateDep) -> LicenseRead:
    """The license's state, limits and usage (the trial's, before one is imported)."""
    return await _read(access, state)


@router.post("")
async def import_license(
    body: LicenseImport, ctx: ImportLicense, state: StateDep, temporal: TemporalDep
) -> LicenseRead:
    """Import a license by key, file or subscription; one that does not check out (or a
    subscription without a license server) changes nothing."""
    if body.subscription is not None:
        if not state.settings.license_server_url:
            raise Unprocessable(
                "this installation has no license server (LIFEBOAT_LICENSE_SERVER_URL); "
                "without internet access, send the vendor the activation request "
                "(GET /api/v1/license/activation-request) and import the license file it answers",
                field="subscription",
            )
        await store_subscription(
            ctx.session,
            state.secrets,
            activation_id=body.subscription,
            imported_by=ctx.caller.subject,
        )
    else:
        field = "key" if body.key is not None else "file"
        try:
            key = body.key.strip() if body.key is not None else key_of_file(body.file or "")
            document = read_key(key, trusted_keys(state.settings))
            check_installation(document, (await installation(ctx.session)).uid)
        except LicenseInvalid as exc:
            raise Unprocessable(str(exc), field=field) from exc
        await store_license(
            ctx.session,
            state.secrets,
            key=key,
            document=document,
            kind=field,
            imported_by=ctx.caller.subject,
        )
    await ctx.session.commit()
    await _check_now(temporal, state.settings.task_queue)
    return await _read(ctx, state)


@router.delete("")
async def remove_license(ctx: RemoveLicense, state: StateDep, temporal: TemporalDep) -> LicenseRead:
    """Remove the imported license: the installation falls back to its trial (or none)."""
    await ctx.session.execute(delete(License))
    await ctx.session.commit()
    await _check_now(temporal, state.settings.task_queue)
    return await _read(ctx, state)


@router.get("/activation-request")
async def activation_request(ctx: ImportLicense) -> ActivationRequest:
    """The activation request of an air-gapped installation: save it as a file, send it to the
    vendor, and import the license file they answer (it is valid for this installation only)."""
    return ActivationRequest(
        installation_id=(await installation(ctx.session)).uid,
        nodes_used=await nodes_used(ctx.session),
        requested_at=utcnow(),
    )


@router.get("/usage")
async def license_usage(
    access: ReadLicense, days: Annotated[int, Query(ge=1, le=400)] = 30
) -> UsageRead:
    """Licensed nodes in use over the last `days` days, as the worker's checks counted them."""
    since = utcnow() - timedelta(days=days)
    rows = await access.session.scalars(
        select(LicenseUsage).where(LicenseUsage.recorded_at >= since).order_by(LicenseUsage.id)
    )
    items = [UsagePoint(recorded_at=row.recorded_at, nodes=row.nodes) for row in rows]
    return UsageRead(items=items, count=len(items))
