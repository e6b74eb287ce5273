"""EKS clusters of an AWS cloud account: listed and onboarded through the API.

The worker asks a real AWS API server, moto's server mode on 127.0.0.1 (started with the test
stack; `LIFEBOAT_AWS_ENDPOINT_URL` points the worker at it), not a patched boto3. The clusters
moto describes have no Kubernetes API server behind their endpoints.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import os
import subprocess
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

import boto3
import httpx
import pytest
import yaml

from activities.kube import api_client, cluster_kubeconfig
from deploy.local.servers.oidc import OidcProvider, password_token
from deploy.local.stack import Stack
from lifeboat.catalog.models import Cluster
from lifeboat.catalog.session import create_engine, create_sessionmaker
from lifeboat.secrets import SecretBox
from tests.api.helpers import unique, wait_for_sync
from tests.api.test_modes import federated_api  # noqa: F401 (a fixture)
from tests.conftest import Users

REGION = "eu-central-1"


@pytest.fixture(scope="module")
def eks(stack: Stack) -> Any:
    """The local AWS API's EKS, as an AWS user would call it."""
    # The stack always starts it for the tests: a missing server is a failure, never a skip.
    assert stack.aws_endpoint, "the test stack runs no local AWS API server"
    return boto3.client(
        "eks",
        endpoint_url=stack.aws_endpoint,
        region_name=REGION,
        aws_access_key_id="AKIATESTSETUP",
        aws_secret_access_key="setup-secret",
    )


@pytest.fixture(scope="module")
def eks_clusters(eks: Any) -> list[dict[str, Any]]:
    """Two EKS clusters in the region, as DescribeCluster shows them."""
    # CreateCluster answers with the cluster as DescribeCluster shows it.
    return [
        eks.create_cluster(
            name=unique(name),
            version=version,
            roleArn="arn:aws:iam::123456789012:role/eks-cluster",
            resourcesVpcConfig={"subnetIds": ["subnet-1"]},
        )["cluster"]
        for name, version in (("shop", "1.29"), ("search", "1.30"))
    ]


def _keys() -> dict[str, str]:
    return {"access_key_id": f"AKIA{unique('k')[2:].upper()}", "secret_access_key": unique("s")}


def _account(api: httpx.Client, provider: str = "aws", **keys: str) -> dict[str, Any]:
    response = api.post(
        "/api/v1/cloud-accounts",
        json={"name": unique("aws"), "provider": provider, "credentials": keys or _keys()},
    )
    assert response.status_code == 201, response.text
    account: dict[str, Any] = response.json()
    return account


def _listed(api: httpx.Client, account_uid: str) -> dict[str, dict[str, Any]]:
    response = api.get(f"/api/v1/cloud-accounts/{account_uid}/eks-clusters?region={REGION}")
    assert response.status_code == 200, response.text
    return {c["name"]: c for c in response.json()["items"]}


def _onboard(api: httpx.Client, account_uid: str, *names: str) -> httpx.Response:
    return api.post(
        "/api/v1/clusters/eks",
        json={"cloud_account_uid": account_uid, "region": REGION, "names": list(names)},
    )


def _signature(secret: str, scope: list[str], string_to_sign: str) -> str:
    key = f"AWS4{secret}".encode()
    for part in scope:
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()


def presigned_url(token: str) -> str:
    """The URL inside an EKS token: `k8s-aws-v1.` + base64url without padding."""
    assert token.startswith("k8s-aws-v1.")
    encoded = token.removeprefix("k8s-aws-v1.")
    assert "=" not in encoded
    return base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()


