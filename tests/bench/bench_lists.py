"""Benchmark: listing backups in a large catalog, for a super admin, an infra admin, an app user.

    .venv/bin/python tests/bench/bench_lists.py [--backups 100000] [--repeat 5]

It makes a PostgreSQL database of its own (on the local server, dropped afterwards) with
1,000 users, 100 clusters, `--backups` backups and 5,000 shares, then times, in one run and in
alternating order, the first page and a deep page (after 20 pages) of `GET /api/v1/backups` as
the API builds them (`AuthzContext.visible` and `api.crud.list_page`, 100 per page, each row
read into the API's schema), against the anchor: the query lists used before pagination, the
whole visible list with the owner match OR-ed with per-row EXISTS for shares. It prints p50,
p95 and p99 in milliseconds and the ratios. HTTP and the token check are left out (the same
for both); the catalog, the visibility rule and the serialization are the real ones.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import time
import uuid
from collections.abc import Awaitable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy import exists, insert, or_, select

from api.authz import AuthzContext, _grants_to, _shares_of
from api.crud import Page, list_page
from api.routes.backups import BackupRead
from deploy.local.servers import postgres
from lifeboat.catalog.migrate import upgrade
from lifeboat.catalog.models import Backup, BackupLocation, Cluster, Share, User
from lifeboat.catalog.session import create_engine, create_sessionmaker, sync_url
from lifeboat.rbac.access import Caller
from lifeboat.rbac.matrix import Action, BuiltinRole, Kind
from lifeboat.settings import Settings

DATABASE = "lifeboat_bench_lists"
USERS, CLUSTERS, SHARES, GROUPS = 1000, 100, 5000, 20
PAGE = 100
DEEP = 20  # pages into the list


def _user(i: int) -> str:
    return f"user-{i:04d}"


def _seed(url: str, backups: int) -> None:
    """The catalog: each of the first 100 users owns a cluster and backs it up; app users own
    a few backups; shares go to random users, groups, and now and then everyone."""
    rng = random.Random(7)
    engine = create_sync_engine(sync_url(url))
    now = datetime(2026, 1, 1, tzinfo=UTC)
    with engine.begin() as db:
        db.execute(insert(User), [{"uid": str(uuid.uuid4()), "name": _user(i),
                                   "owner_id": "system", "subject": _user(i)}
                                  for i in range(USERS)])  # fmt: skip
        location = str(uuid.uuid4())
        db.execute(insert(BackupLocation), [{
            "uid": location, "name": "bench", "owner_id": _user(0),
            "endpoint": "http://127.0.0.1:1", "bucket": "b",
        }])  # fmt: skip
        clusters = [str(uuid.uuid4()) for _ in range(CLUSTERS)]
        db.execute(insert(Cluster), [{"uid": c, "name": f"cluster-{i}", "owner_id": _user(i),
                                      "server_url": "https://127.0.0.1:1",
                                      "kubeconfig_ciphertext": b""}
                                     for i, c in enumerate(clusters)])  # fmt: skip
        uids = []
        rows = []
        for n in range(backups):
            c = n % CLUSTERS
            # One backup in fifty belongs to an app user (users 100..999), on that cluster.
            owner = _user(100 + rng.randrange(USERS - 100)) if n % 50 == 0 else _user(c)
            uid = str(uuid.uuid4())
            uids.append((uid, owner))
            rows.append({"uid": uid, "name": f"cluster-{c}-{n:07d}", "owner_id": owner,
                         "cluster_uid": clusters[c], "location_uid": location,
                         "status": "Success", "created_at": now + timedelta(seconds=n),
                         "resources": [{"kind": "ConfigMap", "name": f"cm-{k}", "status": "Success"}
                                       for k in range(20)]})  # fmt: skip
            if len(rows) == 5000:
                db.execute(insert(Backup), rows)
                rows = []
        if rows:
            db.execute(insert(Backup), rows)
        shares = []
        for _ in range(SHARES):
            uid, owner = rng.choice(uids)
            roll = rng.random()
            kind, subject = (
                ("everyone", "") if roll < 0.002 else
                ("group", f"group-{rng.randrange(GROUPS)}") if roll < 0.3 else
                ("user", _user(rng.randrange(USERS)))
            )  # fmt: skip
            shares.append({"uid": str(uuid.uuid4()), "name": f"backups/{uid}/{kind}/{subject}",
                           "owner_id": owner, "object_kind": "backups", "object_uid": uid,
                           "subject_kind": kind, "subject": subject, "access": "view"})  # fmt: skip
        db.execute(insert(Share), _unique_names(shares))
    engine.dispose()


def _unique_names(shares: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: dict[tuple[str, str], dict[str, Any]] = {}
    for share in shares:
        seen[(share["owner_id"], share["name"])] = share
    return list(seen.values())


def _caller(subject: str, role: BuiltinRole, groups: frozenset[str]) -> Caller:
    return Caller(subject, subject, groups, frozenset({role.value}), frozenset())


def _anchor(ctx: AuthzContext) -> Any:
    """The visible-backups query lists ran before pagination: every row, per-row EXISTS."""
    query = select(Backup)
    if not ctx.caller.is_super_admin:
        query = query.where(
            or_(
                Backup.owner_id == ctx.caller.subject,
                exists().where(_shares_of(Kind.BACKUPS, Backup), _grants_to(ctx.caller)),
                exists().where(
                    Cluster.uid == Backup.cluster_uid, Cluster.owner_id == ctx.caller.subject
                ),
            )
        )
    return query.order_by(Backup.name, Backup.uid)


async def _timed(work: Awaitable[int]) -> tuple[float, int]:
    start = time.perf_counter()
    count = await work
    return (time.perf_counter() - start) * 1000, count


def _figures(samples: list[float]) -> tuple[float, float, float]:
    ordered = sorted(samples)

    def quantile(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    return statistics.median(ordered), quantile(0.95), quantile(0.99)


async def _page(ctx: AuthzContext, after: tuple[str, str] | None) -> tuple[int, Any]:
    """One page as the API lists it: the rows, each read into the API's schema."""
    asked = Page(limit=PAGE)
    asked.after = after
    rows, _ = await list_page(ctx, Backup, asked, deferred=(Backup.resources, Backup.volumes))
    items = [BackupRead.model_validate(row) for row in rows]
    return len(items), (rows[-1].name, rows[-1].uid) if rows else None


