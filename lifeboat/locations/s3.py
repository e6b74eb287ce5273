"""S3 backup locations (AWS S3, MinIO, Ceph RGW, SeaweedFS...): the only module that imports
the S3 client (minio)."""

from __future__ import annotations

import contextlib
import io
import os
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta
from typing import Any, Literal
from urllib.parse import urlsplit

import urllib3
from minio import Minio
from minio.deleteobjects import DeleteObject
from minio.error import InvalidResponseError, MinioException, S3Error, ServerError
from minio.retention import Retention

from lifeboat.credentials import AccessKeys
from lifeboat.locations.backend import (
    TRANSFER,
    Capabilities,
    LocationError,
    LocationRefused,
    ObjectLock,
    Timeouts,
)

# Reads and writes go through presigned URLs, valid this long after signing (used at once).
_PRESIGNED_FOR = timedelta(minutes=30)
MISSING_OBJECT = frozenset({"NoSuchKey", "NoSuchObject", "NotFound"})
# Error codes an S3 server answers when it refuses the credentials themselves.
REFUSED_CREDENTIALS = frozenset(
    {"InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken", "ExpiredToken"}
)
WRONG_REGION = frozenset(
    {"AuthorizationHeaderMalformed", "PermanentRedirect", "IllegalLocationConstraintException"}
)
# What a bucket without object lock, or a server without the API, answers.
NO_OBJECT_LOCK = frozenset({"ObjectLockConfigurationNotFoundError", "NotImplemented"})
# What an object without a retention answers when asked for it.
NO_RETENTION = frozenset(
    {"NoSuchObjectLockConfiguration", "InvalidRequest", *NO_OBJECT_LOCK, *MISSING_OBJECT}
)
# The answer to a conditional PUT (If-None-Match: *) when the key is taken.
PRECONDITION_FAILED = 412


def _pool(connections: int, timeouts: Timeouts) -> urllib3.PoolManager:
    return urllib3.PoolManager(
        maxsize=connections,
        block=False,
        timeout=urllib3.Timeout(connect=timeouts.connect, read=timeouts.read),
        # Every request Lifeboat sends is idempotent (content-addressed or write-once keys),
        # so retrying PUTs after a dropped connection or a 5xx is safe.
        retries=urllib3.Retry(
            total=timeouts.retries, backoff_factor=0.2, status_forcelist=(500, 502, 503, 504)
        ),
        # The CA bundle minio's own pool honours, when set; else the system's.
        ca_certs=os.environ.get("SSL_CERT_FILE") or None,
    )


def _s3_message(body: bytes) -> str:
    """`Code: Message` from an S3 error document, else the start of the body."""
    try:
        root = ElementTree.fromstring(body)
    except ElementTree.ParseError:
        return body[:200].decode(errors="replace")
    fields = {element.tag.rsplit("}", 1)[-1]: element.text or "" for element in root}
    return f"{fields.get('Code', '')}: {fields.get('Message', '')}"


