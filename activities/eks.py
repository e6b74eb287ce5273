"""Activities that ask the AWS API about a cloud account's EKS clusters."""

from __future__ import annotations

import asyncio

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from lifeboat.catalog.models import CloudAccount
from lifeboat.credentials import AccessKeys, CredentialsUnreadable, read_keys
from lifeboat.eks import AWS_PROVIDER
from lifeboat.secrets import SecretBox
from workflows.contracts import EksCluster, EksClustersInput, EksClustersResult

# Error codes AWS answers when it refuses the keys themselves, or what they may do.
REFUSED_CREDENTIALS = frozenset(
    {
        "UnrecognizedClientException",
        "InvalidSignatureException",
        "InvalidClientTokenId",
        "SignatureDoesNotMatch",
        "IncompleteSignature",
        "ExpiredTokenException",
    }
)
DENIED = frozenset({"AccessDeniedException", "AccessDenied", "UnauthorizedOperation"})
# A user waits for the answer: short timeouts, one retry.
CLIENT_CONFIG = Config(
    connect_timeout=5, read_timeout=15, retries={"max_attempts": 2, "mode": "standard"}
)


def _refused(field: str, reason: str) -> EksClustersResult:
    return EksClustersResult(reason=reason, field=field)


def _cluster(described: dict[str, object], with_ca: bool) -> EksCluster:
    authority = described.get("certificateAuthority")
    return EksCluster(
        name=str(described["name"]),
        arn=str(described["arn"]),
        endpoint=str(described.get("endpoint") or "").rstrip("/"),
        version=str(described.get("version") or ""),
        status=str(described.get("status") or ""),
        certificate_authority=(
            str(authority.get("data") or "") if with_ca and isinstance(authority, dict) else ""
        ),
    )


def describe_clusters(
    input: EksClustersInput, keys: AccessKeys, endpoint_url: str = ""
) -> EksClustersResult:
    """Describe the named EKS clusters of the region, or every one it lists."""
    eks = boto3.Session(
        aws_access_key_id=keys.access_key_id, aws_secret_access_key=keys.secret_access_key
    ).client(
        "eks", region_name=input.region, endpoint_url=endpoint_url or None, config=CLIENT_CONFIG
    )
    where = f"region {input.region}"
    found: list[EksCluster] = []
    missing: list[str] = []
    try:
        names = input.names or [
            name
            for page in eks.get_paginator("list_clusters").paginate()
            for name in page["clusters"]
        ]
        for name in names:
            try:
                described = eks.describe_cluster(name=name)["cluster"]
            except eks.exceptions.ResourceNotFoundException:
                missing.append(name)
                continue
            # Only onboarding needs the CA: listings stay small in workflow history.
            found.append(_cluster(described, with_ca=bool(input.names)))
    except ClientError as exc:
        error = exc.response.get("Error", {})
        code, message = error.get("Code", "error"), error.get("Message", "")
        if code in REFUSED_CREDENTIALS:
            return _refused(
                "cloud_account_uid",
                f"AWS refused the cloud account's keys ({code}): check its access key id and "
                "secret access key",
            )
        if code in DENIED:
            return _refused(
                "cloud_account_uid",
                f"AWS denied the cloud account's keys access to EKS in {where} ({code}): allow "
                "them eks:ListClusters and eks:DescribeCluster",
            )
        return _refused("region", f"the EKS API in {where} refused the request ({code}: {message})")
    except BotoCoreError as exc:  # unreachable endpoint, timeouts
        return _refused("region", f"cannot reach the EKS API in {where} ({exc}): check the region")
    return EksClustersResult(clusters=found, missing=missing)


class EksActivities:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        secrets: SecretBox,
        endpoint_url: str = "",
    ) -> None:
        self._sessions = sessions
        self._secrets = secrets
        self._endpoint_url = endpoint_url

    @activity.defn
    async def describe_eks_clusters(self, input: EksClustersInput) -> EksClustersResult:
        """Describe an AWS cloud account's EKS clusters in a region with the account's keys,
        fetched here and never passed through history; say what to fix when AWS refuses."""
        async with self._sessions() as session:
            account = await session.get(CloudAccount, input.cloud_account_uid)
        if account is None:
            return _refused("cloud_account_uid", f"cloud account {input.cloud_account_uid} is gone")
        if account.provider != AWS_PROVIDER:
            return _refused(
                "cloud_account_uid",
                f"cloud account {account.name} is an {account.provider} account; EKS clusters "
                f"need an {AWS_PROVIDER} account",
            )
        try:
            keys = read_keys(self._secrets, account.credentials_ciphertext, AccessKeys)
        except CredentialsUnreadable:
            return _refused(
                "cloud_account_uid",
                f"the credentials of cloud account {account.name} cannot be read: enter them again",
            )
        return await asyncio.to_thread(describe_clusters, input, keys, self._endpoint_url)
