"""`lifeboat backup verify` and `lifeboat location check-repository`, with --wait: the result
is shown, and the exit code says whether it passed."""

from __future__ import annotations

from pathlib import Path

from deploy.local.sample_app import NAMESPACE, deploy_sample_app
from deploy.local.stack import Stack
from tests.api.helpers import dev_location, dev_s3
from tests.cli.conftest import SignedIn
from tests.conftest import Users
from tests.e2e.test_backup_restore import _wait


def test_verify_a_backup_and_check_its_repository_from_the_command_line(
    signed_in: SignedIn, stack: Stack, target: dict[str, str], as_user: Users
) -> None:
    deploy_sample_app(Path(stack.kubeconfig), Path(stack.csi_home))
    api = as_user("infraadmin")
    location = dev_location(api, stack)
    started = api.post(
        "/api/v1/backups",
        json={"cluster_uid": target["cluster"], "location_uid": location["location"],
              "namespaces": [NAMESPACE]},
    )  # fmt: skip
    assert started.status_code == 201, started.text
    backup = _wait(api, f"/api/v1/backups/{started.json()['uid']}")
    assert backup["status"] == "Success", backup["reason"]
    lifeboat = signed_in("infraadmin")

    verified = lifeboat.ok("backup", "verify", backup["name"], "--wait", "-o", "json").json()
    assert verified["status"] == "Passed" and verified["differences_total"] == 0
    assert [v["pvc"] for v in verified["volumes"]] == ["orders"]
    shown = lifeboat.ok("backup", "verify", backup["uid"], "--wait").out
    assert "Passed" in shown and "differences: none" in shown

    name = api.get(f"/api/v1/backup-locations/{location['location']}").json()["name"]
    checked = lifeboat.ok(
        "location", "check-repository", name, "--sample-fraction", "1", "--wait", "-o", "json"
    ).json()
    assert checked["status"] == "Passed" and checked["chunks_sampled"] == checked["chunks"]

    # A chunk gone behind Lifeboat's back: the check fails (exit 5), naming the backup.
    s3 = dev_s3(stack)
    [first, *_] = s3.list_objects(
        location["bucket"], prefix="lifeboat-data/v1/packs/", recursive=True
    )
    s3.remove_object(location["bucket"], str(first.object_name))
    failed = lifeboat("location", "check-repository", name, "--wait")
    assert failed.code == 5, failed
    assert "missing" in failed.out and backup["name"] in failed.out
    assert f"the repository check of location {name} ended Failed" in failed.err
    refused = lifeboat("location", "check-repository", name, "--sample-fraction", "2")
    assert refused.code == 2 and "--sample-fraction" in refused.err
