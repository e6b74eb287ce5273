"""EKS clusters onboarded from an AWS cloud account: their bearer tokens and kubeconfigs.

An EKS API server accepts as bearer token a presigned STS GetCallerIdentity URL (the scheme of
aws-iam-authenticator and `aws eks get-token`): it calls STS with the URL to learn who the
caller is. The URL signs the `x-k8s-aws-id` header with the cluster name, so a token for one
cluster is no use for another. Signing is local; minting a token needs no network.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3

from lifeboat.kubeconfig import summarize
from lifeboat.secrets import SecretBox

# The cloud account provider EKS clusters are listed with, and the clusters' provider.
AWS_PROVIDER = "aws"
EKS_PROVIDER = "eks"
TOKEN_PREFIX = "k8s-aws-v1."
CLUSTER_ID_HEADER = "x-k8s-aws-id"
# The longest presigned URL the EKS authenticator accepts.
TOKEN_LIFETIME = timedelta(minutes=15)
# `us-east-1`, `eu-central-2`, `us-gov-west-1`, `ap-southeast-4`, ...
REGION_PATTERN = r"^[a-z]{2}(-[a-z]+)+-[0-9]{1,2}$"
CLUSTER_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$"
_CLUSTER_ARN = re.compile(
    r"^arn:[a-z-]+:eks:(?P<region>[a-z0-9-]+):[0-9]{12}:cluster/(?P<name>.+)$"
)


@dataclass(frozen=True)
class AwsKeys:
    """An AWS account's access key pair."""

    access_key_id: str
    secret_access_key: str = field(repr=False)


@dataclass(frozen=True)
class EksToken:
    token: str = field(repr=False)
    expires_at: datetime


def aws_keys(secrets: SecretBox, credentials_ciphertext: bytes) -> AwsKeys:
    """A cloud account's key pair from its encrypted credentials (see the cloud accounts API).

    Raises `SecretDecryptError`, or `ValueError` when they are not an access key pair.
    """
    credentials = json.loads(secrets.decrypt(credentials_ciphertext))
    if not isinstance(credentials, dict):
        raise ValueError("the credentials are not an access key pair")
    try:
        return AwsKeys(credentials["access_key_id"], credentials["secret_access_key"])
    except KeyError as exc:
        raise ValueError(f"the credentials lack {exc}") from None


def cluster_region_and_name(arn: str) -> tuple[str, str]:
    """The region and name an EKS cluster ARN names; ValueError for any other ARN."""
    match = _CLUSTER_ARN.match(arn)
    if match is None:
        raise ValueError(f"{arn!r} is not an EKS cluster ARN")
    return match["region"], match["name"]


def mint_token(*, cluster_name: str, region: str, keys: AwsKeys) -> EksToken:
    """A bearer token for the EKS cluster, valid for `TOKEN_LIFETIME`."""
    # Signing times are whole seconds: taken before signing, the recorded expiry is never late.
    issued = datetime.now(UTC).replace(microsecond=0)
    sts = boto3.Session(
        aws_access_key_id=keys.access_key_id,
        aws_secret_access_key=keys.secret_access_key,
        region_name=region,
    ).client("sts")

    def sign_cluster_name(request: Any, **_: Any) -> None:
        request.headers[CLUSTER_ID_HEADER] = cluster_name

    sts.meta.events.register("before-sign.sts.GetCallerIdentity", sign_cluster_name)
    url: str = sts.generate_presigned_url(
        "get_caller_identity",
        Params={},
        ExpiresIn=int(TOKEN_LIFETIME.total_seconds()),
        HttpMethod="GET",
    )
    encoded = base64.urlsafe_b64encode(url.encode()).decode().rstrip("=")
    return EksToken(token=TOKEN_PREFIX + encoded, expires_at=issued + TOKEN_LIFETIME)


def kubeconfig(
    *, cluster_name: str, endpoint: str, certificate_authority: str, token: str
) -> dict[str, Any]:
    """A self-contained kubeconfig for an EKS cluster: its CA and a bearer token."""
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": cluster_name,
        "clusters": [
            {
                "name": cluster_name,
                "cluster": {
                    "server": endpoint,
                    "certificate-authority-data": certificate_authority,
                },
            }
        ],
        "users": [{"name": cluster_name, "user": {"token": token}}],
        "contexts": [
            {"name": cluster_name, "context": {"cluster": cluster_name, "user": cluster_name}}
        ],
    }


def current_token(config: dict[str, Any]) -> str:
    """The bearer token of a validated kubeconfig's current user ("" when it has none)."""
    user = summarize(config).user
    for entry in config["users"]:
        if entry.get("name") == user:
            return str(entry["user"].get("token") or "")
    return ""


def with_token(config: dict[str, Any], token: str) -> dict[str, Any]:
    """A validated kubeconfig with its current user's token replaced (the input stays as is)."""
    user = summarize(config).user
    users = [
        {**entry, "user": {**entry["user"], "token": token}} if entry.get("name") == user else entry
        for entry in config["users"]
    ]
    return {**config, "users": users}


def refreshed(config: dict[str, Any], cluster_arn: str, keys: AwsKeys) -> dict[str, Any]:
    """The EKS cluster's kubeconfig with a freshly minted token."""
    region, name = cluster_region_and_name(cluster_arn)
    return with_token(config, mint_token(cluster_name=name, region=region, keys=keys).token)
