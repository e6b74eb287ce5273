"""The catalog on SQLite and on PostgreSQL: migrations, every kind, naming, secrets at rest."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy import inspect, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from deploy.local.servers import postgres
from lifeboat.catalog import models
from lifeboat.catalog.migrate import downgrade, upgrade
from lifeboat.catalog.session import create_engine, create_sessionmaker, sync_url
from lifeboat.secrets import SecretBox
from tests.conftest import require_postgres

KINDS = [
    models.User, models.Group, models.Role, models.RoleBinding, models.CloudAccount,
    models.BackupLocation, models.SchedulePolicy, models.Rule, models.Cluster,
    models.BackupSchedule, models.Backup, models.Restore, models.Share, models.License,
    models.Setting, models.NotificationReceiver, models.NotificationSubscription,
]  # fmt: skip


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database of each kind."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'catalog.db'}"
        return
    require_postgres()
    name = f"lifeboat_catalog_{secrets.token_hex(4)}"
    url = postgres.ensure_database(name)
    yield url
    postgres.drop_database(name)


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    upgrade(database_url)
    engine = create_engine(database_url)
    yield create_sessionmaker(engine)
    await engine.dispose()


def _tables(database_url: str) -> set[str]:
    engine = create_sync_engine(sync_url(database_url))
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_migrations_go_up_down_and_up_again(database_url: str) -> None:
    expected = {kind.__tablename__ for kind in KINDS}
    upgrade(database_url)
    assert expected <= _tables(database_url)
    downgrade(database_url)
    assert _tables(database_url) == {"alembic_version"}
    upgrade(database_url)
    assert expected <= _tables(database_url)


def test_migrations_match_the_models(database_url: str) -> None:
    upgrade(database_url)
    engine = create_sync_engine(sync_url(database_url))
    try:
        with engine.connect() as connection:
            diff = compare_metadata(MigrationContext.configure(connection), models.Base.metadata)
    finally:
        engine.dispose()
    assert diff == [], "the models changed without a migration: write one"


def _one_of_each(owner: str) -> list[models.CatalogObject]:
    """One object of every kind, in an order that satisfies the references between them."""
    uid = {
        kind: models.new_uid()
        for kind in ("cluster", "location", "policy", "role", "backup", "receiver")
    }
    return [
        models.User(name=owner, owner_id=models.SYSTEM_OWNER, subject=owner),
        models.Group(name="team", owner_id=owner),
        models.Role(uid=uid["role"], name="custom", owner_id=owner, permissions=["rules.view"]),
        models.RoleBinding(
            name="binding", owner_id=owner, role_uid=uid["role"], subject_kind="user",
            subject=owner,
        ),
        models.CloudAccount(
            name="aws", owner_id=owner, provider="aws", credentials_ciphertext=b"x"
        ),
        models.BackupLocation(
            uid=uid["location"], name="bucket", owner_id=owner, endpoint="http://s3",
            bucket="backups",
        ),
        models.SchedulePolicy(
            uid=uid["policy"], name="daily", owner_id=owner, schedule={"daily": "02:00"}
        ),
        models.Rule(name="freeze", owner_id=owner, rules=[{"actions": ["sync"]}]),
        models.Cluster(
            uid=uid["cluster"], name="prod", owner_id=owner, server_url="https://k8s:6443",
            kubeconfig_ciphertext=b"x",
        ),
        models.BackupSchedule(
            name="nightly", owner_id=owner, policy_uid=uid["policy"], cluster_uid=uid["cluster"]
        ),
        models.Backup(
            uid=uid["backup"], name="prod-20261124000000", owner_id=owner,
            cluster_uid=uid["cluster"], location_uid=uid["location"],
        ),
        models.Restore(
            name="restore", owner_id=owner, backup_uid=uid["backup"], cluster_uid=uid["cluster"]
        ),
        models.Share(
            name="share", owner_id=owner, object_kind="cluster", object_uid=uid["cluster"],
            subject_kind="group", subject="team", access="view",
        ),
        models.License(name="license", owner_id=owner),
        models.Setting(name="mode", owner_id=models.SYSTEM_OWNER, value={"mode": "classic"}),
        models.NotificationReceiver(
            uid=uid["receiver"], name="ops-hook", owner_id=owner, kind="webhook",
            url="https://hooks.example/lifeboat", secret_ciphertext=b"x",
        ),
        models.NotificationSubscription(
            name="failures", owner_id=owner, receiver_uid=uid["receiver"],
            events=["backup.failed"],
        ),
    ]  # fmt: skip


async def test_every_kind_is_stored_with_the_common_fields(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions.begin() as session:
        for obj in _one_of_each("alice"):
            session.add(obj)
            await session.flush()
    async with sessions() as session:
        for kind in KINDS:
            stored = (await session.scalars(select(kind))).one()
            assert stored.uid and stored.name and stored.org_id == models.DEFAULT_ORG
            assert stored.labels == {} and stored.owner_id
            assert stored.created_at is not None and stored.updated_at is not None


def _cluster(name: str, owner: str) -> models.Cluster:
    return models.Cluster(
        name=name, owner_id=owner, server_url="https://k8s:6443", kubeconfig_ciphertext=b"x"
    )


async def test_names_are_unique_per_owner_and_kind(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions.begin() as session:
        session.add_all([_cluster("prod", "alice"), _cluster("prod", "bob")])
        # Same name, other kind, same owner: fine.
        session.add(models.SchedulePolicy(name="prod", owner_id="alice"))
    with pytest.raises(IntegrityError):
        async with sessions.begin() as session:
            session.add(_cluster("prod", "alice"))
    async with sessions() as session:
        names = (await session.scalars(select(models.Cluster.owner_id))).all()
    assert sorted(names) == ["alice", "bob"]


async def test_secrets_are_encrypted_at_rest(sessions: async_sessionmaker[AsyncSession]) -> None:
    box = SecretBox("a-test-secret-key-of-some-length")
    kubeconfig = "apiVersion: v1\nusers: [{name: admin, user: {token: very-secret-token}}]\n"
    cluster = _cluster("enc", "alice")
    cluster.kubeconfig_ciphertext = box.encrypt(kubeconfig)
    async with sessions.begin() as session:
        session.add(cluster)
    async with sessions() as session:
        raw = (
            await session.execute(
                text("select kubeconfig_ciphertext from clusters where uid = :uid"),
                {"uid": cluster.uid},
            )
        ).scalar_one()
    assert b"very-secret-token" not in bytes(raw)
    assert box.decrypt(bytes(raw)) == kubeconfig


async def test_timestamps_come_back_timezone_aware(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """SQLite keeps no zone: without care a stored time cannot be compared with now()."""
    cluster = _cluster("times", "alice")
    async with sessions.begin() as session:
        session.add(cluster)
    async with sessions() as session:
        stored = await session.get(models.Cluster, cluster.uid)
        assert stored is not None
        assert stored.created_at.tzinfo is not None
        assert models.utcnow() - stored.created_at < timedelta(minutes=1)
