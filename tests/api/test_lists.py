"""Lists at scale: a few thousand backups, each way of being visible, paged and filtered.

The rows are written straight into the catalog (as a busy installation would have them) and
removed afterwards; every page the API gives is checked against the visibility the access
rules define: own backups, shares to the user, its group or everyone, backups of a cluster its
owner shared, and backups in the user's own clusters.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import delete
from sqlalchemy.orm import Session, sessionmaker

from lifeboat.catalog.models import Backup, BackupLocation, Cluster, Share
from tests.api.helpers import unique
from tests.conftest import Users

PER_KIND = 300
START = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Row:
    name: str
    cluster_uid: str
    status: str
    created_at: datetime


@dataclass
class Seeded:
    tag: str
    visible: set[str]
    rows: dict[str, Row]
    my_cluster: str


def _share(kind: str, uid: str, owner: str, subject_kind: str, subject: str) -> Share:
    return Share(
        name=f"{kind}/{uid}/{subject_kind}/{subject}", owner_id=owner, object_kind=kind,
        object_uid=uid, subject_kind=subject_kind, subject=subject, access="view",
    )  # fmt: skip


@pytest.fixture(scope="module")
def seeded(as_user: Users, catalog: sessionmaker[Session]) -> Iterator[Seeded]:
    me = as_user("appuser").get("/api/v1/me").json()
    subject, group = me["subject"], me["groups"][0]
    tag = unique("lst")
    other, stranger = f"{tag}-other", f"{tag}-stranger"
    with catalog() as session:
        location = BackupLocation(
            name=tag, owner_id=other, endpoint="http://127.0.0.1:1", bucket="none"
        )
        clusters = {
            name: Cluster(name=f"{tag}-{name}", owner_id=owner, server_url="https://127.0.0.1:1",
                          kubeconfig_ciphertext=b"", status="Online")
            for name, owner in (("mine", subject), ("shared", other), ("theirs", other))
        }  # fmt: skip
        session.add_all([location, *clusters.values()])
        session.flush()
        session.add(_share("clusters", clusters["shared"].uid, other, "user", subject))
        # kind: (owner, cluster, share subject or None, visible to appuser)
        kinds: dict[str, tuple[str, str, tuple[str, str] | None, bool]] = {
            "own": (subject, "theirs", None, True),
            "user": (stranger, "theirs", ("user", subject), True),
            "group": (stranger, "theirs", ("group", group), True),
            "everyone": (stranger, "theirs", ("everyone", ""), True),
            "cluster": (other, "shared", None, True),
            "cluster-not-its-owner": (stranger, "shared", None, False),
            "in-my-cluster": (stranger, "mine", None, True),
            "hidden": (stranger, "theirs", None, False),
            "other-group": (stranger, "theirs", ("group", f"{tag}-nobody"), False),
        }
        rows: dict[str, Row] = {}
        visible: set[str] = set()
        for kind, (owner, cluster, shared_with, seen) in kinds.items():
            for i in range(PER_KIND):
                backup = Backup(
                    name=f"{tag}-{kind}-{i:04d}", owner_id=owner,
                    cluster_uid=clusters[cluster].uid, location_uid=location.uid,
                    status="Failed" if i % 3 == 0 else "Success",
                    created_at=START + timedelta(minutes=i),
                )  # fmt: skip
                session.add(backup)
                session.flush()
                if shared_with is not None:
                    session.add(_share("backups", backup.uid, owner, *shared_with))
                rows[backup.uid] = Row(
                    backup.name, backup.cluster_uid, backup.status, backup.created_at
                )
                if seen:
                    visible.add(backup.uid)
        cluster_uids = [cluster.uid for cluster in clusters.values()]
        session.commit()
    yield Seeded(tag, visible, rows, cluster_uids[0])
    with catalog() as session:
        shared = [*rows, *cluster_uids]
        session.execute(delete(Share).where(Share.object_uid.in_(shared)))
        session.execute(delete(Backup).where(Backup.name.startswith(tag)))
        session.execute(delete(Cluster).where(Cluster.name.startswith(tag)))
        session.execute(delete(BackupLocation).where(BackupLocation.name == tag))
        session.commit()


def _all_pages(api: httpx.Client, **params: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    after = None
    while True:
        query = params | ({"after": after} if after else {})
        page = api.get("/api/v1/backups", params=query)
        assert page.status_code == 200, page.text
        body = page.json()
        assert body["count"] == len(body["items"]) <= params["limit"]
        items += body["items"]
        after = body["next"]
        if after is None:
            return items


def _mine(items: list[dict[str, Any]], seeded: Seeded) -> list[dict[str, Any]]:
    return [item for item in items if item["name"].startswith(seeded.tag)]


def test_pages_hold_exactly_the_visible_backups_once_each_in_order(
    as_user: Users, seeded: Seeded
) -> None:
    items = _mine(_all_pages(as_user("appuser"), limit=97, name_prefix=seeded.tag), seeded)
    uids = [item["uid"] for item in items]
    assert len(uids) == len(set(uids))
    assert set(uids) == seeded.visible
    assert [i["name"] for i in items] == sorted(i["name"] for i in items)
    admin = _all_pages(as_user("superadmin"), limit=1000, name_prefix=seeded.tag)
    assert {item["uid"] for item in admin} == set(seeded.rows)


def test_filters_narrow_the_visible_backups(as_user: Users, seeded: Seeded) -> None:
    api = as_user("appuser")

    def listed(prefix: str = seeded.tag, **params: Any) -> set[str]:
        found = _all_pages(api, limit=250, name_prefix=prefix, **params)
        return {item["uid"] for item in found}

    def expected(keep: Any) -> set[str]:
        return {uid for uid in seeded.visible if keep(seeded.rows[uid])}

    assert listed(cluster_uid=seeded.my_cluster) == expected(
        lambda b: b.cluster_uid == seeded.my_cluster
    )
    assert listed(status="Failed") == expected(lambda b: b.status == "Failed")
    since = START + timedelta(minutes=PER_KIND - 10)
    assert listed(created_after=since.isoformat()) == expected(lambda b: b.created_at >= since)
    group = f"{seeded.tag}-group-"
    assert {item["uid"] for item in _all_pages(api, limit=50, name_prefix=group)} == expected(
        lambda b: b.name.startswith(group)
    )
    assert listed(f"{seeded.tag}-hidden") == set()


def test_a_cursor_not_given_by_the_api_is_refused_naming_after(as_user: Users) -> None:
    api = as_user("appuser")
    for cursor in ("not-a-cursor", base64.urlsafe_b64encode(b'{"a": 1}').decode()):
        refused = api.get("/api/v1/backups", params={"after": cursor})
        assert refused.status_code == 422, refused.text
        assert refused.json()["error"]["field"] == "after"
    assert api.get("/api/v1/backups", params={"limit": 0}).status_code == 422
    # A date and time, as the schema says; not seconds since 1970.
    refused = api.get("/api/v1/backups", params={"created_after": "0.5"})
    assert refused.status_code == 422, refused.text
    assert refused.json()["error"]["field"].endswith("created_after")
