"""The time-skipping Temporal test server the workflow tests run on: one per test module."""

from __future__ import annotations

import shutil
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio
from temporalio.testing import WorkflowEnvironment


def temporal_test_server() -> str:
    return shutil.which("temporal-test-server") or str(
        Path(sys.executable).parent / "temporal-test-server"
    )


@pytest_asyncio.fixture(scope="module")
async def env() -> AsyncIterator[WorkflowEnvironment]:
    async with await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=temporal_test_server()
    ) as environment:
        yield environment