def signs(url: str, secret: str, headers: dict[str, str]) -> bool:
    """Whether the presigned URL's SigV4 signature covers these header values (as STS checks
    it when the EKS authenticator forwards them)."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    params = dict(query)
    signed = params["X-Amz-SignedHeaders"].split(";")
    values = {"host": parts.netloc, **{k.lower(): v for k, v in headers.items()}}
    canonical_query = "&".join(
        f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}"
        for k, v in sorted(query)
        if k != "X-Amz-Signature"
    )
    canonical_request = "\n".join(
        [
            "GET",
            parts.path or "/",
            canonical_query,
            "".join(f"{h}:{values[h]}\n" for h in signed),
            ";".join(signed),
            hashlib.sha256(b"").hexdigest(),  # a GET carries no body
        ]
    )
    scope = params["X-Amz-Credential"].split("/")[1:]
    string_to_sign = "\n".join(
        [
            "AWS4-HMAC-SHA256",
            params["X-Amz-Date"],
            "/".join(scope),
            hashlib.sha256(canonical_request.encode()).hexdigest(),
        ]
    )
    return hmac.compare_digest(_signature(secret, scope, string_to_sign), params["X-Amz-Signature"])


def _signed_at(url: str) -> datetime:
    stamp = dict(parse_qsl(urlsplit(url).query))["X-Amz-Date"]
    return datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)


def _user(kubeconfig: dict[str, Any]) -> dict[str, Any]:
    user: dict[str, Any] = kubeconfig["users"][0]["user"]
    return user


def test_list_and_onboard_an_eks_cluster(
    as_user: Users, eks_clusters: list[dict[str, Any]]
) -> None:
    api = as_user("infraadmin")
    keys = _keys()
    account = _account(api, **keys)
    shop, search = eks_clusters
    listed = _listed(api, account["uid"])
    for described in eks_clusters:
        assert listed[described["name"]] == {
            "name": described["name"],
            "arn": described["arn"],
            "version": described["version"],
            "endpoint": described["endpoint"].rstrip("/"),
            "status": "ACTIVE",
            "onboarded": False,
            "cluster_uid": None,
        }

    response = _onboard(api, account["uid"], shop["name"])
    assert response.status_code == 201, response.text
    [cluster] = response.json()["items"]
    assert cluster["name"] == shop["name"]
    assert cluster["provider"] == "eks"
    assert cluster["external_id"] == shop["arn"]
    assert cluster["source_uid"] == account["uid"]
    assert cluster["server_url"] == shop["endpoint"].rstrip("/")
    mine = {c["uid"]: c for c in api.get("/api/v1/clusters").json()["items"]}
    assert mine[cluster["uid"]]["provider"] == "eks"
    assert mine[cluster["uid"]]["external_id"] == shop["arn"]
    listed = _listed(api, account["uid"])
    assert (
        listed[shop["name"]]["onboarded"] and listed[shop["name"]]["cluster_uid"] == cluster["uid"]
    )
    assert not listed[search["name"]]["onboarded"]

    # The stored kubeconfig: the cluster's CA, and a token for this cluster from these keys.
    stored = yaml.safe_load(
        api.get(f"/api/v1/clusters/{cluster['uid']}/kubeconfig").json()["kubeconfig"]
    )
    assert stored["clusters"][0]["cluster"] == {
        "server": shop["endpoint"].rstrip("/"),
        "certificate-authority-data": shop["certificateAuthority"]["data"],
    }
    url = presigned_url(_user(stored)["token"])
    parts, params = urlsplit(url), dict(parse_qsl(urlsplit(url).query))
    assert (parts.scheme, parts.netloc) == ("https", f"sts.{REGION}.amazonaws.com")
    assert params["Action"] == "GetCallerIdentity"
    assert params["X-Amz-Credential"].startswith(f"{keys['access_key_id']}/")
    assert params["X-Amz-Expires"] == "900"
    assert "x-k8s-aws-id" in params["X-Amz-SignedHeaders"].split(";")
    assert signs(url, keys["secret_access_key"], {"x-k8s-aws-id": shop["name"]})
    assert not signs(url, keys["secret_access_key"], {"x-k8s-aws-id": search["name"]})

    # moto's endpoint is a made-up host with no Kubernetes API server behind it, so the sync
    # (with a token the worker minted) can only find the cluster unreachable, and says where.
    synced = wait_for_sync(api, cluster["uid"])
    assert synced["status"] == "Offline"
    assert urlsplit(shop["endpoint"]).hostname in synced["status_reason"]

    # Onboarding it again is a conflict, and changes nothing.
    before = api.get("/api/v1/clusters").json()["count"]
    again = _onboard(api, account["uid"], shop["name"])
    assert again.status_code == 409, again.text
    assert again.json()["error"]["field"] == "names"
    assert shop["name"] in again.json()["error"]["message"]
    assert api.get("/api/v1/clusters").json()["count"] == before

    # The account cannot be deleted while a cluster onboarded with it remains.
    refused = api.delete(f"/api/v1/cloud-accounts/{account['uid']}")
    assert refused.status_code == 409, refused.text
    assert f"cluster(s) {shop['name']}" in refused.json()["error"]["message"]
    assert api.get(f"/api/v1/cloud-accounts/{account['uid']}").status_code == 200


async def test_worker_mints_a_fresh_token_from_the_accounts_current_keys(
    as_user: Users, stack: Stack, eks_clusters: list[dict[str, Any]]
) -> None:
    api = as_user("superadmin")
    account = _account(api)
    search = eks_clusters[1]
    response = _onboard(api, account["uid"], search["name"])
    assert response.status_code == 201, response.text
    uid = response.json()["items"][0]["uid"]
    stored = yaml.safe_load(api.get(f"/api/v1/clusters/{uid}/kubeconfig").json()["kubeconfig"])
    stored_at = _signed_at(presigned_url(_user(stored)["token"]))
    # The account's keys are rotated; the next connection uses the new ones.
    rotated = _keys()
    update = api.put(
        f"/api/v1/cloud-accounts/{account['uid']}",
        json={"name": account["name"], "credentials": rotated},
    )
    assert update.status_code == 200, update.text
    await asyncio.sleep(1.1)  # signing times have a resolution of one second

    engine = create_engine(stack.database_url)
    try:
        sessions = create_sessionmaker(engine)
        async with sessions() as session:
            row = await session.get(Cluster, uid)
        assert row is not None and row.credentials_expire_at is not None
        # Recorded when the stored token stops working (never later).
        expiry = stored_at + timedelta(minutes=15)
        assert timedelta(0) <= expiry - row.credentials_expire_at <= timedelta(seconds=1)
        config = await cluster_kubeconfig(sessions, SecretBox(stack.secret_key), uid)
    finally:
        await engine.dispose()
    assert config["clusters"] == stored["clusters"]
    # The worker's clients authenticate through a token plugin, as `aws eks get-token` does;
    # the keys reach it through its environment, never its arguments.
    plugin = _user(config)["exec"]
    assert rotated["secret_access_key"] not in json.dumps([plugin["command"], *plugin["args"]])
    # The Kubernetes client runs it and sends the token it prints.
    url = presigned_url(await asyncio.to_thread(_token_sent, config))
    params = dict(parse_qsl(urlsplit(url).query))
    assert stored_at < _signed_at(url)
    assert datetime.now(UTC) - _signed_at(url) < timedelta(minutes=1)
    assert params["X-Amz-Credential"].startswith(f"{rotated['access_key_id']}/")
    assert signs(url, rotated["secret_access_key"], {"x-k8s-aws-id": search["name"]})
    # The plugin says when its token expires, so the client runs it again before then: a
    # client that lives longer than a token keeps working.
    status = await asyncio.to_thread(_run_plugin, plugin)
    expires = datetime.strptime(status["expirationTimestamp"], "%Y-%m-%dT%H:%M:%SZ")
    signed = _signed_at(presigned_url(status["token"]))
    # Never after the token's real end (signed + 15 min), so the client renews in time; the
    # plugin takes its clock reading a moment before the signer, hence not exactly equal.
    expires_at = expires.replace(tzinfo=UTC)
    assert signed + timedelta(minutes=14) <= expires_at <= signed + timedelta(minutes=15)


def _token_sent(config: dict[str, Any]) -> str:
    """The bearer token a Kubernetes client made from `config` sends."""
    with api_client(config) as client:
        header: str = client.configuration.api_key["BearerToken"]
    return header.removeprefix("Bearer ")


def _run_plugin(plugin: dict[str, Any]) -> dict[str, Any]:
    """The status of the ExecCredential a kubeconfig's exec plugin prints."""
    env = os.environ | {item["name"]: item["value"] for item in plugin["env"]}
    printed = subprocess.run(
        [plugin["command"], *plugin["args"]], env=env, capture_output=True, text=True, check=True
    )
    status: dict[str, Any] = json.loads(printed.stdout)["status"]
    return status