class S3Backend:
    """A bucket on an S3 server at `endpoint` (`http[s]://host[:port]`).

    One client and one connection pool of `connections` serve every thread: minio is
    thread-safe, and a pool smaller than the number of threads would open and drop
    connections all the time.
    """

    def __init__(
        self,
        endpoint: str,
        bucket: str,
        keys: AccessKeys,
        *,
        region: str = "",
        connections: int = 32,
        timeouts: Timeouts = TRANSFER,
    ) -> None:
        url = urlsplit(endpoint)
        if url.scheme not in ("http", "https") or not url.netloc:
            raise ValueError(f"endpoint {endpoint!r} must look like http(s)://host[:port]")
        self.endpoint = endpoint
        self.region = region
        self._bucket = bucket
        self._http = _pool(connections, timeouts)
        self._client = Minio(
            url.netloc,
            access_key=keys.access_key_id,
            secret_key=keys.secret_access_key,
            secure=url.scheme == "https",
            region=region or None,
            http_client=self._http,
        )

    @property
    def bucket(self) -> str:
        return self._bucket

    @contextlib.contextmanager
    def _errors(self, action: str, key: str) -> Iterator[None]:
        try:
            yield
        except (MinioException, urllib3.exceptions.HTTPError, OSError) as error:
            raise LocationError(
                f"could not {action} {key!r} in bucket {self._bucket!r}: {error}"
            ) from error

    def put(self, key: str, data: bytes, *, lock: ObjectLock | None = None) -> int:
        """Through a presigned URL rather than `put_object`, which hashes every body (SHA-256
        over HTTP, MD5 over HTTPS) at more CPU than encrypting it takes; on a small machine
        the S3 server needs that CPU. What Lifeboat stores is authenticated by AES-GCM anyway.

        A locked object goes through `put_object`: its retention headers must be signed,
        which a presigned URL's are not.
        """
        if lock is not None:
            retention = Retention(lock.mode.upper(), lock.retain_until)
            with self._errors("upload", key):
                self._client.put_object(
                    self._bucket, key, io.BytesIO(data), len(data), retention=retention
                )
            return len(data)
        headers = {"Content-Type": "application/octet-stream"}
        self._presigned("PUT", key, "upload", body=data, headers=headers)
        return len(data)

    def create(self, key: str, data: bytes) -> bool:
        """A conditional PUT (`If-None-Match: *`): S3 refuses it with 412 when the key is taken."""
        with self._errors("upload", key):
            url = self.presign("PUT", key, _PRESIGNED_FOR)
            response = self._http.request("PUT", url, body=data, headers={"If-None-Match": "*"})
        if response.status == PRECONDITION_FAILED:
            return False
        if response.status != 200:
            raise LocationError(
                f"could not upload {key!r} in bucket {self._bucket!r}: HTTP {response.status} "
                f"{_s3_message(response.data)}"
            )
        return True

    def retained_until(self, key: str) -> datetime | None:
        try:
            retention = self._client.get_object_retention(self._bucket, key)
        except S3Error as error:
            if error.code in NO_RETENTION:
                return None
            raise LocationError(f"could not read the retention of {key!r}: {error}") from error
        except (MinioException, urllib3.exceptions.HTTPError, OSError) as error:
            raise LocationError(f"could not read the retention of {key!r}: {error}") from error
        return retention.retain_until_date if retention is not None else None

    def extend_lock(self, key: str, lock: ObjectLock) -> None:
        with self._errors("lock", key):
            self._client.set_object_retention(
                self._bucket, key, Retention(lock.mode.upper(), lock.retain_until)
            )

    def get(self, key: str, *, offset: int = 0, length: int = 0) -> bytes:
        """Through a presigned URL, as uploads: minio's own request path costs more CPU per
        request than a restore's many ranged reads can spare on a small machine."""
        headers = {}
        if offset or length:
            end = str(offset + length - 1) if length else ""
            headers["Range"] = f"bytes={offset}-{end}"
        data: bytes = self._presigned("GET", key, "download", headers=headers).data
        return data

    def _presigned(
        self, method: Literal["GET", "PUT"], key: str, action: str, **request: Any
    ) -> urllib3.BaseHTTPResponse:
        """One request through a presigned URL; a LocationError naming the key and what S3
        said unless it succeeded."""
        with self._errors(action, key):
            url = self.presign(method, key, _PRESIGNED_FOR)
            response = self._http.request(method, url, **request)
        if response.status not in (200, 206):
            raise LocationError(
                f"could not {action} {key!r} in bucket {self._bucket!r}: HTTP {response.status} "
                f"{_s3_message(response.data)}"
            )
        return response

    def presign(self, method: Literal["GET", "PUT"], key: str, expires: timedelta) -> str:
        return self._client.get_presigned_url(method, self._bucket, key, expires=expires)

    def list_objects(self, prefix: str) -> Iterator[tuple[str, int]]:
        with self._errors("list", prefix):
            for item in self._client.list_objects(self._bucket, prefix=prefix, recursive=True):
                if item.object_name is not None and not item.is_dir:
                    yield item.object_name, int(item.size or 0)

    def delete(self, keys: Iterable[str]) -> None:
        targets = [DeleteObject(key) for key in keys]
        with self._errors("delete", f"{len(targets)} objects"):
            for failure in self._client.remove_objects(self._bucket, targets):
                raise LocationError(f"could not delete {failure.name!r}: {failure.message}")

    def exists(self, key: str) -> bool:
        try:
            self._client.stat_object(self._bucket, key)
        except S3Error as error:
            if error.code in MISSING_OBJECT:
                return False
            raise LocationError(f"could not look up {key!r}: {error}") from error
        except (MinioException, urllib3.exceptions.HTTPError, OSError) as error:
            raise LocationError(f"could not look up {key!r}: {error}") from error
        return True

    def bucket_exists(self) -> bool:
        with self._errors("look up", self._bucket):
            return self._client.bucket_exists(self._bucket)

    def capabilities(self) -> Capabilities:
        with self._errors("read the configuration of", self._bucket):
            versioning = self._client.get_bucket_versioning(self._bucket).status == "Enabled"
            try:
                lock = self._client.get_object_lock_config(self._bucket)
                object_lock = lock is not None
            except S3Error as error:
                if error.code not in NO_OBJECT_LOCK:
                    raise
                object_lock = False
        return Capabilities(object_lock=object_lock, versioning=versioning)

    def validate(self, probe_key: str, *, whose_keys: str) -> None:
        """Whether the bucket exists and takes writes: put, then remove, a small object."""
        try:
            if not self._client.bucket_exists(self._bucket):
                raise self._missing_bucket()
            self._client.put_object(self._bucket, probe_key, io.BytesIO(b"lifeboat"), length=8)
            self._client.remove_object(self._bucket, probe_key)
        except S3Error as exc:
            raise self._refusal(exc, whose_keys) from None
        except ValueError as exc:  # a bucket name the client refuses
            raise LocationRefused("bucket", f"bucket {self._bucket!r}: {exc}") from None
        except (InvalidResponseError, ServerError) as exc:
            raise LocationRefused(
                "endpoint",
                f"{self.endpoint} does not answer like an S3 server ({exc}): check the endpoint",
            ) from None
        except urllib3.exceptions.MaxRetryError as exc:
            raise LocationRefused(
                "endpoint", f"cannot reach {self.endpoint}: {exc.reason}"
            ) from None
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise LocationRefused("endpoint", f"cannot reach {self.endpoint}: {exc}") from None

    def _missing_bucket(self) -> LocationRefused:
        return LocationRefused(
            "bucket",
            f"bucket {self._bucket!r} does not exist at {self.endpoint}: create it first "
            "or correct the name",
        )

    def _refusal(self, error: S3Error, whose_keys: str) -> LocationRefused:
        code = error.code or "error"
        if code == "NoSuchBucket":
            return self._missing_bucket()
        if code in REFUSED_CREDENTIALS:
            return LocationRefused(
                "credentials",
                f"{self.endpoint} refused {whose_keys} credentials ({code}): check the access "
                "key id and secret access key",
            )
        if code == "AccessDenied":
            return LocationRefused(
                "credentials",
                f"{self.endpoint} denied access to bucket {self._bucket!r} with {whose_keys} "
                "credentials (AccessDenied): check the keys, and that they may read and write "
                "the bucket",
            )
        if code in WRONG_REGION:
            return LocationRefused(
                "region",
                f"bucket {self._bucket!r} is not in region {self.region or 'us-east-1'!r} "
                f"({code}): set the bucket's region",
            )
        return LocationRefused(
            "endpoint",
            f"{self.endpoint} refused the check ({code}: {error.message}): fix and retry",
        )

    def close(self) -> None:
        self._http.clear()
