"""Alembic migrations of the catalog, driven from code (no alembic.ini to keep in step)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import sqlalchemy
import sqlalchemy.exc
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from lifeboat.catalog.session import sync_url

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    # ConfigParser interpolation would eat `%` in passwords.
    config.set_main_option("sqlalchemy.url", sync_url(database_url).replace("%", "%%"))
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    """Bring the catalog schema up to `revision`."""
    command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url: str, revision: str = "base") -> None:
    """Take the catalog schema down to `revision`."""
    command.downgrade(alembic_config(database_url), revision)


def is_current(database_url: str) -> bool:
    """Whether the catalog schema is at the newest revision."""
    head = ScriptDirectory.from_config(alembic_config(database_url)).get_current_head()
    engine = sqlalchemy.create_engine(sync_url(database_url))
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision() == head
    finally:
        engine.dispose()


def wait_until_current(database_url: str, *, poll_seconds: float = 5.0) -> None:
    """Return once the schema is current: what the api and worker pods wait for while the
    migration Job runs (an unreachable database is waited for too)."""
    while True:
        try:
            if is_current(database_url):
                return
            print("waiting for the migration Job: the catalog schema is not current", flush=True)
        except sqlalchemy.exc.OperationalError as exc:
            print(f"waiting for the catalog database: {exc.orig}", flush=True)
        time.sleep(poll_seconds)


if __name__ == "__main__":
    # `python -m lifeboat.catalog.migrate wait`: the init container of the api and worker.
    from lifeboat.settings import Settings

    if sys.argv[1:] != ["wait"]:
        sys.exit("usage: python -m lifeboat.catalog.migrate wait")
    wait_until_current(Settings().database_url)
