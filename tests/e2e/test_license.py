"""The license on the real stack: import by key and by file, refusals, expiry and grace, the
node limit stopping new backups and suspending schedules, and restores that always work.

Time is controlled through the minted documents (validity in the past), never slept. Each test
leaves the catalog on its trial again, which allows the rest of the run's backups.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from temporalio.client import Client, ScheduleOverlapPolicy

from deploy.local.doubles.license_server import LicenseServerDouble
from deploy.local.servers.oidc import OidcProvider
from deploy.local.stack import REPO_ROOT, Stack
from lifeboat.licensing import LicenseDocument, as_file, sign
from lifeboat.settings import Settings
from tests.api.helpers import platform_users, unique, wait_for_sync
from tests.conftest import SUBSCRIPTION, Users
from tests.e2e.conftest import Kube
from workflows.ids import license_check_schedule_id

Mint = Callable[..., str]


@pytest.fixture
def mint(license_signer: Ed25519PrivateKey) -> Mint:
    """License keys signed by the run's trusted signing key."""

    def make(*, nodes: int = 100, until_days: float = 365, grace_days: int = 7) -> str:
        now = datetime.now(UTC).replace(microsecond=0)
        document = LicenseDocument(
            id=unique("lic"), customer="Example Corp", edition="enterprise", node_limit=nodes,
            valid_from=now - timedelta(days=400), valid_until=now + timedelta(days=until_days),
            grace_days=grace_days, issued_at=now,
        )  # fmt: skip
        return sign(document, license_signer)

    return make


@pytest.fixture
def superadmin(as_user: Users) -> Iterator[httpx.Client]:
    """The super admin; the imported license is removed after the test (back to the trial)."""
    api = as_user("superadmin")
    yield api
    assert api.delete("/api/v1/license").json()["edition"] == "trial"


def _until(check: Callable[[], Any], what: str, timeout: float = 90) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := check()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.5)
    return value


def _backup(api: httpx.Client, target: dict[str, str], kube: Kube) -> httpx.Response:
    namespace = unique("licensed")
    kube.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
    body = {
        "cluster_uid": target["cluster"], "location_uid": target["location"],
        "namespaces": [namespace],
    }  # fmt: skip
    return api.post("/api/v1/backups", json=body)


def test_everyone_reads_the_license_and_only_a_super_admin_imports_one(
    as_user: Users, superadmin: httpx.Client, mint: Mint, tmp_path: Path
) -> None:
    appuser = as_user("appuser")
    read = appuser.get("/api/v1/license").json()
    assert (read["state"], read["edition"], read["backups_allowed"]) == ("Valid", "trial", True)
    key = mint(nodes=50)
    for user in ("appuser", "infraadmin"):
        refused = as_user(user).post("/api/v1/license", json={"key": key})
        assert refused.status_code == 403, refused.text
        assert "only a super admin" in refused.json()["error"]["message"]

    imported = superadmin.post("/api/v1/license", json={"key": key})
    assert imported.status_code == 200, imported.text
    by_key = imported.json()
    assert (by_key["state"], by_key["customer"], by_key["node_limit"]) == (
        "Valid", "Example Corp", 50,
    )  # fmt: skip
    assert by_key["imported_as"] == "key"
    assert appuser.get("/api/v1/license").json()["license_id"] == by_key["license_id"]

    # Tampered: the node limit raised inside a valid license file. Refused, nothing changes.
    text = as_file(mint(nodes=5))
    forged = text.replace('"node_limit": 5', '"node_limit": 5000')
    refused = superadmin.post("/api/v1/license", json={"file": forged})
    assert refused.status_code == 422, refused.text
    error = refused.json()["error"]
    assert error["field"] == "file" and "signature does not match" in error["message"]
    assert superadmin.get("/api/v1/license").json()["license_id"] == by_key["license_id"]
    garbled = superadmin.post("/api/v1/license", json={"key": "not a license"})
    assert garbled.status_code == 422 and garbled.json()["error"]["field"] == "key"
    for body in ({}, {"key": key, "file": text}):
        refused = superadmin.post("/api/v1/license", json=body)
        assert refused.status_code == 422, refused.text
        assert "exactly one of `key`" in refused.json()["error"]["message"]
    assert superadmin.get("/api/v1/license").json()["license_id"] == by_key["license_id"]

    # The license file, as minted by the command line with a vendor's key file.
    pem = _pem(Ed25519PrivateKey.generate(), tmp_path / "vendor.pem")
    _lifeboat(
        "license", "mint", "--private-key", str(pem), "--customer", "Other Corp", "--nodes", "20",
        "--file", str(tmp_path / "lic.json"),
    )  # fmt: skip
    untrusted = superadmin.post(
        "/api/v1/license", json={"file": (tmp_path / "lic.json").read_text()}
    )
    assert untrusted.status_code == 422, untrusted.text
    assert "does not trust" in untrusted.json()["error"]["message"]


