"""Lighthouses through the API, checked by the worker against a storage cluster's SDK gateway.

The gateway is `deploy.local.doubles.storage_cluster`: real HTTPS with its own CA, bearer tokens and
client certificates, the OpenStorage SDK's REST shape (a Portworx cluster cannot run here).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization

from deploy.local.doubles.storage_cluster import CertificateAuthority, StorageClusterDouble
from deploy.local.servers.procs import free_port
from deploy.local.stack import Stack
from tests.api.helpers import unique, workflow_histories
from tests.conftest import Users

API = "/api/v1/lighthouses"


@pytest.fixture(scope="module")
def storage_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StorageClusterDouble]:
    with StorageClusterDouble(tmp_path_factory.mktemp("storage-cluster")) as cluster:
        yield cluster


@pytest.fixture(scope="module")
def stranger() -> CertificateAuthority:
    """A CA the storage cluster does not know."""
    return CertificateAuthority("some other CA")


def _token_body(cluster: StorageClusterDouble, **fields: Any) -> dict[str, Any]:
    return {
        "name": unique("px"),
        "endpoint": cluster.endpoint,
        "security": "token",
        "token": cluster.token,
        "ca_certificate": cluster.ca_certificate,
        **fields,
    }


def _tls_body(cluster: StorageClusterDouble, **fields: Any) -> dict[str, Any]:
    return {
        "name": unique("px"),
        "endpoint": cluster.endpoint,
        "security": "tls",
        "certificate": cluster.client.certificate,
        "key": cluster.client.key,
        "ca_certificate": cluster.ca_certificate,
        **fields,
    }


def _secrets(cluster: StorageClusterDouble) -> list[str]:
    """What must never be shown: the token, and a line of the client key (JSON escapes the
    newlines of a whole key)."""
    return [cluster.token, cluster.client.key.splitlines()[1]]


def _shown(response: httpx.Response, cluster: StorageClusterDouble, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    for secret in _secrets(cluster):
        assert secret not in response.text
    body: dict[str, Any] = response.json()
    return body


def test_token_lighthouse_is_online_with_its_version(
    as_user: Users, storage_cluster: StorageClusterDouble
) -> None:
    api = as_user("infraadmin")
    lighthouse = _shown(api.post(API, json=_token_body(storage_cluster)), storage_cluster, 201)
    assert lighthouse["status"] == "Online", lighthouse
    assert lighthouse["version"] == storage_cluster.version
    assert storage_cluster.cluster_name in lighthouse["status_reason"]
    assert storage_cluster.cluster_id in lighthouse["status_reason"]
    assert lighthouse["security"] == "token"
    assert lighthouse["endpoint"] == storage_cluster.endpoint
    assert lighthouse["has_ca_certificate"] is True
    assert lighthouse["last_checked_at"]
    assert not {"token", "certificate", "key", "credentials"} & lighthouse.keys()
    assert storage_cluster.seen[-1].auth == "token"

    shown = _shown(api.get(f"{API}/{lighthouse['uid']}"), storage_cluster, 200)
    assert shown == lighthouse
    listed = _shown(api.get(API), storage_cluster, 200)["items"]
    assert lighthouse["uid"] in {item["uid"] for item in listed}


def test_tls_lighthouse_is_online(
    as_user: Users, storage_cluster: StorageClusterDouble, stranger: CertificateAuthority
) -> None:
    api = as_user("infraadmin")
    lighthouse = _shown(api.post(API, json=_tls_body(storage_cluster)), storage_cluster, 201)
    assert lighthouse["status"] == "Online", lighthouse
    assert lighthouse["security"] == "tls"
    assert lighthouse["version"] == storage_cluster.version
    assert storage_cluster.seen[-1].auth == "certificate"

    # A client certificate from a CA the storage cluster does not trust is refused.
    foreign = stranger.issue("intruder")
    body = _tls_body(storage_cluster, certificate=foreign.certificate, key=foreign.key)
    refused = _shown(api.post(API, json=body), storage_cluster, 201)
    assert refused["status"] == "Failed"
    assert "authentication failed" in refused["status_reason"]
    assert "client certificate" in refused["status_reason"]


def test_wrong_token_fails_then_new_credentials_and_checks_tell_the_truth(
    as_user: Users, storage_cluster: StorageClusterDouble
) -> None:
    api = as_user("infraadmin")
    body = _token_body(storage_cluster, token="not-the-token")
    lighthouse = _shown(api.post(API, json=body), storage_cluster, 201)
    assert lighthouse["status"] == "Failed"
    assert "authentication failed" in lighthouse["status_reason"]
    assert "token" in lighthouse["status_reason"]
    assert "not-the-token" not in lighthouse["status_reason"]
    assert lighthouse["version"] == ""
    uid = lighthouse["uid"]

    replace = {
        "security": "token",
        "token": storage_cluster.token,
        "ca_certificate": storage_cluster.ca_certificate,
    }
    fixed = _shown(api.put(f"{API}/{uid}/credentials", json=replace), storage_cluster, 200)
    assert fixed["status"] == "Online", fixed
    assert fixed["version"] == storage_cluster.version

    storage_cluster.cluster_status = "STATUS_NOT_IN_QUORUM"
    try:
        degraded = _shown(api.post(f"{API}/{uid}/check"), storage_cluster, 200)
    finally:
        storage_cluster.cluster_status = "STATUS_OK"
    assert degraded["status"] == "Offline"
    assert "STATUS_NOT_IN_QUORUM" in degraded["status_reason"]
    assert degraded["version"] == storage_cluster.version
    assert degraded["last_checked_at"] > fixed["last_checked_at"]

    again = _shown(api.post(f"{API}/{uid}/check"), storage_cluster, 200)
    assert again["status"] == "Online"


def test_unreachable_endpoint_is_offline_naming_it(
    as_user: Users, storage_cluster: StorageClusterDouble
) -> None:
    endpoint = f"https://127.0.0.1:{free_port()}"
    body = _token_body(storage_cluster, endpoint=endpoint)
    lighthouse = _shown(as_user("infraadmin").post(API, json=body), storage_cluster, 201)
    assert lighthouse["status"] == "Offline"
    assert f"cannot reach {endpoint}" in lighthouse["status_reason"]


def test_ca_mismatch_fails_tls_verification(
    as_user: Users, storage_cluster: StorageClusterDouble, stranger: CertificateAuthority
) -> None:
    body = _token_body(storage_cluster, ca_certificate=stranger.certificate)
    lighthouse = _shown(as_user("infraadmin").post(API, json=body), storage_cluster, 201)
    assert lighthouse["status"] == "Failed"
    assert "TLS verification" in lighthouse["status_reason"]
    assert "ca_certificate" in lighthouse["status_reason"]


def _encrypted(key: str) -> str:
    loaded = serialization.load_pem_private_key(key.encode(), password=None)
    return loaded.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"passphrase"),
    ).decode()


BAD_PEM = "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n"
Change = Callable[[StorageClusterDouble, CertificateAuthority], dict[str, Any]]
BAD_INPUT: list[tuple[str, Change, str]] = [
    ("http", lambda c, s: _token_body(c, endpoint="http://127.0.0.1:9021"), "endpoint"),
    ("no host", lambda c, s: _token_body(c, endpoint="https://:9021"), "endpoint"),
    ("bad port", lambda c, s: _token_body(c, endpoint="https://px.example.com:99999"), "endpoint"),
    ("a path", lambda c, s: _token_body(c, endpoint=f"{c.endpoint}/v1"), "endpoint"),
    ("unknown security", lambda c, s: _token_body(c, security="basic"), "security"),
    ("empty token", lambda c, s: _token_body(c, token="  "), "token"),
    ("two-word token", lambda c, s: _token_body(c, token=f"bearer {c.token}"), "token"),
    ("token and key", lambda c, s: _token_body(c, key=c.client.key), "key"),
    ("tls and token", lambda c, s: _tls_body(c, token=c.token), "token"),
    ("tls without key", lambda c, s: _tls_body(c, key=None), "key"),
    ("tls without certificate", lambda c, s: _tls_body(c, certificate=""), "certificate"),
    ("not a certificate", lambda c, s: _tls_body(c, certificate="hello"), "certificate"),
    ("not a key", lambda c, s: _tls_body(c, key=c.client.certificate), "key"),
    ("encrypted key", lambda c, s: _tls_body(c, key=_encrypted(c.client.key)), "key"),
    ("another key", lambda c, s: _tls_body(c, key=s.issue("other").key), "key"),
    ("bad CA", lambda c, s: _token_body(c, ca_certificate=BAD_PEM), "ca_certificate"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("change", "field"), [c[1:] for c in BAD_INPUT], ids=[c[0] for c in BAD_INPUT]
)
def test_bad_input_is_refused_naming_the_field_and_nothing_is_stored(
    as_user: Users,
    storage_cluster: StorageClusterDouble,
    stranger: CertificateAuthority,
    change: Change,
    field: str,
) -> None:
    api = as_user("appadmin")
    before = api.get(API).json()["count"]
    response = api.post(API, json=change(storage_cluster, stranger))
    error = _shown(response, storage_cluster, 422)["error"]
    assert error["field"] == field, error
    assert field in error["message"]
    assert api.get(API).json()["count"] == before


def test_credentials_never_enter_a_workflow_history(
    as_user: Users, stack: Stack, storage_cluster: StorageClusterDouble
) -> None:
    api = as_user("infraadmin")
    token = _shown(api.post(API, json=_token_body(storage_cluster)), storage_cluster, 201)
    tls = _shown(api.post(API, json=_tls_body(storage_cluster)), storage_cluster, 201)
    recorded = workflow_histories(
        stack.temporal_address, 'WorkflowType = "LighthouseCheckWorkflow"', mentioning=tls["uid"]
    )
    assert any(token["uid"] in history for history in recorded)
    for secret in _secrets(storage_cluster):
        assert not [history for history in recorded if secret in history]


def test_only_the_owner_and_those_it_shares_with_see_a_lighthouse(
    as_user: Users, storage_cluster: StorageClusterDouble
) -> None:
    owner, appuser, appadmin = as_user("infraadmin"), as_user("appuser"), as_user("appadmin")
    lighthouse = _shown(owner.post(API, json=_token_body(storage_cluster)), storage_cluster, 201)
    path = f"{API}/{lighthouse['uid']}"
    assert appuser.get(path).status_code == 404
    assert lighthouse["uid"] not in {item["uid"] for item in appuser.get(API).json()["items"]}
    assert appuser.delete(path).status_code == 404

    share = {
        "object_kind": "lighthouses",
        "object_uid": lighthouse["uid"],
        "subject_kind": "group",
        "subject": "team-search",  # appuser's team
        "access": "view",
    }
    assert owner.post("/api/v1/shares", json=share).status_code == 201, share
    seen = _shown(appuser.get(path), storage_cluster, 200)
    assert seen["owner_id"] == lighthouse["owner_id"]
    assert lighthouse["uid"] in {item["uid"] for item in appuser.get(API).json()["items"]}
    replace = {"security": "token", "token": "mine-now"}
    assert appuser.put(f"{path}/credentials", json=replace).status_code == 403
    assert appuser.delete(path).status_code == 403
    # A check acts with the owner's credentials: full access; replacing them: the owner's.
    assert appuser.post(f"{path}/check").status_code == 403
    assert owner.post("/api/v1/shares", json={**share, "access": "full"}).status_code == 201
    assert _shown(appuser.post(f"{path}/check"), storage_cluster, 200)["status"] == "Online"
    refused = appuser.put(f"{path}/credentials", json=replace)
    assert refused.status_code == 403 and "owner access" in refused.json()["error"]["message"]
    assert appuser.delete(path).status_code == 403
    assert appadmin.get(path).status_code == 404  # not in the group it was shared with

    assert as_user("superadmin").get(path).status_code == 200
    assert owner.delete(path).status_code == 204
    assert owner.get(path).status_code == 404
    assert appuser.get(path).status_code == 404
