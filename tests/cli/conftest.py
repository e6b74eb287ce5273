"""Fixtures of the command-line tests: the real `lifeboat` command, run as a subprocess."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from deploy.local.servers.oidc import CLIENT_SECRET, DEV_PASSWORD
from deploy.local.stack import Stack
from tests.e2e.conftest import target

__all__ = ["target"]  # a cluster and a backup location of infraadmin's

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Result:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


class Lifeboat:
    """`python -m cli` with its own config file, as one person at one terminal."""

    def __init__(self, config: Path, server: str) -> None:
        self.config = config
        self.server = server

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "cli", *args]

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "LIFEBOAT_CONFIG": str(self.config),
            "LIFEBOAT_CLIENT_SECRET": CLIENT_SECRET,
            "COLUMNS": "200",
        }

    def __call__(self, *args: str, stdin: str = "", timeout: float = 600) -> Result:
        done = subprocess.run(
            self.command(*args),
            input=stdin,
            capture_output=True,
            text=True,
            env=self.env(),
            cwd=ROOT,
            timeout=timeout,
        )
        return Result(done.returncode, done.stdout, done.stderr)

    def at_a_terminal(self, typed: str, *args: str) -> Result:
        """The command with a terminal for standard input, at which `typed` is typed."""
        controller, terminal = pty.openpty()
        os.write(controller, typed.encode())
        try:
            done = subprocess.run(
                self.command(*args),
                stdin=terminal,
                capture_output=True,
                text=True,
                env=self.env(),
                cwd=ROOT,
                timeout=600,
            )
        finally:
            os.close(terminal)
            os.close(controller)
        return Result(done.returncode, done.stdout, done.stderr)

    def ok(self, *args: str, stdin: str = "") -> Result:
        result = self(*args, stdin=stdin)
        assert result.code == 0, (args, result)
        assert "Traceback" not in result.err, result.err
        return result

    def login(self, username: str) -> Result:
        return self.ok(
            "login", "--server", self.server, "--username", username, "--password-stdin",
            stdin=DEV_PASSWORD + "\n",
        )  # fmt: skip


@pytest.fixture
def lifeboat(stack: Stack, tmp_path: Path) -> Lifeboat:
    """A terminal nobody signed in at yet, for the tests of signing in and contexts."""
    return Lifeboat(tmp_path / "lifeboat" / "config.yaml", stack.api_url)


class SignedIn:
    """One terminal per dev user, signed in once for the session: the tests that only use a
    sign-in (not change it) share it."""

    def __init__(self, root: Path, server: str) -> None:
        self._root = root
        self._server = server
        self._terminals: dict[str, Lifeboat] = {}

    def __call__(self, username: str) -> Lifeboat:
        if username not in self._terminals:
            terminal = Lifeboat(self._root / username / "config.yaml", self._server)
            terminal.login(username)
            self._terminals[username] = terminal
        return self._terminals[username]


@pytest.fixture(scope="session")
def signed_in(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> SignedIn:
    return SignedIn(tmp_path_factory.mktemp("signed-in"), stack.api_url)
