"""Activities that reach backup locations with their keys: a cloud account's (classic mode) or
the location's own (federated mode, which has no cloud accounts). The storage itself is
reached through its `LocationBackend` (lifeboat.locations)."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from lifeboat import keyring, metrics
from lifeboat.catalog.models import BackupLocation, CloudAccount, LocationCredentials
from lifeboat.credentials import CloudKeys, CredentialsUnreadable, read_keys
from lifeboat.locations import (
    CHECK,
    KINDS,
    LocationAddress,
    LocationBackend,
    LocationError,
    LocationKind,
    LocationRefused,
    LockMode,
    ObjectLock,
    open_backend,
)
from lifeboat.locations.locked import LockedBackend
from lifeboat.secrets import SecretBox, SecretDecryptError
from workflows.contracts import (
    KeyRotationInput,
    KeyRotationResult,
    LocationCheckInput,
    LocationCheckResult,
)

CHECK_DIRECTORY = ".lifeboat-check"


@dataclass
class OpenLocation:
    """A backup location ready for use: its backend, where to write, and the repository's
    data key (`key`: what everything stored is encrypted with, see lifeboat.keyring)."""

    backend: LocationBackend
    address: LocationAddress
    prefix: str
    key: bytes = field(repr=False)
    # What a data mover outside this process (a Job) needs to reach the bucket itself.
    keys: CloudKeys = field(repr=False)
    # On an immutable location, the retention a backup's objects are written with.
    lock: ObjectLock | None = None

    @property
    def bucket(self) -> str:
        return self.address.bucket


class LocationUnavailable(Exception):
    """The location, its account or its keys cannot be used; the message says why."""


class KeysUnusable(Exception):
    """A location's keys cannot be used: `field` names what the user should correct."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field = field
        self.reason = reason


async def location_keys(
    session: AsyncSession,
    secrets: SecretBox,
    kind: LocationKind,
    *,
    cloud_account_uid: str | None,
    credentials_uid: str | None,
) -> CloudKeys:
    """The keys a location is reached with, its own or its cloud account's, decrypted here
    (inside an activity) and never passed on through history."""
    fits = KINDS[kind]
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
        if account.provider not in fits.providers:
            raise KeysUnusable(
                "cloud_account_uid",
                f"cloud account {account.name} is an {account.provider} account; an {kind} "
                f"location needs one of: {', '.join(sorted(fits.providers))}",
            )
        ciphertext, field = account.credentials_ciphertext, "cloud_account_uid"
        whose = f"cloud account {account.name}'s"
    else:
        raise KeysUnusable(
            "credentials", "the location has neither a cloud account nor credentials of its own"
        )
    try:
        return read_keys(secrets, ciphertext, fits.keys)
    except CredentialsUnreadable:
        raise KeysUnusable(field, f"{whose} credentials cannot be read: enter them again") from None


def address_of(location: BackupLocation) -> LocationAddress:
    return LocationAddress(
        LocationKind(location.provider), location.endpoint, location.bucket, location.region
    )


async def open_location(
    sessions: async_sessionmaker[AsyncSession],
    secrets: SecretBox,
    location_uid: str,
    *,
    retain_until: datetime | None = None,
) -> OpenLocation:
    """Decrypt a location's credentials and key here, inside an activity, never in history,
    and open its key file for the data key.

    On an immutable location, objects are written locked until `retain_until` (a backup's
    `locked_until`; None writes nothing locked) and locked objects are never deleted.

    Raises LocationUnavailable when the location cannot be used as stored (no retry helps),
    LocationError when its store does not answer (a retry may).
    """
    async with sessions() as session:
        location = await session.get(BackupLocation, location_uid)
        if location is None or location.encryption_key_ciphertext is None:
            raise LocationUnavailable(f"backup location {location_uid} is gone")
        address = address_of(location)
        try:
            keys = await location_keys(
                session,
                secrets,
                address.kind,
                cloud_account_uid=location.cloud_account_uid,
                credentials_uid=location.credentials_uid,
            )
        except KeysUnusable as exc:
            raise LocationUnavailable(f"backup location {location.name}: {exc.reason}") from exc
    try:
        location_key = secrets.decrypt(location.encryption_key_ciphertext).encode()
    except SecretDecryptError as exc:
        raise LocationUnavailable(f"the keys of location {location.name} cannot be read") from exc
    backend = open_backend(address, keys)
    try:
        data_key = await asyncio.to_thread(
            repository_key,
            backend,
            location.prefix,
            location_key,
            create=location.data_key_in_bucket,
        )
    except keyring.KeyFileError as exc:
        backend.close()
        raise LocationUnavailable(
            f"the key file of location {location.name} cannot be read: {exc}"
        ) from exc
    except LocationError:
        # The store did not answer: an outage, not a bad location; the step is retried.
        backend.close()
        raise
    lock = None
    if location.immutability_mode:
        lock = (
            ObjectLock(LockMode(location.immutability_mode), retain_until) if retain_until else None
        )
        backend = LockedBackend(backend, lock)
    return OpenLocation(
        backend=backend,
        address=address,
        prefix=location.prefix,
        key=data_key,
        keys=keys,
        lock=lock,
    )


