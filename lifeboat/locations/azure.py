"""Azure Blob backup locations (a storage account's container; Azurite for tests): the only
module that imports the Azure Storage client (azure-storage-blob).

The location's endpoint is the blob service of the account, `https://<account>.blob.core.
windows.net`; its bucket is the container. An endpoint whose host is an IP address (an
emulator such as Azurite) is path-style, as Azure's own tools take it: the account follows
the host, `http://127.0.0.1:10000/<account>`.
"""

from __future__ import annotations

import contextlib
import ipaddress
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Literal
from urllib.parse import urlsplit

import requests
from azure.core.exceptions import (
    AzureError,
    ClientAuthenticationError,
    HttpResponseError,
    ResourceExistsError,
    ResourceNotFoundError,
    ServiceRequestError,
)
from azure.core.pipeline.transport import RequestsTransport
from azure.storage.blob import BlobSasPermissions, ContainerClient, generate_blob_sas

from lifeboat.credentials import AzureKeys
from lifeboat.locations.backend import (
    TRANSFER,
    Capabilities,
    LocationError,
    LocationRefused,
    ObjectLock,
    Timeouts,
)

CONTAINER_NOT_FOUND = "ContainerNotFound"
# What the service answers keys it does not accept (a wrong key, another account's).
FORBIDDEN = 403


def account_url(endpoint: str, account_name: str) -> str:
    """The account's blob service URL: the endpoint, with the account after an IP host."""
    url = urlsplit(endpoint)
    if url.scheme not in ("http", "https") or not url.hostname:
        raise ValueError(f"endpoint {endpoint!r} must look like http(s)://host[:port]")
    try:
        ipaddress.ip_address(url.hostname)
    except ValueError:
        return endpoint.rstrip("/")
    return f"{endpoint.rstrip('/')}/{account_name}"


def _code(error: HttpResponseError) -> str:
    """The storage error code (`AuthenticationFailed`, `ContainerNotFound`), which the client
    sets on the errors it raises, else the HTTP status."""
    code = getattr(error, "error_code", None) or error.status_code
    return str(getattr(code, "value", code))


