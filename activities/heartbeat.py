"""Heartbeats from the worker threads that do an async activity's blocking work."""

from __future__ import annotations

import asyncio
import contextvars
import time
from typing import Any

from temporalio import activity


class ThreadHeartbeat:
    """A heartbeat callable from any thread, sent at most every `every` seconds.

    Build it inside the async activity: the heartbeat itself then runs on the activity's event
    loop, in the activity's context, where Temporal expects it.
    """

    def __init__(self, every: float = 0.0) -> None:
        self._loop = asyncio.get_running_loop()
        self._context = contextvars.copy_context()
        self._every = every
        self._last = 0.0

    def __call__(self, details: Any) -> None:
        now = time.monotonic()
        if now - self._last >= self._every:
            self._last = now
            self._loop.call_soon_threadsafe(activity.heartbeat, details, context=self._context)
