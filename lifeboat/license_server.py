"""The vendor's license server, as a subscription uses it: an activation id for a license key.

    POST <server>/v1/activations
    {"activation_id": "...", "installation_id": "...", "nodes_used": 3}
    200 {"license_key": "lifeboat-license-v1...."}   404/403 {"error": "..."} (no such or
    ended subscription: asking again does not help)

The key returned is checked like any other (signature, installation) before it is stored.
"""

from __future__ import annotations

import httpx

TIMEOUT_SECONDS = 20.0


class LicenseServerError(Exception):
    """The license server gave no license: `permanent` when asking again will not help."""

    def __init__(self, message: str, *, permanent: bool) -> None:
        super().__init__(message)
        self.permanent = permanent


async def activate(
    server_url: str, *, activation_id: str, installation_id: str, nodes_used: int
) -> str:
    """A license key for this installation from the subscription's activation id."""
    body = {
        "activation_id": activation_id,
        "installation_id": installation_id,
        "nodes_used": nodes_used,
    }
    url = server_url.rstrip("/") + "/v1/activations"
    try:
        async with httpx.AsyncClient(timeout=TIMEOUT_SECONDS) as client:
            response = await client.post(url, json=body)
    except httpx.HTTPError as exc:
        raise LicenseServerError(
            f"the license server {server_url} cannot be reached: {exc}", permanent=False
        ) from exc
    if response.status_code in (403, 404):
        reason = _error(response)
        raise LicenseServerError(
            f"the license server refused the activation id: {reason}", permanent=True
        )
    if response.status_code != 200:
        raise LicenseServerError(
            f"the license server answered {response.status_code}: {_error(response)}",
            permanent=False,
        )
    key = response.json().get("license_key") if _is_json(response) else None
    if not isinstance(key, str):
        raise LicenseServerError(
            "the license server's answer holds no license_key", permanent=False
        )
    return key


def _is_json(response: httpx.Response) -> bool:
    content_type: str = response.headers.get("content-type", "")
    return content_type.startswith("application/json")


def _error(response: httpx.Response) -> str:
    if _is_json(response):
        error = response.json().get("error")
        if isinstance(error, str):
            return error[:500]
    return response.text[:500]
