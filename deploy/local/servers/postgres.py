"""PostgreSQL for the dev stack: used when reachable (the machines run one on 5432)."""

from __future__ import annotations

import os

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

# Trust auth on the dev machines; override to point at another server.
ADMIN_URL = os.environ.get(
    "LIFEBOAT_DEV_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


def reachable(admin_url: str = ADMIN_URL) -> bool:
    try:
        psycopg.connect(admin_url, connect_timeout=2).close()
    except psycopg.OperationalError:
        return False
    return True


def ensure_database(name: str, admin_url: str = ADMIN_URL) -> str:
    """Create the database when missing; return its URL (data already there is kept)."""
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as conn:
        exists = conn.execute("select 1 from pg_database where datname = %s", (name,)).fetchone()
        if not exists:
            conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


def drop_database(name: str, admin_url: str = ADMIN_URL) -> None:
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as conn:
        conn.execute(
            sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name))
        )
