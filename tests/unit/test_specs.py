"""Typed backup and restore specs: the API's requests become them whole, and rows stored
before they existed read the same."""

from __future__ import annotations

from dataclasses import fields

import pytest
from pydantic import BaseModel

from api.routes.backups import BackupCreate
from api.routes.restores import RestoreCreate
from lifeboat.catalog.models import Backup, Restore
from lifeboat.specs import (
    BackupResolution,
    BackupSpec,
    ReplacePolicy,
    RestoreSpec,
    ScheduledBackupSpec,
)

# A backup row as a VM backup stored it before the typed specs, halfway through a retry.
STORED = {
    "namespaces": [],
    "namespace_selector": "",
    "label_selector": "",
    "include_types": [],
    "exclude_types": [],
    "include_cluster_resources": True,
    "pre_rule_uid": None,
    "post_rule_uid": "rule-1",
    "volumes": True,
    "virtual_machines": ["shop/web"],
    "resolved_namespaces": ["shop"],
    "resolved_objects": [
        ["virtualmachines.kubevirt.io", "shop", "web"],
        ["persistentvolumeclaims", "shop", "web-disk"],
    ],
    "retry_claims": [["shop", "web-disk"]],
}


@pytest.mark.parametrize(
    ("request_model", "spec", "not_in_spec", "added"),
    [
        (BackupCreate, BackupSpec, {"name", "labels", "cluster_uid", "location_uid"}, set()),
        (RestoreCreate, RestoreSpec, {"name", "backup_uid", "cluster_uid"}, {"preview"}),
        # verify_every comes from the schedule's request (ScheduleCreate), beside `backup`.
        (BackupCreate, ScheduledBackupSpec, {"name", "labels", "cluster_uid"}, {"verify_every"}),
    ],
)
def test_every_request_field_is_kept_in_its_spec(
    request_model: type[BaseModel], spec: type, not_in_spec: set[str], added: set[str]
) -> None:
    """A field added to the request and not to the spec would be accepted, then dropped."""
    requested = set(request_model.model_fields) - not_in_spec
    assert requested | added == {f.name for f in fields(spec)}


def test_a_backup_stored_before_the_typed_specs_reads_the_same() -> None:
    backup = Backup(document=dict(STORED))
    assert backup.spec == BackupSpec(post_rule_uid="rule-1", virtual_machines=["shop/web"])
    assert backup.resolution == BackupResolution(
        namespaces=["shop"],
        objects=[
            ("virtualmachines.kubevirt.io", "shop", "web"),
            ("persistentvolumeclaims", "shop", "web-disk"),
        ],
        retry_claims=[("shop", "web-disk")],
    )
    # A retry snapshots only its failed claims; else a VM backup only its VMs' claims.
    assert backup.resolution.claims == {("shop", "web-disk")}
    backup.resolution = BackupResolution(backup.resolution.namespaces, backup.resolution.objects)
    assert backup.resolution.claims == {("shop", "web-disk")}
    assert "retry_claims" not in backup.document
    # Written back, the document keeps its shape (the old code could still read it).
    assert {k: v for k, v in backup.document.items() if k != "retry_claims"} == {
        **{k: v for k, v in STORED.items() if k != "retry_claims"},
        "pre_rule_uid": "",
    }


def test_a_namespace_backup_claims_every_bound_claim() -> None:
    backup = Backup(spec=BackupSpec(namespaces=["shop"]))
    backup.resolution = BackupResolution(namespaces=["shop"])
    assert backup.resolution.claims is None
    assert backup.spec.namespaces == ["shop"]


def test_a_restore_spec_reads_its_stored_policy_typed() -> None:
    spec = RestoreSpec.from_json({"replace_policy": "replace", "namespace_mapping": {"a": "b"}})
    assert spec.replace_policy is ReplacePolicy.REPLACE and spec.replace
    assert spec.target_namespace("a") == "b" and spec.target_namespace("c") == "c"
    assert Restore(spec=spec).spec.to_json()["replace_policy"] == "replace"
