"""The role privilege matrix, tried for real: each role x RBAC kind x action through the API.

Generated from `lifeboat.rbac.matrix.MATRIX`, which is seeds/002 row for row: a role whose cell
holds the action gets 2xx, every other role 403. Each role acts on its own objects where it may
create them, else on objects a super admin owns and shared with everyone.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from minio import Minio

from deploy.local.stack import Stack
from lifeboat.rbac.matrix import MATRIX, RBAC_KINDS, Action, BuiltinRole, Kind
from tests.api.helpers import unique
from tests.conftest import Users

USERS = {
    BuiltinRole.SUPER_ADMIN: "superadmin",
    BuiltinRole.INFRA_ADMIN: "infraadmin",
    BuiltinRole.APP_ADMIN: "appadmin",
    BuiltinRole.APP_USER: "appuser",
}
EXPECTED = {Action.CREATE: 201, Action.VIEW: 200, Action.EDIT: 200, Action.DELETE: 204}
BUCKET = "matrix-bucket"


@dataclass
class Resource:
    """How to create, view, edit and delete one RBAC kind through the API."""

    path: str
    body: Callable[[str], dict[str, Any]]
    # Whether shared objects of the kind can stand in for a role that cannot create its own.
    shareable: bool = True


@pytest.fixture(scope="module")
def resources(stack: Stack, as_user: Users) -> dict[Kind, Resource]:
    host = stack.s3_endpoint.removeprefix("http://")
    s3 = Minio(host, stack.s3_access_key, stack.s3_secret_key, secure=False)
    if not s3.bucket_exists(BUCKET):
        s3.make_bucket(BUCKET)
    s3.put_object(BUCKET, "keep", io.BytesIO(b""), 0)
    keys = {"access_key_id": stack.s3_access_key, "secret_access_key": stack.s3_secret_key}
    account = _create(
        as_user("superadmin"),
        "/api/v1/cloud-accounts",
        {"name": unique("acct"), "provider": "s3-compatible", "credentials": keys},
    )
    _share_with_everyone(as_user("superadmin"), Kind.CLOUD_ACCOUNTS, account["uid"])
    return {
        Kind.CLOUD_ACCOUNTS: Resource(
            "/api/v1/cloud-accounts",
            lambda name: {"name": name, "provider": "s3-compatible", "credentials": keys},
        ),
        Kind.BACKUP_LOCATIONS: Resource(
            "/api/v1/backup-locations",
            lambda name: {
                "name": name,
                "endpoint": stack.s3_endpoint,
                "bucket": BUCKET,
                "cloud_account_uid": account["uid"],
            },
        ),
        Kind.SCHEDULE_POLICIES: Resource(
            "/api/v1/schedule-policies",
            lambda name: {"name": name, "schedule": {"type": "interval", "every_minutes": 30}},
        ),
        Kind.RULES: Resource(
            "/api/v1/rules",
            lambda name: {
                "name": name,
                "rules": [{"pod_selector": {"app": "db"}, "actions": [{"command": "sync"}]}],
            },
        ),
        Kind.ROLES: Resource(
            "/api/v1/roles", lambda name: {"name": name, "permissions": ["rules.view"]}
        ),
        Kind.USERS_GROUPS: Resource(
            "/api/v1/users",
            lambda name: {"subject": name, "roles": [BuiltinRole.APP_USER.value]},
            shareable=False,
        ),
    }


def _create(api: httpx.Client, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = api.post(path, json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def _share_with_everyone(api: httpx.Client, kind: Kind, uid: str) -> None:
    share = {"object_kind": kind.value, "object_uid": uid, "subject_kind": "everyone"}
    response = api.post("/api/v1/shares", json=share)
    assert response.status_code == 201, response.text


def _target(kind: Kind, resource: Resource, as_user: Users) -> str:
    """A super admin's object of the kind that every role can see: its item path."""
    admin = as_user("superadmin")
    created = _create(admin, resource.path, resource.body(unique("shared")))
    if kind == Kind.USERS_GROUPS:
        return f"{resource.path}/{created['subject']}"
    _share_with_everyone(admin, kind, created["uid"])
    return f"{resource.path}/{created['uid']}"


def _edit(kind: Kind, item: str, resource: Resource) -> tuple[str, dict[str, Any]]:
    if kind == Kind.USERS_GROUPS:
        return f"{item}/roles", {"roles": [BuiltinRole.APP_USER.value]}
    return item, resource.body(unique("edited"))


@pytest.mark.parametrize("kind", RBAC_KINDS, ids=[k.value for k in RBAC_KINDS])
@pytest.mark.parametrize("role", list(BuiltinRole), ids=[r.value for r in BuiltinRole])
def test_role_privilege_matrix(
    role: BuiltinRole, kind: Kind, resources: dict[Kind, Resource], as_user: Users
) -> None:
    api = as_user(USERS[role])
    resource = resources[kind]
    allowed = {a for a in Action if a.value[0].upper() in MATRIX[role][kind]}
    seen: dict[Action, int] = {}

    created = api.post(resource.path, json=resource.body(unique("m")))
    seen[Action.CREATE] = created.status_code
    seen[Action.VIEW] = api.get(resource.path).status_code
    if created.status_code == 201:
        key = "subject" if kind == Kind.USERS_GROUPS else "uid"
        item = f"{resource.path}/{created.json()[key]}"
    else:
        item = _target(kind, resource, as_user)
    path, body = _edit(kind, item, resource)
    seen[Action.EDIT] = api.put(path, json=body).status_code
    seen[Action.DELETE] = api.delete(item).status_code

    expected = {a: EXPECTED[a] if a in allowed else 403 for a in Action}
    assert seen == expected, f"{role} on {kind}: matrix says {MATRIX[role][kind] or '-'}"
