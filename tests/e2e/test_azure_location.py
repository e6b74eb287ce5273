"""An Azure Blob backup location, against Azurite: checked before it is stored, then a backup
of a volume goes into its container and is restored from it byte for byte."""

from __future__ import annotations

import base64
import json
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from azure.storage.blob import BlobServiceClient

from activities.mover.command import ENV_ACCESS_KEY, ENV_LOCATION_KEY, ENV_SECRET_KEY
from deploy.local.stack import REPO_ROOT, Stack
from tests.api.helpers import unique
from tests.api.test_locations import _refused
from tests.azurite import AzuriteServer, running_azurite
from tests.conftest import Users
from tests.e2e import test_backup_restore as journey
from tests.e2e.conftest import Kube

LOCATIONS = "/api/v1/backup-locations"


@pytest.fixture(scope="module")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AzuriteServer]:
    with running_azurite(tmp_path_factory.mktemp("azurite")) as server:
        yield server


def _service(azurite: AzuriteServer) -> BlobServiceClient:
    """The storage account as its administrator (to make and read containers)."""
    return BlobServiceClient(
        f"{azurite.endpoint}/{azurite.account_name}",
        credential={"account_name": azurite.account_name, "account_key": azurite.account_key},
    )


def test_an_azure_location_is_checked_then_backs_up_and_restores_a_volume(
    as_user: Users, target: dict[str, str], kube: Kube, stack: Stack, azurite: AzuriteServer
) -> None:
    api = as_user("infraadmin")
    container = unique("backups")
    _service(azurite).create_container(container)

    def account(provider: str, credentials: dict[str, str]) -> str:
        body = {"name": unique(provider), "provider": provider, "credentials": credentials}
        created = api.post("/api/v1/cloud-accounts", json=body)
        assert created.status_code == 201, created.text
        return str(created.json()["uid"])

    keys = {"account_name": azurite.account_name, "account_key": azurite.account_key}
    body = {
        "name": unique("azure"), "provider": "azure", "endpoint": azurite.endpoint,
        "bucket": container, "prefix": "lifeboat", "cloud_account_uid": account("azure", keys),
    }  # fmt: skip

    # Refused with the field to correct, and nothing stored.
    missing = api.post(LOCATIONS, json={**body, "bucket": unique("missing")})
    assert "does not exist" in _refused(missing, "bucket")
    wrong_key = base64.b64encode(secrets.token_bytes(64)).decode()
    wrong = api.post(
        LOCATIONS,
        json={**body, "cloud_account_uid": account("azure", {**keys, "account_key": wrong_key})},
    )
    assert "refused the cloud account's credentials" in _refused(wrong, "cloud_account_uid")
    assert wrong_key not in wrong.text
    s3_account = account("s3-compatible", {"access_key_id": "id", "secret_access_key": "secret"})
    not_azure = api.post(LOCATIONS, json={**body, "cloud_account_uid": s3_account})
    assert "an azure location needs one of: azure" in _refused(not_azure, "cloud_account_uid")
    names = [location["name"] for location in api.get(LOCATIONS).json()["items"]]
    assert body["name"] not in names

    created = api.post(LOCATIONS, json=body)
    assert created.status_code == 201, created.text
    location = created.json()
    assert (location["provider"], location["bucket"]) == ("azure", container)

    namespace = unique("azure")
    kube.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
    journey._claim(kube, namespace, "data")
    expected = journey._fill(journey._bound_dir(stack, namespace, "data"))
    backup = journey._backup(
        api, {"cluster": target["cluster"], "location": location["uid"]}, namespace
    )
    assert backup["status"] == "Success", (backup["reason"], backup["volumes"])
    # The archive and the volume's chunks are blobs of the container, under the prefix.
    blobs = [b.name for b in _service(azurite).get_container_client(container).list_blobs()]
    assert any(name.endswith("manifest.json.sealed") for name in blobs), blobs
    assert any(name.startswith("lifeboat/lifeboat-data/v1/snapshots/") for name in blobs), blobs

    journey._delete_namespace(kube, namespace)
    restored = api.post("/api/v1/restores", json={"backup_uid": backup["uid"]})
    assert restored.status_code == 201, restored.text
    restore = journey._wait(api, f"/api/v1/restores/{restored.json()['uid']}")
    assert restore["status"] == "Success", (restore["reason"], restore["volumes"])
    assert journey._checksums(journey._bound_dir(stack, namespace, "data")) == expected


def test_the_mover_command_moves_a_volume_through_an_azure_container(
    azurite: AzuriteServer, tmp_path: Path
) -> None:
    """What a mover Job runs: the location's keys come from its environment, as the pair the
    Job's Secret holds (the storage account and its key)."""
    container = unique("mover")
    _service(azurite).create_container(container)
    source, target = tmp_path / "source", tmp_path / "target"
    source.mkdir()
    expected = journey._fill(source)
    env = {
        "PATH": os.environ.get("PATH", ""),
        ENV_ACCESS_KEY: azurite.account_name,
        ENV_SECRET_KEY: azurite.account_key,
        ENV_LOCATION_KEY: "location-key-of-the-azure-test",
    }
    where = ["--provider", "azure", "--endpoint", azurite.endpoint, "--bucket", container]

    def mover(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "activities.mover", *args, *where],
            cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        return done.stdout

    summary = json.loads(mover("backup", "--source", str(source)))
    mover("restore", "--snapshot", summary["snapshot_id"], "--target", str(target))
    assert journey._checksums(target) == expected
