"""The installed `lifeboat` script: the admin verbs stay, and the help documents exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(sys.executable).parent / "lifeboat"


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SCRIPT), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "200"},
    )


def test_openapi_prints_the_document_with_the_sign_in_route() -> None:
    done = _run("openapi")
    assert done.returncode == 0, done.stderr
    paths = json.loads(done.stdout)["paths"]
    assert "/api/v1/auth-config" in paths and "/api/v1/backups" in paths


def test_help_lists_the_commands_and_the_exit_codes() -> None:
    done = _run("--help")
    assert done.returncode == 0, done.stderr
    for command in ("login", "whoami", "cluster", "backup", "restore", "openapi", "migrate"):
        assert command in done.stdout
    assert "3 not signed in or sign-in expired" in " ".join(done.stdout.split())
