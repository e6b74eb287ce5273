"""The license as the catalog holds it: the imported key, the installation's trial, the usage."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from lifeboat.catalog.models import SYSTEM_OWNER, Cluster, License, Setting, utcnow
from lifeboat.licensing import (
    VENDOR_PUBLIC_KEYS,
    LicenseDocument,
    LicenseInvalid,
    LicenseState,
    LicenseStatus,
    evaluate,
    read_key,
    trial,
)
from lifeboat.secrets import SecretBox
from lifeboat.settings import Settings
from lifeboat.status import ClusterStatus

INSTALLATION = "installation"
SUBSCRIPTION = "subscription"


def trusted_keys(settings: Settings) -> tuple[str, ...]:
    extra = tuple(k.strip() for k in settings.license_public_keys.split(",") if k.strip())
    return VENDOR_PUBLIC_KEYS + extra


async def installation(session: AsyncSession) -> Setting:
    """This installation: its id (`uid`, which bound licenses name) and since when it exists
    (`created_at`, when its trial starts)."""
    query = select(Setting).where(Setting.name == INSTALLATION, Setting.owner_id == SYSTEM_OWNER)
    row = await session.scalar(query)
    if row is None:
        try:
            async with session.begin_nested():
                row = Setting(name=INSTALLATION, owner_id=SYSTEM_OWNER, value={})
                session.add(row)
        except IntegrityError:  # another replica recorded it first
            row = await session.scalar(query)
    assert row is not None
    return row


async def nodes_used(session: AsyncSession) -> int:
    """Nodes of the registered clusters, each cluster once (by identity) at its largest count;
    a cluster never reached has none counted yet."""
    rows = await session.execute(
        select(Cluster.uid, Cluster.identity, Cluster.node_count).where(
            Cluster.status != ClusterStatus.DELETE_PENDING
        )
    )
    counts: dict[str, int] = {}
    for uid, identity, node_count in rows:
        key = identity or uid
        nodes = node_count or 0
        counts[key] = max(counts.get(key, 0), nodes)
    return sum(counts.values())


async def imported(session: AsyncSession) -> License | None:
    return await session.scalar(select(License).order_by(License.created_at.desc()).limit(1))


async def license_status(
    session: AsyncSession, settings: Settings, secrets: SecretBox, *, now: datetime | None = None
) -> LicenseStatus:
    """The license's state now: the imported one, checked again, or else the trial."""
    return await status_of(session, settings, secrets, await imported(session), now=now)


async def status_of(
    session: AsyncSession,
    settings: Settings,
    secrets: SecretBox,
    row: License | None,
    *,
    now: datetime | None = None,
) -> LicenseStatus:
    """The state of the imported license `row` (the trial's when None) for today's usage."""
    now = now or utcnow()
    used = await nodes_used(session)
    this = await installation(session)
    if row is None or row.key_ciphertext is None:  # none, or a subscription not activated yet
        document = trial(this.created_at)
        return evaluate(document, nodes_used=used, now=now, installation_id=this.uid, is_trial=True)
    try:
        document = read_key(secrets.decrypt(row.key_ciphertext), trusted_keys(settings))
    except LicenseInvalid as exc:
        return LicenseStatus(LicenseState.INVALID, str(exc), None, used, None)
    return evaluate(document, nodes_used=used, now=now, installation_id=this.uid)


async def store_license(
    session: AsyncSession,
    secrets: SecretBox,
    *,
    key: str,
    document: LicenseDocument,
    kind: str,
    imported_by: str,
) -> License:
    """Make a checked license the installation's one (replacing any before it)."""
    await session.execute(delete(License))
    row = License(owner_id=imported_by, kind=kind)
    set_key(row, secrets, key, document)
    session.add(row)
    await session.flush()
    return row


def set_key(row: License, secrets: SecretBox, key: str, document: LicenseDocument) -> None:
    """Give the license row a checked key (an import, or a subscription's renewal)."""
    row.name = document.id
    row.key_ciphertext = secrets.encrypt(key)
    row.node_limit = document.node_limit
    row.expires_at = document.valid_until


async def store_subscription(
    session: AsyncSession, secrets: SecretBox, *, activation_id: str, imported_by: str
) -> License:
    """Make a subscription the installation's license; the worker fetches its key (until then,
    and if it never comes, the trial applies)."""
    await session.execute(delete(License))
    row = License(
        name=SUBSCRIPTION,
        owner_id=imported_by,
        kind=SUBSCRIPTION,
        activation_ciphertext=secrets.encrypt(activation_id),
    )
    session.add(row)
    await session.flush()
    return row