def repository_key(
    backend: LocationBackend, prefix: str, location_key: bytes, *, create: bool
) -> bytes:
    """The data key in the key file of `location_key`; a new one when there is none and
    `create`, else (a location made before key files) the location key itself.

    A repository that holds data but no key file was made before key files, whatever the
    catalog says (a location added again over an old repository): its key is its data key.
    """
    name = keyring.key_file_key(prefix, location_key)
    if backend.exists(name):
        return keyring.unwrap(backend.get(name), location_key)
    if not create or next(iter(backend.list_objects(keyring.repository_root(prefix))), None):
        return location_key
    data_key = keyring.new_data_key()
    if backend.create(name, keyring.wrap(data_key, location_key)):
        return data_key
    # Another worker made the key file first: use its key.
    return keyring.unwrap(backend.get(name), location_key)


def check_object_key(prefix: str) -> str:
    """A fresh key under `<prefix>/.lifeboat-check/`, so checks never touch backup data."""
    return "/".join(p for p in (prefix.strip("/"), CHECK_DIRECTORY, str(uuid.uuid4())) if p)


def probe_location(input: LocationCheckInput, keys: CloudKeys) -> LocationCheckResult:
    """Whether the bucket exists and takes writes with `keys`; else what to correct."""
    kind = LocationKind(input.provider)
    address = LocationAddress(kind, input.endpoint, input.bucket, input.region)
    try:
        backend = open_backend(address, keys, connections=2, timeouts=CHECK)
    except ValueError as exc:
        return LocationCheckResult(ok=False, reason=str(exc), field="endpoint")
    # The field to correct when the keys are refused, and whose keys they are.
    if input.credentials_uid:
        keys_field, whose = "credentials", "the location's"
    else:
        keys_field, whose = "cloud_account_uid", "the cloud account's"
    try:
        backend.validate(check_object_key(input.prefix), whose_keys=whose)
        if input.immutability and not backend.capabilities().object_lock:
            return LocationCheckResult(
                ok=False,
                reason=f"bucket {input.bucket} has no object lock, which immutable backups "
                "need: use a bucket created with object lock enabled, or leave out "
                "immutability",
                field="immutability",
            )
    except LocationRefused as refused:
        field = keys_field if refused.field == "credentials" else refused.field
        return LocationCheckResult(ok=False, reason=refused.reason, field=field)
    except LocationError as error:
        return LocationCheckResult(ok=False, reason=str(error), field="endpoint")
    finally:
        backend.close()
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
                keys = await location_keys(
                    session,
                    self._secrets,
                    LocationKind(input.provider),
                    cloud_account_uid=input.cloud_account_uid,
                    credentials_uid=input.credentials_uid,
                )
        except KeysUnusable as exc:
            return LocationCheckResult(ok=False, reason=exc.reason, field=exc.field)
        result = await asyncio.to_thread(probe_location, input, keys)
        metrics.location_checked(input.endpoint, input.bucket, ok=result.ok)
        return result

    @activity.defn
    async def rotate_location_key(self, input: KeyRotationInput) -> KeyRotationResult:
        """Re-wrap the location's data key under its new key; nothing else is rewritten.

        The key file under the new key is written first and the catalog switched to the new
        key next; only then is the old key's file removed, so a rotation cut off anywhere
        leaves every backup readable, and running it again finishes it.
        """
        async with self._sessions() as session:
            location = await session.get(BackupLocation, input.location_uid)
            if location is None or not location.rotating_key_ciphertext:
                return KeyRotationResult(ok=False, reason="no key rotation is under way")
            name, prefix, legacy = location.name, location.prefix, not location.data_key_in_bucket
            rotating = location.rotating_key_ciphertext
            address = address_of(location)
            try:
                keys = await location_keys(
                    session,
                    self._secrets,
                    address.kind,
                    cloud_account_uid=location.cloud_account_uid,
                    credentials_uid=location.credentials_uid,
                )
                old_key = self._secrets.decrypt(location.encryption_key_ciphertext or b"")
                new_key = self._secrets.decrypt(rotating)
            except KeysUnusable as exc:
                return KeyRotationResult(ok=False, reason=exc.reason)
            except SecretDecryptError:
                return KeyRotationResult(ok=False, reason=f"the keys of {name} cannot be read")
        backend = open_backend(address, keys)

        def rewrap() -> tuple[str, str]:
            old_file = keyring.key_file_key(prefix, old_key.encode())
            new_file = keyring.key_file_key(prefix, new_key.encode())
            if not backend.exists(new_file):
                data_key = repository_key(backend, prefix, old_key.encode(), create=not legacy)
                backend.put(new_file, keyring.wrap(data_key, new_key.encode()))
            return old_file, new_file

        try:
            old_file, new_file = await asyncio.to_thread(rewrap)
            async with self._sessions.begin() as session:
                location = await session.get(BackupLocation, input.location_uid)
                if location is None:
                    return KeyRotationResult(ok=False, reason=f"location {name} is gone")
                # The key this rotation wrapped with, even if another request replaced the
                # waiting key meanwhile (its own rotation is refused as already running).
                location.encryption_key_ciphertext = rotating
                if location.rotating_key_ciphertext == rotating:
                    location.rotating_key_ciphertext = None
                location.data_key_in_bucket = True
            if old_file != new_file:
                await asyncio.to_thread(backend.delete, [old_file])
        except (keyring.KeyFileError, LocationError) as exc:
            return KeyRotationResult(
                ok=False, reason=f"the key file of location {name} cannot be rewritten: {exc}"
            )
        finally:
            backend.close()
        return KeyRotationResult(ok=True)