def test_an_expired_license_has_its_grace_then_stops_new_backups_but_never_restores(
    as_user: Users, superadmin: httpx.Client, mint: Mint, target: dict[str, str], kube: Kube
) -> None:
    api = as_user("infraadmin")
    made = _backup(api, target, kube)
    assert made.status_code == 201, made.text
    backup = made.json()

    in_grace = superadmin.post("/api/v1/license", json={"key": mint(until_days=-2, grace_days=7)})
    read = in_grace.json()
    assert (read["state"], read["backups_allowed"]) == ("InGrace", True), read
    assert "grace period ends on" in read["reason"]

    expired = superadmin.post("/api/v1/license", json={"key": mint(until_days=-9, grace_days=7)})
    assert (expired.json()["state"], expired.json()["backups_allowed"]) == ("Expired", False)
    refused = _backup(api, target, kube)
    assert refused.status_code == 402, refused.text
    message = refused.json()["error"]["message"]
    assert "new backups are refused: the license expired on" in message
    assert "imports a license" in message and "restores keep working" in message

    _until(
        lambda: api.get(f"/api/v1/backups/{backup['uid']}").json()["status"] == "Success",
        "the backup made before the expiry",
    )
    preview = api.post("/api/v1/restores/preview", json={"backup_uid": backup["uid"]})
    assert preview.status_code in (200, 201), preview.text


def _check_license_now(stack: Stack) -> None:
    """Run the worker's periodic license check now (as its schedule will, in a while)."""
    check = license_check_schedule_id(Settings().task_queue)

    async def trigger() -> None:
        client = await Client.connect(stack.temporal_address)
        await client.get_schedule_handle(check).trigger(overlap=ScheduleOverlapPolicy.ALLOW_ALL)

    asyncio.run(trigger())


