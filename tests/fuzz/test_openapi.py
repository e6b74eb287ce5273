"""Fuzzing the API through its served OpenAPI: no answer is a 5xx or breaks the schema.

Schemathesis generates requests from the schema (valid ones, and ones the schema says are
invalid), sends them to the running api as a signed-in super admin, and checks every answer
against the schema: status codes, content types, headers and bodies as declared, valid data
accepted, invalid data refused. Bounded (a fixed number of examples per operation) and
derandomized, so each run sends the same requests and takes the same few minutes.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from deploy.local.stack import Stack
from tests.conftest import Users

CONFIG = Path(__file__).with_name("schemathesis.toml")
SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"


@pytest.mark.fuzz
def test_the_api_keeps_to_its_schema(stack: Stack, as_user: Users, tmp_path: Path) -> None:
    token = as_user("superadmin").headers["Authorization"]
    run = subprocess.run(
        [
            str(SCHEMATHESIS), "--config-file", str(CONFIG), "--no-color",
            "run", f"{stack.api_url}/openapi.json", "--header", f"Authorization: {token}",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
    )  # fmt: skip
    (tmp_path / "schemathesis-report.txt").write_text(run.stdout + run.stderr)
    # Its report names each failure and the curl command that reproduces it.
    assert run.returncode == 0, run.stdout[-20000:] + run.stderr[-5000:]
