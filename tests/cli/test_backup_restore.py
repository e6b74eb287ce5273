"""The journey of the README's "Try it", with the command line: add the dev cluster by name, back
up sample-shop with --wait, describe it, preview a restore into a mapped namespace, restore."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import kubernetes.client
import kubernetes.config

from deploy.local.sample_app import NAMESPACE, deploy_sample_app
from deploy.local.stack import Stack
from tests.api.helpers import dev_s3, unique
from tests.cli.conftest import Lifeboat, SignedIn
from tests.conftest import Users


def _synced(lifeboat: Lifeboat, name: str, timeout: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        cluster: dict[str, Any] = lifeboat.ok("cluster", "get", name, "-o", "json").json()
        if cluster["last_synced_at"]:
            return cluster
        assert time.monotonic() < deadline, f"no sync within {timeout}s: {cluster}"
        time.sleep(0.5)


def test_back_up_describe_and_restore_sample_shop(
    signed_in: SignedIn, stack: Stack, target: dict[str, str], as_user: Users
) -> None:
    deploy_sample_app(Path(stack.kubeconfig), Path(stack.csi_home))
    location = as_user("infraadmin").get(f"/api/v1/backup-locations/{target['location']}").json()
    lifeboat = signed_in("infraadmin")

    name = unique("dev")
    added = lifeboat.ok("cluster", "add", name, "--kubeconfig", stack.kubeconfig, "-o", "json")
    assert added.json()["name"] == name
    cluster = _synced(lifeboat, name)
    assert NAMESPACE in cluster["namespaces"]
    listed = lifeboat.ok("cluster", "list").out
    assert name in listed and cluster["uid"] in listed
    assert location["name"] in lifeboat.ok("location", "list").out

    created = lifeboat.ok(
        "backup", "create", "--cluster", name, "--location", location["name"],
        "--namespace", NAMESPACE, "--wait", "-o", "json",
    )  # fmt: skip
    backup = created.json()  # the progress went to stderr: stdout is the API's object alone
    assert backup["status"] == "Success", backup
    assert f"backup {backup['name']} ended Success" in created.err
    assert backup["volume_count"] == 1 and backup["resource_count"] > 0

    described = lifeboat.ok("backup", "describe", backup["name"]).out
    assert "Success" in described
    assert "orders" in described  # the volume's row
    assert "shop-settings" in described  # a resource's row
    as_json = lifeboat.ok("backup", "get", backup["uid"], "-o", "json").json()
    assert as_json["uid"] == backup["uid"] and as_json["volumes"][0]["pvc"] == "orders"
    assert backup["name"] in lifeboat.ok("backup", "list").out

    copy = unique("shop-copy")
    preview = lifeboat.ok(
        "restore", "create", "--backup", backup["name"], "--dry-run",
        "--namespace-mapping", f"{NAMESPACE}={copy}", "-o", "json",
    ).json()  # fmt: skip
    assert preview["spec"]["preview"] is True
    namespaced = [r for r in preview["resources"] if r.get("namespace")]
    assert {r["namespace"] for r in namespaced} == {copy}
    assert {r["action"] for r in namespaced} == {"create"}  # nothing there yet
    assert ("shop", "create") in {(r["name"], r["action"]) for r in namespaced}
    # --preview shows the plan, then asks; through a pipe nobody can answer, so nothing is done.
    restores = _restores(lifeboat)
    unconfirmed = lifeboat(
        "restore", "create", "--backup", backup["uid"], "--preview",
        "--namespace-mapping", f"{NAMESPACE}={copy}",
    )  # fmt: skip
    assert unconfirmed.code == 1, unconfirmed
    assert copy in unconfirmed.out and "create" in unconfirmed.out and "orders" in unconfirmed.out
    assert "Restore as shown? Not confirmed: standard input is not a terminal; add --yes" in (
        unconfirmed.err
    )
    assert _restores(lifeboat) == restores

    restoring = lifeboat.ok(
        "restore", "create", "--backup", backup["uid"], "--preview", "--yes", "--wait",
        "--namespace-mapping", f"{NAMESPACE}={copy}", "-o", "json",
    )  # fmt: skip
    assert copy in restoring.err and "orders" in restoring.err  # the plan, beside the JSON
    restored = restoring.json()
    assert restored["status"] == "Success", restored
    assert restored["name"] in lifeboat.ok("restore", "list").out
    assert [(v["namespace"], v["pvc"], v["status"]) for v in restored["volumes"]] == [
        (copy, "orders", "Success")
    ]
    assert copy in _synced_namespaces(lifeboat, name)

    # A preview of a replace shows, per object, the fields it would change back.
    with kubernetes.config.new_client_from_config(config_file=stack.kubeconfig) as client:
        kubernetes.client.CoreV1Api(client).patch_namespaced_config_map(
            "shop-settings", copy, {"data": {"currency": "USD"}}
        )
    changes = lifeboat.ok(
        "restore", "create", "--backup", backup["uid"], "--dry-run", "--replace",
        "--namespace-mapping", f"{NAMESPACE}={copy}",
    ).out  # fmt: skip
    assert "changes (cluster -> backup)" in changes
    [line] = [row for row in changes.splitlines() if "data.currency" in row]
    assert "USD" in line and "EUR" in line and "shop-settings" in line
    assert "sample-only" not in changes  # the secret's value is never shown

    # A restore that succeeded has nothing to cancel or retry; its record can go.
    ref = restored["name"]
    nothing = lifeboat("restore", "retry", ref)
    assert nothing.code == 1 and f"restore {ref} is Success: nothing to retry" in nothing.err
    running = lifeboat("restore", "cancel", ref)
    assert running.code == 1 and "nothing to cancel" in running.err
    assert f"deleted restore {ref}" in lifeboat.ok("restore", "delete", ref, "--yes").out
    assert restored["uid"] not in _restores(lifeboat)


def _restores(lifeboat: Lifeboat) -> list[str]:
    """The restores made (the API lists the previews too)."""
    items = lifeboat.ok("restore", "list", "-o", "json").json()["items"]
    return [r["uid"] for r in items if not r["spec"].get("preview")]


def _synced_namespaces(lifeboat: Lifeboat, name: str) -> list[str]:
    before = lifeboat.ok("cluster", "get", name, "-o", "json").json()["last_synced_at"]
    assert "sync" in lifeboat.ok("cluster", "sync", name).out.lower()
    deadline = time.monotonic() + 120
    while True:
        cluster = lifeboat.ok("cluster", "get", name, "-o", "json").json()
        if cluster["last_synced_at"] != before:
            namespaces: list[str] = cluster["namespaces"]
            return namespaces
        assert time.monotonic() < deadline, "no new sync within 120s"
        time.sleep(0.5)


def test_wait_exits_5_with_the_reason_when_the_backup_fails_and_on_retry(
    signed_in: SignedIn, stack: Stack, target: dict[str, str], as_user: Users
) -> None:
    """A location whose bucket was removed after it was checked: the backup cannot store,
    nor can its retry; then it is deleted."""
    api = as_user("infraadmin")
    known = api.get(f"/api/v1/backup-locations/{target['location']}").json()
    bucket = unique("gone")
    s3 = dev_s3(stack)
    s3.make_bucket(bucket)
    location = api.post(
        "/api/v1/backup-locations",
        json={
            "name": unique("loc"),
            "endpoint": known["endpoint"],
            "bucket": bucket,
            "cloud_account_uid": known["cloud_account_uid"],
        },
    )
    assert location.status_code == 201, location.text
    s3.remove_bucket(bucket)
    lifeboat = signed_in("infraadmin")

    name = unique("doomed")
    result = lifeboat(
        "backup", "create", "--cluster", target["cluster"], "--location", location.json()["name"],
        "--namespace", "default", "--name", name, "--wait",
    )  # fmt: skip
    assert result.code == 5, result
    assert "ended Failed: " in result.err
    assert "see `lifeboat backup describe " in result.err
    assert "Traceback" not in result.err

    nothing = lifeboat("backup", "cancel", name)
    assert nothing.code == 1 and f"backup {name} is Failed: nothing to cancel" in nothing.err
    retried = lifeboat("backup", "retry", name, "--wait")
    assert "retrying the whole backup" in retried.out
    assert retried.code == 5 and "ended Failed: " in retried.err, retried
    assert lifeboat.ok("backup", "get", name, "-o", "json").json()["attempt"] == 2

    unconfirmed = lifeboat("backup", "delete", name)
    assert unconfirmed.code == 1 and "add --yes" in unconfirmed.err
    assert lifeboat.ok("backup", "get", name, "-o", "json").json()["status"] == "Failed"
    assert f"deleting backup {name}" in lifeboat.ok("backup", "delete", name, "--yes").out