async def _anchor_list(ctx: AuthzContext) -> int:
    rows = (await ctx.session.scalars(_anchor(ctx))).all()
    return len([BackupRead.model_validate(row) for row in rows])


async def _work(what: str, ctx: AuthzContext, deep: tuple[str, str] | None) -> int:
    if what == ANCHOR:
        return await _anchor_list(ctx)
    return (await _page(ctx, None if what == FIRST else deep))[0]


FIRST, DEEP_PAGE, ANCHOR = "first page", f"page {DEEP}", "anchor (whole list)"


async def _run(url: str, repeat: int) -> None:
    engine = create_engine(url)
    sessions = create_sessionmaker(engine)
    settings = Settings(database_url=url)
    callers = {
        "super admin": _caller("user-0999", BuiltinRole.SUPER_ADMIN, frozenset()),
        "infra admin": _caller(_user(7), BuiltinRole.INFRA_ADMIN, frozenset({"group-3"})),
        "app user": _caller(_user(500), BuiltinRole.APP_USER, frozenset({"group-11"})),
    }
    print(f"{'caller':<12} {'what':<20} {'p50 ms':>9} {'p95 ms':>9} {'p99 ms':>9} {'items':>7}")
    for name, caller in callers.items():
        async with sessions() as session:  # where page DEEP starts (found once, not timed)
            ctx = AuthzContext(caller, session, settings, Kind.BACKUPS, Action.VIEW)
            deep = None
            for _ in range(DEEP - 1):
                _, deep = await _page(ctx, deep)
        samples: dict[str, list[float]] = {FIRST: [], DEEP_PAGE: [], ANCHOR: []}
        counts: dict[str, int] = {}
        for i in range(repeat):
            for what in list(samples) if i % 2 == 0 else list(reversed(samples)):
                async with sessions() as session:
                    ctx = AuthzContext(caller, session, settings, Kind.BACKUPS, Action.VIEW)
                    elapsed, counts[what] = await _timed(_work(what, ctx, deep))
                samples[what].append(elapsed)
        anchor_p50 = _figures(samples[ANCHOR])[0]
        for what, values in samples.items():
            p50, p95, p99 = _figures(values)
            ratio = "" if what == ANCHOR else f"  anchor/this {anchor_p50 / p50:7.1f}x"
            figures = f"{p50:9.1f} {p95:9.1f} {p99:9.1f} {counts[what]:7d}"
            print(f"{name:<12} {what:<20} {figures}{ratio}")
    await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backups", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    url = postgres.ensure_database(DATABASE)
    try:
        upgrade(url)
        started = time.perf_counter()
        _seed(url, args.backups)
        seconds = time.perf_counter() - started
        print(f"seeded {args.backups} backups, {USERS} users, {SHARES} shares in {seconds:.0f} s")
        asyncio.run(_run(url, args.repeat))
    finally:
        postgres.drop_database(DATABASE)


if __name__ == "__main__":
    main()
