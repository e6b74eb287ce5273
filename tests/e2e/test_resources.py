"""What a worker leaves on disk when it talks to a cluster, on the real API server."""

from __future__ import annotations

import base64
import os
import stat
import tempfile
from pathlib import Path

import kubernetes.client
import pytest
import yaml

from activities.kube import SHARED_MEMORY, api_client, key_files
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


def test_a_clusters_private_key_is_written_to_memory_only(
    kubeconfig_text: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The TLS library reads a kubeconfig's client key from a file: never one on a disk."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    kubeconfig = yaml.safe_load(kubeconfig_text)
    user = kubeconfig["users"][0]["user"]
    # The client writes each distinct key once per process: a key this process never loaded
    # (the same key, behind a line of PEM's explanatory text).
    pem = base64.b64decode(user["client-key-data"])
    user["client-key-data"] = base64.b64encode(f"{unique('key')}\n".encode() + pem).decode()

    with api_client(kubeconfig) as client:
        key_file = Path(client.configuration.key_file)
        assert client.configuration.cert_file
        namespaces = kubernetes.client.CoreV1Api(client).list_namespace()

    assert "default" in {n.metadata and n.metadata.name for n in namespaces.items}
    assert list(tmp_path.iterdir()) == []
    assert key_file.parent == Path(key_files())
    assert key_file.parent.parent == Path(SHARED_MEMORY)
    assert stat.S_IMODE(os.stat(key_file.parent).st_mode) == 0o700
