"""A restore with `replace_policy: keep` keeps an existing claim, its data included; the preview
says, per volume, what the restore will do with its data.

The live volume's files are read where the dev stack's CSI driver keeps them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from deploy.local.stack import Stack
from tests.api.helpers import unique
from tests.conftest import Users
from tests.e2e.conftest import Kube
from tests.e2e.test_backup_restore import (
    _backup,
    _bound_dir,
    _checksums,
    _claim,
    _delete_namespace,
    _wait,
)


def _volumes(restore: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {v["pvc"]: v for v in restore["volumes"]}


def _backed_up_claim(
    api: httpx.Client, target: dict[str, str], kube: Kube, stack: Stack, prefix: str
) -> tuple[str, dict[str, Any], Path]:
    """A namespace whose claim `pgdata` holds a few files, backed up: the namespace, the
    backup, and the claim's volume directory."""
    namespace = unique(prefix)
    kube.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
    _claim(kube, namespace, "pgdata")
    live = _bound_dir(stack, namespace, "pgdata")
    (live / "orders.csv").write_text("id,item\n1,backed-up\n")
    (live / "log").mkdir()
    (live / "log" / "0001").write_bytes(b"backed-up" * 1000)
    backup = _backup(api, target, namespace)
    assert backup["status"] == "Success", backup["reason"]
    assert backup["volume_count"] == 1
    return namespace, backup, live


def _restored(api: httpx.Client, body: dict[str, Any]) -> dict[str, Any]:
    started = api.post("/api/v1/restores", json=body)
    assert started.status_code == 201, started.text
    restore = _wait(api, f"/api/v1/restores/{started.json()['uid']}")
    failed = [(r["name"], r["reason"]) for r in restore["resources"] if r["action"] == "failed"]
    assert restore["status"] == "Success", (restore["reason"], failed, restore["volumes"])
    return restore


def test_keep_leaves_an_existing_claims_data_untouched_and_the_preview_says_so(
    as_user: Users, target: dict[str, str], kube: Kube, stack: Stack
) -> None:
    api = as_user("infraadmin")
    namespace, backup, live = _backed_up_claim(api, target, kube, stack, "keep")
    # The application goes on writing after the backup.
    (live / "orders.csv").write_text("id,item\n1,backed-up\n2,written-later\n")
    (live / "log" / "0002").write_bytes(b"written-later")
    after_backup = _checksums(live)

    body = {"backup_uid": backup["uid"], "replace_policy": "keep"}
    restore = _restored(api, body)
    # Not one file was replaced by the backup's: what was written after it is still there.
    assert _checksums(live) == after_backup
    assert "written-later" in (live / "orders.csv").read_text()
    # And the result says the volume was kept.
    kept = _volumes(restore)["pgdata"]
    assert (kept["action"], kept["status"]) == ("keep", "Skipped"), kept
    assert "untouched" in kept["reason"]

    # A preview says what a restore does with the volume: keep it, data untouched.
    preview = api.post("/api/v1/restores/preview", json=body)
    assert preview.status_code == 200, preview.text
    planned = _volumes(preview.json())["pgdata"]
    assert (planned["namespace"], planned["action"]) == (namespace, "keep"), planned
    assert "untouched" in planned["reason"]
    # The claim object itself is kept, and says so.
    [claim] = [r for r in preview.json()["resources"] if r["kind"] == "PersistentVolumeClaim"]
    assert claim["action"] == "skip"
    # The other policy's preview says the data would be replaced.
    replacing = api.post(
        "/api/v1/restores/preview", json={**body, "replace_policy": "replace"}
    ).json()
    assert _volumes(replacing)["pgdata"]["action"] == "replace"
    assert _checksums(live) == after_backup  # previews change nothing


def test_a_restore_into_a_missing_claim_previews_create_and_fills_it(
    as_user: Users, target: dict[str, str], kube: Kube, stack: Stack
) -> None:
    api = as_user("infraadmin")
    namespace, backup, live = _backed_up_claim(api, target, kube, stack, "keep-new")
    expected = _checksums(live)
    _delete_namespace(kube, namespace)

    body = {"backup_uid": backup["uid"], "replace_policy": "keep"}
    preview = api.post("/api/v1/restores/preview", json=body)
    assert preview.status_code == 200, preview.text
    assert _volumes(preview.json())["pgdata"]["action"] == "create"

    filled = _volumes(_restored(api, body))["pgdata"]
    assert (filled["action"], filled["status"]) == ("create", "Success"), filled
    assert _checksums(_bound_dir(stack, namespace, "pgdata")) == expected


def test_replace_overwrites_an_existing_claims_data_and_says_so(
    as_user: Users, target: dict[str, str], kube: Kube, stack: Stack
) -> None:
    api = as_user("infraadmin")
    namespace, backup, live = _backed_up_claim(api, target, kube, stack, "replace")
    expected = _checksums(live)
    (live / "orders.csv").write_text("id,item\n1,changed\n")

    restore = _restored(api, {"backup_uid": backup["uid"], "replace_policy": "replace"})
    replaced = _volumes(restore)["pgdata"]
    assert (replaced["action"], replaced["status"]) == ("replace", "Success"), replaced
    # A new claim (and volume) in the old one's place, holding the backup's files.
    assert _checksums(_bound_dir(stack, namespace, "pgdata")) == expected


def test_a_restore_that_leaves_claims_out_leaves_their_data_alone(
    as_user: Users, target: dict[str, str], kube: Kube, stack: Stack
) -> None:
    api = as_user("infraadmin")
    _namespace, backup, live = _backed_up_claim(api, target, kube, stack, "types")
    (live / "orders.csv").write_text("id,item\n1,changed\n")
    after_backup = _checksums(live)

    # Only the config maps are restored, even with the replace policy: no claim, no data.
    restore = _restored(
        api,
        {"backup_uid": backup["uid"], "replace_policy": "replace", "include_types": ["configmaps"]},
    )
    assert _checksums(live) == after_backup
    assert restore["volumes"] == []
