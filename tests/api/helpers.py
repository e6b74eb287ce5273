"""Small helpers for API tests."""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def wait_for_sync(
    api: httpx.Client, uid: str, *, after: str | None = None, timeout: float = 60
) -> dict[str, Any]:
    """The cluster once a sync newer than `after` has been recorded."""
    deadline = time.monotonic() + timeout
    while True:
        response = api.get(f"/api/v1/clusters/{uid}")
        assert response.status_code == 200, response.text
        cluster: dict[str, Any] = response.json()
        if cluster["last_synced_at"] and cluster["last_synced_at"] != after:
            return cluster
        assert time.monotonic() < deadline, f"no sync recorded within {timeout}s: {cluster}"
        time.sleep(0.3)
