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
    commands = (
        "login", "whoami", "cluster", "namespace", "backup", "restore", "location", "policy",
        "rule", "schedule", "receiver", "subscription", "share", "user", "group", "role",
        "status", "license", "openapi", "migrate",
    )  # fmt: skip
    listed = {line.strip("│ ").split(" ")[0] for line in done.stdout.splitlines()}
    assert set(commands) <= listed, listed
    assert "3 not signed in or sign-in expired" in " ".join(done.stdout.split())
    schedule = _run("schedule", "--help")
    for verb in ("create", "suspend", "resume", "run-now", "delete"):
        assert verb in schedule.stdout


def test_help_shows_the_notification_commands_in_their_own_panel() -> None:
    panel = _run("--help").stdout.split("─ Notifications ")[1].split("╰")[0]
    assert "receiver" in panel and "subscription" in panel, panel
    receiver = _run("receiver", "--help").stdout
    for verb in ("list", "get", "create", "edit", "test", "delete"):
        assert f"│ {verb} " in receiver, receiver
    subscription = _run("subscription", "--help").stdout
    for verb in ("list", "get", "create", "edit", "delete"):
        assert f"│ {verb} " in subscription, subscription


def test_shell_completion_installs_and_completes(tmp_path: Path) -> None:
    """Typer's --install-completion, from a bash (the shell it detects), into $HOME."""
    env = {**os.environ, "HOME": str(tmp_path)}
    installed = subprocess.run(
        ["bash", "-c", f"{SCRIPT} --install-completion; exit $?"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert installed.returncode == 0, installed.stderr
    script = tmp_path / ".bash_completions" / "lifeboat.sh"
    assert f"source '{script}'" in (tmp_path / ".bashrc").read_text()
    assert "_LIFEBOAT_COMPLETE" in script.read_text()
    completed = subprocess.run(
        [str(SCRIPT)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**env, "_LIFEBOAT_COMPLETE": "complete_bash", "COMP_WORDS": "lifeboat sch",
             "COMP_CWORD": "1"},
    )  # fmt: skip
    assert completed.stdout.split() == ["schedule"], completed