def test_bad_input_is_refused_naming_the_field_and_nothing_is_stored(
    as_user: Users, eks_clusters: list[dict[str, Any]]
) -> None:
    api = as_user("infraadmin")
    account = _account(api)["uid"]
    s3_account = _account(as_user("infraadmin"), provider="s3-compatible")["uid"]
    # One infraadmin has not onboarded, so only the input can fail it (not a name conflict).
    search = eks_clusters[1]["name"]
    before = api.get("/api/v1/clusters").json()["count"]
    cases: list[tuple[str, dict[str, Any], str]] = [
        ("region", {"region": "Frankfurt"}, "AWS region"),
        ("names", {"names": []}, "at least 1"),
        ("names", {"names": ["no-such-cluster"]}, "no-such-cluster"),
        # All or none: a good name beside a missing one is not onboarded either.
        ("names", {"names": [search, "no-such-cluster"]}, "no-such-cluster"),
        ("names", {"names": [search, search]}, "more than once"),
        ("names", {"names": ["not a name!"]}, "not an EKS cluster name"),
        ("cloud_account_uid", {"cloud_account_uid": s3_account}, "s3-compatible"),
    ]
    for field, change, message in cases:
        body = {"cloud_account_uid": account, "region": REGION, "names": [search], **change}
        response = api.post("/api/v1/clusters/eks", json=body)
        assert response.status_code == 422, (change, response.text)
        error = response.json()["error"]
        assert error["field"].split(".")[0] == field, (change, error)
        assert message in error["message"], (change, error)
    assert api.get("/api/v1/clusters").json()["count"] == before

    bad_region = api.get(f"/api/v1/cloud-accounts/{account}/eks-clusters?region=EU")
    assert bad_region.status_code == 422 and bad_region.json()["error"]["field"] == "region"
    no_region = api.get(f"/api/v1/cloud-accounts/{account}/eks-clusters")
    assert no_region.status_code == 422 and no_region.json()["error"]["field"] == "region"
    not_aws = api.get(f"/api/v1/cloud-accounts/{s3_account}/eks-clusters?region={REGION}")
    assert not_aws.status_code == 422 and "s3-compatible" in not_aws.json()["error"]["message"]


