"""Connecting to Temporal: one place for address, namespace, TLS and API key."""

from __future__ import annotations

import asyncio
import logging

from temporalio.client import Client

from lifeboat.settings import Settings

log = logging.getLogger("lifeboat.temporal")
# What `Client.connect` raises when the server is not there (yet): refused, reset, timed out.
CONNECT_ERRORS = (RuntimeError, OSError)


async def connect(settings: Settings) -> Client:
    """A Temporal client for the configured server (dev server, self-hosted or Cloud)."""
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        api_key=settings.temporal_api_key,
        tls=settings.temporal_tls or bool(settings.temporal_api_key),
    )


async def connect_with_retry(
    settings: Settings, *, first_delay: float = 1.0, max_delay: float = 30.0
) -> Client:
    """Connect, waiting with exponential backoff while the server is unreachable (starting,
    restarting, or not deployed yet), so a process need not be started after Temporal."""
    delay = first_delay
    while True:
        try:
            return await connect(settings)
        except CONNECT_ERRORS as exc:
            log.warning(
                "the workflow service at %s is unreachable (%s); retrying in %.0f s",
                settings.temporal_address,
                exc,
                delay,
            )
        await asyncio.sleep(delay)
        delay = min(delay * 2, max_delay)
