"""Applying objects through the Kubernetes API, as a restore does, on the real API server."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
import yaml

from activities.resources import apply_objects
from deploy.local.stack import Stack
from tests.api.helpers import unique


def test_a_restore_leaves_no_discovery_cache_behind(
    stack: Stack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker exports and restores for months: each run's API discovery cache must go."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    kubeconfig = yaml.safe_load(Path(stack.kubeconfig).read_text())
    config_map = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": unique("cache"), "namespace": "default"},
        "data": {"key": "value"},
    }

    results = apply_objects(kubeconfig, [config_map], replace=False, dry_run=True)

    assert [(r.kind, r.action) for r in results] == [("ConfigMap", "create")]
    assert list(tmp_path.iterdir()) == []