def test_the_account_must_be_visible_to_the_caller(
    as_user: Users, eks_clusters: list[dict[str, Any]]
) -> None:
    owner, appuser = as_user("infraadmin"), as_user("appuser")
    account = _account(owner)["uid"]
    name = eks_clusters[0]["name"]
    listing = f"/api/v1/cloud-accounts/{account}/eks-clusters?region={REGION}"
    before = appuser.get("/api/v1/clusters").json()["count"]
    assert appuser.get(listing).status_code == 404
    refused = _onboard(appuser, account, name)
    assert refused.status_code == 404 and refused.json()["error"]["field"] == "cloud_account_uid"
    assert as_user("nobody").get(listing).status_code == 403
    assert appuser.get("/api/v1/clusters").json()["count"] == before

    # Shared for viewing, the account lists and onboards for the app user too.
    share = owner.post(
        "/api/v1/shares",
        json={
            "object_kind": "cloud-accounts",
            "object_uid": account,
            "subject_kind": "user",
            "subject": "appuser",
            "access": "view",
        },
    )
    assert share.status_code == 201, share.text
    assert name in _listed(appuser, account)
    onboarded = _onboard(appuser, account, name)
    assert onboarded.status_code == 201, onboarded.text
    assert onboarded.json()["items"][0]["owner_id"] == appuser.get("/api/v1/me").json()["subject"]


def test_federated_mode_has_no_eks_onboarding(
    as_user: Users,
    federated_api: str,  # noqa: F811 (the fixture imported above)
    provider: OidcProvider,
    eks_clusters: list[dict[str, Any]],
) -> None:
    account = _account(as_user("superadmin"))["uid"]
    token = password_token(provider, "superadmin")
    with httpx.Client(
        base_url=federated_api, headers={"Authorization": f"Bearer {token}"}, timeout=30
    ) as admin:
        listing = admin.get(f"/api/v1/cloud-accounts/{account}/eks-clusters?region={REGION}")
        assert listing.status_code == 404
        assert "federated mode" in listing.json()["error"]["message"]
        onboard = _onboard(admin, account, eks_clusters[0]["name"])
        assert onboard.status_code == 404
        assert "federated mode" in onboard.json()["error"]["message"]
