"""A running backup's live progress moves while the data mover uploads a volume.

A worker of its own, with a short LIFEBOAT_PROGRESS_INTERVAL_SECONDS, backs up a volume whose
upload spans many such intervals (rather than one long enough for the default); the test
samples GET /api/v1/backups/{uid} meanwhile.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import Any

import pytest

from deploy.local.servers.oidc import OidcProvider
from deploy.local.stack import Stack
from tests.api.helpers import platform_users, unique
from tests.conftest import Users
from tests.e2e.conftest import Kube
from tests.e2e.test_backup_restore import _bound_dir, _claim
from tests.e2e.test_prune import _start_backup

VOLUME_BYTES = 96 * 1024 * 1024
FILE_BYTES = 8 * 1024 * 1024


@pytest.fixture(scope="module")
def frequent_progress(
    stack: Stack, provider: OidcProvider, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Users]:
    """An api and a worker reporting progress every 0.2 s, on a task queue of their own."""
    home = tmp_path_factory.mktemp("progress")
    settings = {
        "LIFEBOAT_PROGRESS_INTERVAL_SECONDS": "0.2",
        "LIFEBOAT_TASK_QUEUE": unique("lifeboat-progress"),
    }
    with platform_users(stack, provider, home, settings) as users:
        yield users


def test_a_running_backups_progress_moves_while_its_volume_uploads(
    frequent_progress: Users, target: dict[str, str], kube: Kube, stack: Stack
) -> None:
    api = frequent_progress("infraadmin")
    namespace = unique("progress")
    kube.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
    _claim(kube, namespace, "bulk")
    volume = _bound_dir(stack, namespace, "bulk")
    for i in range(VOLUME_BYTES // FILE_BYTES):  # random: nothing compresses or dedupes
        (volume / f"part-{i:02d}").write_bytes(os.urandom(FILE_BYTES))

    path = f"/api/v1/backups/{_start_backup(api, target, namespace)}"
    samples: list[dict[str, Any]] = []
    deadline = time.monotonic() + 300
    while (backup := api.get(path).json())["status"] in ("Pending", "InProgress"):
        assert time.monotonic() < deadline, f"backup still {backup['status']} ({backup['stage']})"
        if backup["progress"] and backup["progress"]["volumes_moving"]:
            samples.append(backup["progress"])
        time.sleep(0.1)
    assert backup["status"] == "Success", backup["reason"]
    assert backup["size_bytes"] == VOLUME_BYTES

    # Samples taken while the volume was moving show it part way, then further on (part way
    # again, or all of it before the step ends: on a loaded machine the rest may go between
    # two samples), and never back.
    assert samples, "no sample showed a volume moving"
    assert all(s["bytes_total"] == VOLUME_BYTES for s in samples if s["bytes_done"]), samples
    done = [s["bytes_done"] for s in samples]
    midway = [d for d in done if 0 < d < VOLUME_BYTES]
    assert midway, f"no sample showed the volume part way: {samples}"
    assert max(done) > midway[0], f"progress did not move: {samples}"
    assert done == sorted(done), done
