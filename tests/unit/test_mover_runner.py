"""Where the data mover runs: the setting, Job names, and the progress read from a Job's logs."""

from __future__ import annotations

import asyncio
import re
import uuid
from typing import Any

import pytest
from pydantic import ValidationError

from activities.mover import Progress, ResumeState
from activities.mover.__main__ import _print_progress
from activities.mover.runners import JobMover, LocalMover, MoverTask, mover_for
from activities.mover.runners.job import Connection, _parse_progress
from lifeboat.settings import MoverRunner, Settings

LABEL_VALUE = re.compile(r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?")


def test_the_setting_chooses_the_runner(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LIFEBOAT_MOVER_RUNNER", raising=False)
    monkeypatch.setenv("LIFEBOAT_MOVER_IMAGE", "lifeboat:1.2.3")
    # The product runs the mover as a Job; only the dev stack (its own setting) runs it locally.
    assert Settings().mover_runner is MoverRunner.JOB
    assert isinstance(mover_for(Settings()), JobMover)
    monkeypatch.setenv("LIFEBOAT_MOVER_RUNNER", "local")
    assert isinstance(mover_for(Settings()), LocalMover)
    monkeypatch.setenv("LIFEBOAT_MOVER_RUNNER", "pod")
    with pytest.raises(ValidationError, match="mover_runner"):
        Settings()


def test_job_names_are_stable_and_fit_a_label_value() -> None:
    uid = str(uuid.uuid4())
    short = MoverTask("restore", "shop", "pgdata", "pgdata", "restore.lifeboat.dev/uid", uid)
    assert short.job_name == f"lifeboat-restore-{uid.split('-')[0]}-pgdata"
    for claim in ("d" * 253, "data." + "x" * 60, "a-" * 40 + "b"):
        task = MoverTask("backup", "shop", claim, "tmp", "backup.lifeboat.dev/uid", uid)
        assert len(task.job_name) <= 63 and LABEL_VALUE.fullmatch(task.job_name), task.job_name
        assert task.job_name == MoverTask("backup", "shop", claim, "other", "x", uid).job_name
    longer = MoverTask("backup", "shop", "d" * 253, "tmp", "backup.lifeboat.dev/uid", uid)
    other = MoverTask("backup", "shop", "d" * 252 + "e", "tmp", "backup.lifeboat.dev/uid", uid)
    assert longer.job_name != other.job_name


def test_the_progress_lines_of_the_command_are_read_back(
    capsys: pytest.CaptureFixture[str],
) -> None:
    progress = Progress("backup", 3, 10, 4096, 65536, 2048, ResumeState("run-1", 2, 4000, 1))
    _print_progress(progress)
    _print_progress(Progress("restore", 1, 2, 3, 4, 5))
    first, second = capsys.readouterr().err.splitlines()
    assert _parse_progress(first) == progress
    assert _parse_progress(second) == Progress("restore", 1, 2, 3, 4, 5)
    assert _parse_progress("error: could not list 'chunks/'") is None
    assert _parse_progress('{"snapshot_id": "x"}') is None


def test_a_watched_job_gets_a_new_client_from_a_fresh_kubeconfig_in_time() -> None:
    """A Job is watched for hours; credentials replaced meanwhile must be picked up."""
    fetched: list[str] = []

    async def connect() -> dict[str, Any]:
        token = f"token-{len(fetched)}"
        fetched.append(token)
        return {
            "apiVersion": "v1", "kind": "Config", "current-context": "c",
            "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:6443"}}],
            "users": [{"name": "u", "user": {"token": token}}],
            "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
        }  # fmt: skip

    async def tokens(renew_seconds: float) -> list[str]:
        connection = Connection(connect, renew_seconds)
        try:
            return [
                (await connection.client()).configuration.api_key["BearerToken"] for _ in range(3)
            ]
        finally:
            connection.close()

    assert asyncio.run(tokens(600)) == ["Bearer token-0"] * 3
    assert asyncio.run(tokens(0)) == ["Bearer token-1", "Bearer token-2", "Bearer token-3"]
