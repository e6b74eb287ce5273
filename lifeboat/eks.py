"""EKS clusters onboarded from an AWS cloud account: their bearer tokens and kubeconfigs.

An EKS API server accepts as bearer token a presigned STS GetCallerIdentity URL (the scheme of
aws-iam-authenticator and `aws eks get-token`): it calls STS with the URL to learn who the
caller is. The URL signs the `x-k8s-aws-id` header with the cluster name, so a token for one
cluster is no use for another. Signing is local; minting a token needs no network.

The worker connects to an onboarded cluster through an exec credential plugin, as a kubeconfig
of `aws eks get-token` does: `python -m lifeboat.eks <cluster ARN>` prints a fresh token, and
the Kubernetes client runs it again whenever the last token is about to expire, so a client
that lives for hours (a big export, a data mover Job's watch) keeps working.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3

from lifeboat.credentials import AccessKeys, CloudProvider
from lifeboat.kubeconfig import summarize

# The cloud account provider EKS clusters are listed with, and the clusters' provider.
AWS_PROVIDER = CloudProvider.AWS
EKS_PROVIDER = "eks"
TOKEN_PREFIX = "k8s-aws-v1."
CLUSTER_ID_HEADER = "x-k8s-aws-id"
EXEC_API_VERSION = "client.authentication.k8s.io/v1beta1"
# The longest presigned URL the EKS authenticator accepts.
TOKEN_LIFETIME = timedelta(minutes=15)
# `us-east-1`, `eu-central-2`, `us-gov-west-1`, `ap-southeast-4`, ...
REGION_PATTERN = r"^[a-z]{2}(-[a-z]+)+-[0-9]{1,2}$"
CLUSTER_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$"
_CLUSTER_ARN = re.compile(
    r"^arn:[a-z-]+:eks:(?P<region>[a-z0-9-]+):[0-9]{12}:cluster/(?P<name>.+)$"
)


@dataclass(frozen=True)
class EksToken:
    token: str = field(repr=False)
    expires_at: datetime


def cluster_region_and_name(arn: str) -> tuple[str, str]:
    """The region and name an EKS cluster ARN names; ValueError for any other ARN."""
    match = _CLUSTER_ARN.match(arn)
    if match is None:
        raise ValueError(f"{arn!r} is not an EKS cluster ARN")
    return match["region"], match["name"]


def mint_token(*, cluster_name: str, region: str, keys: AccessKeys) -> EksToken:
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


def with_token_plugin(config: dict[str, Any], cluster_arn: str, keys: AccessKeys) -> dict[str, Any]:
    """The EKS cluster's kubeconfig (the input stays as is) with its current user authenticated
    by the token plugin of this module, which mints from `keys`.

    The keys go in the plugin's environment, never in its arguments: arguments show in process
    lists. The kubeconfig lives in the worker's memory only, like the keys it was made from.
    """
    cluster_region_and_name(cluster_arn)  # a bad ARN fails here, not in every plugin run
    plugin = {
        "apiVersion": EXEC_API_VERSION,
        "command": sys.executable,
        "args": ["-m", "lifeboat.eks", cluster_arn],
        "env": [
            {"name": "AWS_ACCESS_KEY_ID", "value": keys.access_key_id},
            {"name": "AWS_SECRET_ACCESS_KEY", "value": keys.secret_access_key},
        ],
        "interactiveMode": "Never",
    }
    user = summarize(config).user
    users = [
        {**entry, "user": {"exec": plugin}} if entry.get("name") == user else entry
        for entry in config["users"]
    ]
    return {**config, "users": users}


def main(argv: list[str] | None = None) -> int:
    """The token plugin: an ExecCredential with a fresh token for the cluster, on stdout."""
    parser = argparse.ArgumentParser(
        prog="python -m lifeboat.eks",
        description="Print a Kubernetes ExecCredential with a fresh EKS token. The keys come "
        "from $AWS_ACCESS_KEY_ID and $AWS_SECRET_ACCESS_KEY.",
    )
    parser.add_argument("cluster_arn", help="arn:aws:eks:<region>:<account>:cluster/<name>")
    args = parser.parse_args(argv)
    access_key_id = os.environ.get("AWS_ACCESS_KEY_ID", "")
    secret_access_key = os.environ.get("AWS_SECRET_ACCESS_KEY", "")
    if not access_key_id or not secret_access_key:
        print("error: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY", file=sys.stderr)
        return 2
    try:
        region, name = cluster_region_and_name(args.cluster_arn)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    token = mint_token(
        cluster_name=name, region=region, keys=AccessKeys(access_key_id, secret_access_key)
    )
    credential = {
        "apiVersion": EXEC_API_VERSION,
        "kind": "ExecCredential",
        "status": {
            "token": token.token,
            "expirationTimestamp": token.expires_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        },
    }
    print(json.dumps(credential))
    return 0


if __name__ == "__main__":
    sys.exit(main())
