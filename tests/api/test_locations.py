"""Cloud accounts and backup locations through the API, checked against the real S3 server."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from minio import Minio
from sqlalchemy import create_engine, delete
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from deploy.local.servers.procs import free_port
from deploy.local.stack import Stack
from lifeboat.catalog.models import Backup, Cluster, Share
from lifeboat.catalog.session import sync_url
from tests.api.helpers import unique, workflow_histories
from tests.conftest import Users


@pytest.fixture(scope="module")
def s3(stack: Stack) -> Minio:
    return Minio(
        stack.s3_endpoint.removeprefix("http://"),
        stack.s3_access_key,
        stack.s3_secret_key,
        secure=False,
    )


@pytest.fixture(scope="module")
def bucket(s3: Minio) -> str:
    name = unique("locations")
    s3.make_bucket(name)
    return name


@pytest.fixture(scope="module")
def catalog(stack: Stack) -> Iterator[Engine]:
    engine = create_engine(sync_url(stack.database_url))
    yield engine
    engine.dispose()


def _created(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def _account(api: httpx.Client, stack: Stack, *, secret: str | None = None) -> dict[str, Any]:
    credentials = {
        "access_key_id": stack.s3_access_key,
        "secret_access_key": secret or stack.s3_secret_key,
    }
    return _created(
        api.post(
            "/api/v1/cloud-accounts",
            json={"name": unique("s3"), "provider": "s3-compatible", "credentials": credentials},
        )
    )


def _location_body(stack: Stack, bucket: str, account_uid: str, **fields: str) -> dict[str, Any]:
    return {
        "name": unique("loc"),
        "endpoint": stack.s3_endpoint,
        "bucket": bucket,
        "cloud_account_uid": account_uid,
        **fields,
    }


def _refused(response: httpx.Response, field: str) -> str:
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["field"] == field, error
    message: str = error["message"]
    return message


def _count(api: httpx.Client, path: str) -> int:
    count: int = api.get(path).json()["count"]
    return count


def test_cloud_account_secret_is_write_only(as_user: Users, stack: Stack) -> None:
    api = as_user("infraadmin")
    account = _account(api, stack)
    assert account["provider"] == "s3-compatible"
    assert account["identity"] == stack.s3_access_key
    assert "credentials" not in account
    renamed = api.put(f"/api/v1/cloud-accounts/{account['uid']}", json={"name": unique("renamed")})
    assert renamed.status_code == 200, renamed.text
    for response in (
        renamed,
        api.get(f"/api/v1/cloud-accounts/{account['uid']}"),
        api.get("/api/v1/cloud-accounts"),
    ):
        assert response.status_code == 200
        assert stack.s3_secret_key not in response.text
        assert "secret" not in response.text


def test_credentials_must_fit_the_provider(as_user: Users) -> None:
    response = as_user("infraadmin").post(
        "/api/v1/cloud-accounts",
        json={
            "name": unique("azure"),
            "provider": "azure",
            "credentials": {"access_key_id": "id", "secret_access_key": "never-echoed"},
        },
    )
    assert "account_name and account_key" in _refused(response, "credentials")
    assert "never-echoed" not in response.text


def test_location_is_created_once_its_bucket_takes_writes(
    as_user: Users, stack: Stack, s3: Minio, bucket: str
) -> None:
    api = as_user("infraadmin")
    account = _account(api, stack)
    body = _location_body(stack, bucket, account["uid"], prefix="/team-a/", region="")
    location = _created(api.post("/api/v1/backup-locations", json=body))
    assert location["prefix"] == "team-a"
    assert location["endpoint"] == stack.s3_endpoint
    assert "encryption_key" not in location
    # The check's probe object is removed again.
    assert list(s3.list_objects(bucket, recursive=True)) == []
    listed = api.get("/api/v1/backup-locations").json()["items"]
    assert location["uid"] in {item["uid"] for item in listed}
    # Another user of the same role sees neither the account nor the location.
    other = as_user("appuser")
    assert other.get(f"/api/v1/cloud-accounts/{account['uid']}").status_code == 404
    assert other.get(f"/api/v1/backup-locations/{location['uid']}").status_code == 404


def test_no_secret_in_the_check_workflow_history(as_user: Users, stack: Stack, bucket: str) -> None:
    api = as_user("infraadmin")
    account = _account(api, stack)
    _created(
        api.post("/api/v1/backup-locations", json=_location_body(stack, bucket, account["uid"]))
    )

    recorded = workflow_histories(
        stack.temporal_address, 'WorkflowType = "LocationCheckWorkflow"', mentioning=account["uid"]
    )
    assert not [h for h in recorded if stack.s3_secret_key in h]


def test_missing_bucket_is_refused_and_nothing_is_stored(as_user: Users, stack: Stack) -> None:
    api = as_user("infraadmin")
    account = _account(api, stack)
    before = _count(api, "/api/v1/backup-locations")
    body = _location_body(stack, unique("absent"), account["uid"])
    assert "does not exist" in _refused(api.post("/api/v1/backup-locations", json=body), "bucket")
    assert _count(api, "/api/v1/backup-locations") == before


def test_wrong_secret_key_is_refused(as_user: Users, stack: Stack, bucket: str) -> None:
    api = as_user("infraadmin")
    account = _account(api, stack, secret="not-the-secret-key")
    body = _location_body(stack, bucket, account["uid"])
    message = _refused(api.post("/api/v1/backup-locations", json=body), "cloud_account_uid")
    assert "credentials" in message


def test_unreachable_endpoint_is_refused(as_user: Users, stack: Stack, bucket: str) -> None:
    api = as_user("infraadmin")
    account = _account(api, stack)
    body = _location_body(stack, bucket, account["uid"])
    body["endpoint"] = f"http://127.0.0.1:{free_port()}"
    message = _refused(api.post("/api/v1/backup-locations", json=body), "endpoint")
    assert "cannot reach" in message


@pytest.mark.parametrize(
    "endpoint", ["s3.example.com", "ftp://s3.example.com", "http://s3.example.com/bucket"]
)
def test_endpoint_must_be_a_bare_http_url(
    as_user: Users, stack: Stack, bucket: str, endpoint: str
) -> None:
    api = as_user("infraadmin")
    body = _location_body(stack, bucket, "any", endpoint=endpoint)
    _refused(api.post("/api/v1/backup-locations", json=body), "endpoint")


def test_roles_and_shares_decide_who_may_do_what(
    as_user: Users, stack: Stack, bucket: str, catalog: Engine
) -> None:
    infra, appadmin, appuser = as_user("infraadmin"), as_user("appadmin"), as_user("appuser")
    account = _account(infra, stack)
    body = _location_body(stack, bucket, account["uid"])

    # The matrix: app admins view cloud accounts only; app users create no locations.
    credentials = {"access_key_id": "id", "secret_access_key": "secret"}
    refused = appadmin.post(
        "/api/v1/cloud-accounts",
        json={"name": unique("s3"), "provider": "aws", "credentials": credentials},
    )
    assert refused.status_code == 403
    assert appuser.post("/api/v1/backup-locations", json=body).status_code == 403

    # Not shared: invisible, and not usable for a location.
    assert appadmin.get(f"/api/v1/cloud-accounts/{account['uid']}").status_code == 404
    _refused(appadmin.post("/api/v1/backup-locations", json=body), "cloud_account_uid")

    # Shared with the app admins' group (directly in the catalog: no sharing API yet here).
    with Session(catalog) as session, session.begin():
        session.add(
            Share(
                name=unique("share"),
                owner_id=account["owner_id"],
                object_kind="cloud-accounts",
                object_uid=account["uid"],
                subject_kind="group",
                subject="lifeboat-app-admins",
                access="view",
            )
        )
    shared = appadmin.get(f"/api/v1/cloud-accounts/{account['uid']}")
    assert shared.status_code == 200 and stack.s3_secret_key not in shared.text
    assert account["uid"] in {
        a["uid"] for a in appadmin.get("/api/v1/cloud-accounts").json()["items"]
    }
    assert appadmin.delete(f"/api/v1/cloud-accounts/{account['uid']}").status_code == 403
    location = _created(appadmin.post("/api/v1/backup-locations", json=body))
    assert location["owner_id"] != account["owner_id"]
    assert infra.get(f"/api/v1/backup-locations/{location['uid']}").status_code == 404
    assert appadmin.delete(f"/api/v1/backup-locations/{location['uid']}").status_code == 204


def test_account_in_use_is_kept_until_its_locations_are_deleted(
    as_user: Users, stack: Stack, bucket: str
) -> None:
    api = as_user("infraadmin")
    account = _account(api, stack)
    location = _created(
        api.post("/api/v1/backup-locations", json=_location_body(stack, bucket, account["uid"]))
    )
    response = api.delete(f"/api/v1/cloud-accounts/{account['uid']}")
    assert response.status_code == 409
    assert location["name"] in response.json()["error"]["message"]
    assert api.delete(f"/api/v1/backup-locations/{location['uid']}").status_code == 204
    assert api.get(f"/api/v1/backup-locations/{location['uid']}").status_code == 404
    assert api.delete(f"/api/v1/cloud-accounts/{account['uid']}").status_code == 204
    assert api.get(f"/api/v1/cloud-accounts/{account['uid']}").status_code == 404


def test_super_admin_cannot_delete_a_location_other_users_backups_use(
    as_user: Users, stack: Stack, bucket: str, catalog: Engine
) -> None:
    infra, superadmin = as_user("infraadmin"), as_user("superadmin")
    account = _account(infra, stack)
    location = _created(
        infra.post("/api/v1/backup-locations", json=_location_body(stack, bucket, account["uid"]))
    )
    assert superadmin.get(f"/api/v1/backup-locations/{location['uid']}").status_code == 200

    # The backup workflow does not exist yet: a backup of the owner's goes into the catalog.
    owner = location["owner_id"]
    with Session(catalog) as session, session.begin():
        cluster = Cluster(
            name=unique("c"), owner_id=owner, server_url="https://x", kubeconfig_ciphertext=b""
        )
        session.add(cluster)
        session.flush()
        backup = Backup(
            name=unique("b"), owner_id=owner, cluster_uid=cluster.uid, location_uid=location["uid"]
        )
        session.add(backup)
        session.flush()
        cluster_uid, backup_uid = cluster.uid, backup.uid
    try:
        response = superadmin.delete(f"/api/v1/backup-locations/{location['uid']}")
        assert response.status_code == 409
        assert "other users" in response.json()["error"]["message"]
        assert superadmin.get(f"/api/v1/backup-locations/{location['uid']}").status_code == 200
        # The owner is refused too, while its own backups use the location.
        response = infra.delete(f"/api/v1/backup-locations/{location['uid']}")
        assert response.status_code == 409
        assert "your backups" in response.json()["error"]["message"]
    finally:
        with Session(catalog) as session, session.begin():
            session.execute(delete(Backup).where(Backup.uid == backup_uid))
            session.execute(delete(Cluster).where(Cluster.uid == cluster_uid))
    assert superadmin.delete(f"/api/v1/backup-locations/{location['uid']}").status_code == 204


def test_classic_mode_reaches_buckets_with_cloud_accounts_only(
    as_user: Users, stack: Stack, bucket: str
) -> None:
    api = as_user("infraadmin")
    keys = {"access_key_id": stack.s3_access_key, "secret_access_key": "never-echoed"}
    before = _count(api, "/api/v1/backup-locations")
    own_keys = {**_location_body(stack, bucket, "any"), "credentials": keys}
    del own_keys["cloud_account_uid"]
    refused = api.post("/api/v1/backup-locations", json=own_keys)
    assert "cloud_account_uid" in _refused(refused, "credentials")
    assert "never-echoed" not in refused.text
    neither = {k: v for k, v in own_keys.items() if k != "credentials"}
    assert "cloud account" in _refused(
        api.post("/api/v1/backup-locations", json=neither), "cloud_account_uid"
    )
    assert _count(api, "/api/v1/backup-locations") == before
