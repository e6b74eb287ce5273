"""Activities that reach backup locations (S3 buckets) with their S3 keys: a cloud account's
(classic mode) or the location's own (federated mode, which has no cloud accounts)."""

from __future__ import annotations

import asyncio
import io
import json
import uuid
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import urllib3
from minio import Minio
from minio.error import InvalidResponseError, S3Error, ServerError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from lifeboat import metrics
from lifeboat.catalog.models import BackupLocation, CloudAccount, LocationCredentials
from lifeboat.secrets import SecretBox, SecretDecryptError
from workflows.contracts import LocationCheckInput, LocationCheckResult

# Providers whose credentials are an S3 access key pair (see the cloud accounts API).
S3_KEY_PROVIDERS = frozenset({"aws", "s3-compatible"})
CHECK_DIRECTORY = ".lifeboat-check"
# Error codes an S3 server answers when it refuses the credentials themselves.
REFUSED_CREDENTIALS = frozenset(
    {"InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken", "ExpiredToken"}
)
WRONG_REGION = frozenset(
    {"AuthorizationHeaderMalformed", "PermanentRedirect", "IllegalLocationConstraintException"}
)


@dataclass
class OpenLocation:
    """A backup location ready for use: a client, where to write, and the location's key."""

    client: Minio
    bucket: str
    prefix: str
    key: bytes = field(repr=False)
    # What a data mover outside this process (a Job) needs to reach the bucket itself.
    endpoint: str = ""
    region: str = ""
    access_key: str = ""
    secret_key: str = field(default="", repr=False)


class LocationUnavailable(Exception):
    """The location, its account or its keys cannot be used; the message says why."""


@dataclass(frozen=True)
class S3KeyPair:
    """An S3 access key pair, decrypted: for this process only."""

    access_key_id: str
    secret_access_key: str = field(repr=False)


class KeysUnusable(Exception):
    """A location's S3 keys cannot be used: `field` names what the user should correct."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field = field
        self.reason = reason


async def s3_keys(
    session: AsyncSession,
    secrets: SecretBox,
    *,
    cloud_account_uid: str | None,
    credentials_uid: str | None,
) -> S3KeyPair:
    """The S3 keys a location is reached with, its own or its cloud account's, decrypted here
    (inside an activity) and never passed on through history."""
    if credentials_uid:
        own = await session.get(LocationCredentials, credentials_uid)
        if own is None:
            raise KeysUnusable(
                "credentials", "the location's credentials are gone: enter them again"
            )
        ciphertext, field, whose = own.credentials_ciphertext, "credentials", "the location's"
    elif cloud_account_uid:
        account = await session.get(CloudAccount, cloud_account_uid)
        if account is None:
            raise KeysUnusable("cloud_account_uid", f"cloud account {cloud_account_uid} is gone")
        if account.provider not in S3_KEY_PROVIDERS:
            raise KeysUnusable(
                "cloud_account_uid",
                f"cloud account {account.name} is an {account.provider} account; an S3 "
                "location needs an aws or s3-compatible account",
            )
        ciphertext, field = account.credentials_ciphertext, "cloud_account_uid"
        whose = f"cloud account {account.name}'s"
    else:
        raise KeysUnusable(
            "credentials", "the location has neither a cloud account nor credentials of its own"
        )
    try:
        credentials = json.loads(secrets.decrypt(ciphertext))
        return S3KeyPair(credentials["access_key_id"], credentials["secret_access_key"])
    except (SecretDecryptError, ValueError, KeyError, TypeError):
        raise KeysUnusable(field, f"{whose} credentials cannot be read: enter them again") from None


async def open_location(
    sessions: async_sessionmaker[AsyncSession], secrets: SecretBox, location_uid: str
) -> OpenLocation:
    """Decrypt a location's credentials and key here, inside an activity, never in history."""
    async with sessions() as session:
        location = await session.get(BackupLocation, location_uid)
        if location is None or location.encryption_key_ciphertext is None:
            raise LocationUnavailable(f"backup location {location_uid} is gone")
        try:
            keys = await s3_keys(
                session,
                secrets,
                cloud_account_uid=location.cloud_account_uid,
                credentials_uid=location.credentials_uid,
            )
        except KeysUnusable as exc:
            raise LocationUnavailable(f"backup location {location.name}: {exc.reason}") from exc
    try:
        key = secrets.decrypt(location.encryption_key_ciphertext).encode()
    except SecretDecryptError as exc:
        raise LocationUnavailable(f"the keys of location {location.name} cannot be read") from exc
    endpoint = urlsplit(location.endpoint)
    client = Minio(
        endpoint.netloc,
        access_key=keys.access_key_id,
        secret_key=keys.secret_access_key,
        secure=endpoint.scheme == "https",
        region=location.region or None,
        http_client=urllib3.PoolManager(
            maxsize=16, timeout=urllib3.Timeout(connect=5, read=60), retries=urllib3.Retry(total=3)
        ),
    )
    return OpenLocation(
        client=client,
        bucket=location.bucket,
        prefix=location.prefix,
        key=key,
        endpoint=location.endpoint,
        region=location.region or "",
        access_key=keys.access_key_id,
        secret_key=keys.secret_access_key,
    )


