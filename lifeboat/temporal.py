"""Connecting to Temporal: one place for address, namespace, TLS and API key."""

from __future__ import annotations

from temporalio.client import Client

from lifeboat.settings import Settings


async def connect(settings: Settings) -> Client:
    """A Temporal client for the configured server (dev server, self-hosted or Cloud)."""
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        api_key=settings.temporal_api_key,
        tls=settings.temporal_tls or bool(settings.temporal_api_key),
    )