def _pem(signer: Ed25519PrivateKey, path: Path) -> Path:
    path.write_bytes(signer.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
    return path


def _lifeboat(*args: str) -> str:
    run = subprocess.run(
        [sys.executable, "-m", "cli", *args],
        capture_output=True, text=True, cwd=REPO_ROOT, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    return run.stdout


def test_nodes_beyond_the_limit_stop_backups_and_suspend_schedules_until_a_bigger_license(
    as_user: Users,
    superadmin: httpx.Client,
    mint: Mint,
    target: dict[str, str],
    kube: Kube,
    stack: Stack,
) -> None:
    api = as_user("infraadmin")
    used = superadmin.get("/api/v1/license").json()["nodes_used"]
    assert superadmin.post("/api/v1/license", json={"key": mint(nodes=used)}).json()[
        "state"
    ] == "Valid"  # fmt: skip
    policy = api.post("/api/v1/schedule-policies", json={
        "name": unique("daily"), "schedule": {"type": "interval", "every_minutes": 720},
        "retention": {"keep_last": 3},
    }).json()  # fmt: skip
    namespace = unique("nightly")
    kube.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
    schedule = api.post("/api/v1/backup-schedules", json={
        "name": unique("sched"), "policy_uid": policy["uid"],
        "backup": {"cluster_uid": target["cluster"], "location_uid": target["location"],
                   "namespaces": [namespace]},
    }).json()  # fmt: skip
    path = f"/api/v1/backup-schedules/{schedule['uid']}"

    node = unique("extra-node")
    kube.create({"apiVersion": "v1", "kind": "Node", "metadata": {"name": node}})
    try:
        before = api.get(f"/api/v1/clusters/{target['cluster']}").json()["last_synced_at"]
        api.post(f"/api/v1/clusters/{target['cluster']}/sync")
        wait_for_sync(api, target["cluster"], after=before)
        read = superadmin.get("/api/v1/license").json()
        assert (read["state"], read["nodes_used"]) == ("OverLimit", used + 1), read
        assert f"{used + 1} nodes and the license allows {used}" in read["reason"]
        refused = _backup(api, target, kube)
        assert refused.status_code == 402, refused.text

        # The worker's periodic license check (run now) suspends the schedule.
        _check_license_now(stack)
        suspended = _until(
            lambda: (s := api.get(path).json())["suspended_by"] == "license" and s,
            "the license check to suspend the schedule",
        )
        assert suspended["status"] == "Suspended" and suspended["suspended"] is True
        assert "suspended by the license" in suspended["status_reason"]
        resumed_by_hand = api.post(f"{path}/resume")
        assert resumed_by_hand.status_code == 402, resumed_by_hand.text

        bigger = superadmin.post("/api/v1/license", json={"key": mint(nodes=used + 5)})
        assert bigger.json()["state"] == "Valid"
        resumed = _until(
            lambda: not (s := api.get(path).json())["suspended"] and s,
            "the import's license check to resume the schedule",
        )
        assert (resumed["suspended_by"], resumed["status"]) == ("", "Active")
        assert _backup(api, target, kube).status_code == 201
        usage = superadmin.get("/api/v1/license/usage").json()
        assert usage["count"] >= 2 and usage["items"][-1]["nodes"] == used + 1
    finally:
        kube.delete("v1", "Node", node)
        api.delete(path, params={"backups": "delete"})


def test_a_subscription_activates_renews_and_outlives_its_license_server_being_down(
    superadmin: httpx.Client, license_server: LicenseServerDouble, stack: Stack
) -> None:
    def read() -> dict[str, Any]:
        body: dict[str, Any] = superadmin.get("/api/v1/license").json()
        return body

    started = superadmin.post("/api/v1/license", json={"subscription": SUBSCRIPTION})
    assert started.status_code == 200, started.text
    assert started.json()["imported_as"] == "subscription"
    first = _until(lambda: (r := read())["edition"] == "subscription" and r, "the activation")
    assert (first["customer"], first["node_limit"], first["renewal_error"]) == (
        "Example Corp", 50, "",
    )  # fmt: skip
    # Three days long, so renewed at each check (a week before its end).
    assert first["state"] == "ExpiringSoon" and first["backups_allowed"]

    _check_license_now(stack)
    renewed = _until(
        lambda: (r := read())["license_id"] != first["license_id"] and r, "the renewal"
    )
    assert renewed["renewed_at"] > first["renewed_at"]

    license_server.stop()
    try:
        _check_license_now(stack)
        failed = _until(lambda: (r := read())["renewal_error"] and r, "the failed renewal")
        assert "cannot be reached" in failed["renewal_error"]
        assert (failed["license_id"], failed["backups_allowed"]) == (renewed["license_id"], True)
    finally:
        license_server.start()
    _check_license_now(stack)
    back = _until(lambda: not (r := read())["renewal_error"] and r, "a renewal once it is back")
    assert back["license_id"] != renewed["license_id"]

    unknown = superadmin.post("/api/v1/license", json={"subscription": "sub-nobody-has"})
    assert unknown.status_code == 200, unknown.text
    refused = _until(lambda: (r := read())["renewal_error"] and r, "the refused activation")
    assert "refused the activation id" in refused["renewal_error"]
    assert refused["edition"] == "trial" and refused["imported_as"] == "subscription"


def test_an_air_gapped_installation_imports_the_vendor_s_answer_to_its_request(
    as_user: Users, superadmin: httpx.Client, license_signer: Ed25519PrivateKey, tmp_path: Path
) -> None:
    assert as_user("infraadmin").get("/api/v1/license/activation-request").status_code == 403
    request = superadmin.get("/api/v1/license/activation-request").json()
    assert request["format"] == "lifeboat-activation-request-v1" and request["installation_id"]
    again = superadmin.get("/api/v1/license/activation-request").json()
    assert again["installation_id"] == request["installation_id"]
    asked = tmp_path / "request.json"
    asked.write_text(json.dumps(request))
    pem = _pem(license_signer, tmp_path / "vendor.pem")

    # The vendor answers with a license file for this installation only.
    answer = tmp_path / "answer.json"
    _lifeboat(
        "license", "mint", "--private-key", str(pem), "--customer", "Air Corp", "--nodes", "30",
        "--request", str(asked), "--file", str(answer),
    )  # fmt: skip
    imported = superadmin.post("/api/v1/license", json={"file": answer.read_text()})
    assert imported.status_code == 200, imported.text
    assert (imported.json()["state"], imported.json()["customer"]) == ("Valid", "Air Corp")

    elsewhere = tmp_path / "elsewhere.json"
    elsewhere.write_text(json.dumps(request | {"installation_id": "another-installation"}))
    key = _lifeboat(
        "license", "mint", "--private-key", str(pem), "--customer", "Air Corp", "--nodes", "30",
        "--request", str(elsewhere),
    ).strip()  # fmt: skip
    refused = superadmin.post("/api/v1/license", json={"key": key})
    assert refused.status_code == 422, refused.text
    assert "issued to installation another-installation" in refused.json()["error"]["message"]
    assert superadmin.get("/api/v1/license").json()["customer"] == "Air Corp"


def test_a_subscription_without_a_license_server_is_refused_and_changes_nothing(
    superadmin: httpx.Client, stack: Stack, provider: OidcProvider, tmp_path: Path
) -> None:
    before = superadmin.get("/api/v1/license").json()
    offline = {"LIFEBOAT_LICENSE_SERVER_URL": ""}
    with platform_users(stack, provider, tmp_path, offline, worker=False) as elsewhere:
        refused = elsewhere("superadmin").post("/api/v1/license", json={"subscription": "sub-x"})
    assert refused.status_code == 422, refused.text
    error = refused.json()["error"]
    assert error["field"] == "subscription" and "activation-request" in error["message"]
    assert superadmin.get("/api/v1/license").json() == before