class AzureBackend:
    """A container of an Azure storage account, reached with the account's key."""

    def __init__(
        self,
        endpoint: str,
        container: str,
        keys: AzureKeys,
        *,
        connections: int = 32,
        timeouts: Timeouts = TRANSFER,
    ) -> None:
        self.endpoint = endpoint
        self._keys = keys
        self._container_name = container
        session = requests.Session()
        adapter = requests.adapters.HTTPAdapter(pool_maxsize=connections)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        self._container = ContainerClient(
            account_url(endpoint, keys.account_name),
            container,
            credential={"account_name": keys.account_name, "account_key": keys.account_key},
            transport=RequestsTransport(session=session, session_owner=True),
            connection_timeout=timeouts.connect,
            read_timeout=timeouts.read,
            retry_total=timeouts.retries,
        )

    @property
    def bucket(self) -> str:
        return self._container_name

    @contextlib.contextmanager
    def _errors(self, action: str, key: str) -> Iterator[None]:
        try:
            yield
        except (AzureError, OSError) as error:
            message = str(error).splitlines()[0] if str(error) else type(error).__name__
            raise LocationError(
                f"could not {action} {key!r} in container {self._container_name!r}: {message}"
            ) from error

    def put(self, key: str, data: bytes, *, lock: ObjectLock | None = None) -> int:
        if lock is not None:
            raise LocationError(
                f"could not upload {key!r}: immutable backups are for S3 locations only"
            )
        with self._errors("upload", key):
            self._container.upload_blob(key, data, overwrite=True)
        return len(data)

    def create(self, key: str, data: bytes) -> bool:
        with self._errors("upload", key):
            try:
                self._container.upload_blob(key, data, overwrite=False)
            except ResourceExistsError:
                return False
        return True

    def retained_until(self, key: str) -> datetime | None:
        """None: Lifeboat writes no locked blobs to Azure (see `put`)."""
        return None

    def extend_lock(self, key: str, lock: ObjectLock) -> None:
        raise LocationError(f"could not lock {key!r}: immutable backups are for S3 locations only")

    def get(self, key: str, *, offset: int = 0, length: int = 0) -> bytes:
        with self._errors("download", key):
            stream = self._container.download_blob(key, offset=offset, length=length or None)
            return stream.readall()

    def list_objects(self, prefix: str) -> Iterator[tuple[str, int]]:
        with self._errors("list", prefix):
            for blob in self._container.list_blobs(name_starts_with=prefix or None):
                yield blob.name, int(blob.size or 0)

    def delete(self, keys: Iterable[str]) -> None:
        for key in keys:
            with self._errors("delete", key), contextlib.suppress(ResourceNotFoundError):
                self._container.delete_blob(key)

    def exists(self, key: str) -> bool:
        with self._errors("look up", key):
            return bool(self._container.get_blob_client(key).exists())

    def bucket_exists(self) -> bool:
        with self._errors("look up", self._container_name):
            return bool(self._container.exists())

    def presign(self, method: Literal["GET", "PUT"], key: str, expires: timedelta) -> str:
        """A URL with a shared access signature (SAS); a PUT to it needs the header
        `x-ms-blob-type: BlockBlob`."""
        permission = (
            BlobSasPermissions(read=True)
            if method == "GET"
            else BlobSasPermissions(create=True, write=True)
        )
        signature = generate_blob_sas(
            self._keys.account_name,
            self._container_name,
            key,
            account_key=self._keys.account_key,
            permission=permission,
            expiry=datetime.now(UTC) + expires,
        )
        return f"{self._container.get_blob_client(key).url}?{signature}"

    def capabilities(self) -> Capabilities:
        """Azure's object lock is version-level immutability, which needs versioning; whether
        versioning alone is on is an account setting the data plane does not show."""
        with self._errors("read the properties of", self._container_name):
            properties = self._container.get_container_properties()
        immutable = bool(properties.immutable_storage_with_versioning_enabled)
        return Capabilities(object_lock=immutable, versioning=immutable)

    def validate(self, probe_key: str, *, whose_keys: str) -> None:
        """Whether the container exists and takes writes: put, then remove, a small blob."""
        try:
            if not self._container.exists():
                raise self._missing_container()
            self._container.upload_blob(probe_key, b"lifeboat", overwrite=True)
            self._container.delete_blob(probe_key)
        except ResourceNotFoundError as exc:
            if _code(exc) == CONTAINER_NOT_FOUND:
                raise self._missing_container() from None
            raise self._refused_check(exc) from None
        except HttpResponseError as exc:
            if isinstance(exc, ClientAuthenticationError) or exc.status_code == FORBIDDEN:
                raise LocationRefused(
                    "credentials",
                    f"{self.endpoint} refused {whose_keys} credentials ({_code(exc)}): check "
                    "the storage account name and key, and that the key may read and write",
                ) from None
            raise self._refused_check(exc) from None
        except (ServiceRequestError, OSError) as exc:
            raise LocationRefused("endpoint", f"cannot reach {self.endpoint}: {exc}") from None
        except ValueError as exc:  # an account key that is not base64, a bad container name
            raise LocationRefused("credentials", f"{whose_keys} credentials: {exc}") from None

    def _missing_container(self) -> LocationRefused:
        return LocationRefused(
            "bucket",
            f"container {self._container_name!r} does not exist in storage account "
            f"{self._keys.account_name!r} at {self.endpoint}: create it first or correct the name",
        )

    def _refused_check(self, error: HttpResponseError) -> LocationRefused:
        return LocationRefused(
            "endpoint",
            f"{self.endpoint} refused the check ({_code(error)}: {error.reason}): fix and retry",
        )

    def close(self) -> None:
        self._container.close()