def _refused(field: str, reason: str) -> LocationCheckResult:
    return LocationCheckResult(ok=False, reason=reason, field=field)


def _http_client() -> urllib3.PoolManager:
    # Short timeouts and one retry: a user waits for this answer.
    return urllib3.PoolManager(
        timeout=urllib3.Timeout(connect=3, read=10), retries=urllib3.Retry(total=1)
    )


def check_object_key(prefix: str) -> str:
    """A fresh key under `<prefix>/.lifeboat-check/`, so checks never touch backup data."""
    return "/".join(p for p in (prefix.strip("/"), CHECK_DIRECTORY, str(uuid.uuid4())) if p)


def _missing_bucket(input: LocationCheckInput) -> LocationCheckResult:
    return _refused(
        "bucket",
        f"bucket {input.bucket!r} does not exist at {input.endpoint}: create it first "
        "or correct the name",
    )


def _whose_keys(input: LocationCheckInput) -> tuple[str, str]:
    """The field to correct when the keys are refused, and whose keys they are."""
    if input.credentials_uid:
        return "credentials", "the location's"
    return "cloud_account_uid", "the cloud account's"


def _s3_error(error: S3Error, input: LocationCheckInput) -> LocationCheckResult:
    code = error.code or "error"
    if code == "NoSuchBucket":
        return _missing_bucket(input)
    field, whose = _whose_keys(input)
    if code in REFUSED_CREDENTIALS:
        return _refused(
            field,
            f"{input.endpoint} refused {whose} credentials ({code}): check the access key id "
            "and secret access key",
        )
    if code == "AccessDenied":
        return _refused(
            field,
            f"{input.endpoint} denied access to bucket {input.bucket!r} with {whose} "
            "credentials (AccessDenied): check the keys, and that they may read and write "
            "the bucket",
        )
    if code in WRONG_REGION:
        return _refused(
            "region",
            f"bucket {input.bucket!r} is not in region {input.region or 'us-east-1'!r} "
            f"({code}): set the bucket's region",
        )
    return _refused(
        "endpoint", f"{input.endpoint} refused the check ({code}: {error.message}): fix and retry"
    )


def probe_bucket(
    input: LocationCheckInput, access_key_id: str, secret_access_key: str
) -> LocationCheckResult:
    """Whether the bucket exists and takes writes: put, then remove, a small object."""
    endpoint = urlsplit(input.endpoint)
    http = _http_client()
    client = Minio(
        endpoint.netloc,
        access_key=access_key_id,
        secret_key=secret_access_key,
        secure=endpoint.scheme == "https",
        region=input.region or None,
        http_client=http,
    )
    key = check_object_key(input.prefix)
    try:
        if not client.bucket_exists(input.bucket):
            return _missing_bucket(input)
        client.put_object(input.bucket, key, io.BytesIO(b"lifeboat"), length=8)
        client.remove_object(input.bucket, key)
    except S3Error as exc:
        return _s3_error(exc, input)
    except ValueError as exc:  # a bucket name the client refuses
        return _refused("bucket", f"bucket {input.bucket!r}: {exc}")
    except (InvalidResponseError, ServerError) as exc:
        return _refused(
            "endpoint",
            f"{input.endpoint} does not answer like an S3 server ({exc}): check the endpoint",
        )
    except urllib3.exceptions.MaxRetryError as exc:
        return _refused("endpoint", f"cannot reach {input.endpoint}: {exc.reason}")
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        return _refused("endpoint", f"cannot reach {input.endpoint}: {exc}")
    finally:
        http.clear()
    return LocationCheckResult(ok=True)


class LocationActivities:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], secrets: SecretBox) -> None:
        self._sessions = sessions
        self._secrets = secrets

    @activity.defn
    async def check_location(self, input: LocationCheckInput) -> LocationCheckResult:
        """Reach the bucket with the location's keys; say what to fix when it fails."""
        try:
            async with self._sessions() as session:
                keys = await s3_keys(
                    session,
                    self._secrets,
                    cloud_account_uid=input.cloud_account_uid,
                    credentials_uid=input.credentials_uid,
                )
        except KeysUnusable as exc:
            return _refused(exc.field, exc.reason)
        result = await asyncio.to_thread(
            probe_bucket, input, keys.access_key_id, keys.secret_access_key
        )
        metrics.location_checked(input.endpoint, input.bucket, ok=result.ok)
        return result
