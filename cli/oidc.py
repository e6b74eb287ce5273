"""Signing in at the API's OIDC provider: discovery, the password grant and refresh."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import httpx

from cli.errors import CliError, Exit

SCOPES = "openid profile email groups"
TIMEOUT = 30.0
# Refresh a little before the access token expires, so it does not expire in flight.
EXPIRY_MARGIN_SECONDS = 30


@dataclass(frozen=True)
class Tokens:
    access_token: str
    refresh_token: str
    expires_at: float


def unreachable(what: str, url: str, exc: httpx.HTTPError) -> CliError:
    return CliError(
        f"cannot reach the {what} at {url} ({exc.__class__.__name__}: {exc}): check the URL "
        "and that it is running",
        Exit.UNREACHABLE,
    )


def token_endpoint(issuer: str) -> str:
    url = f"{issuer}/.well-known/openid-configuration"
    try:
        response = httpx.get(url, timeout=TIMEOUT)
        response.raise_for_status()
    except httpx.HTTPError as exc:
        raise unreachable("identity provider", issuer, exc) from exc
    endpoint: str = response.json()["token_endpoint"]
    return endpoint


def _client_auth(client_id: str, client_secret: str) -> dict[str, Any]:
    """A confidential client authenticates with HTTP basic auth, a public one names itself."""
    if client_secret:
        return {"auth": (client_id, client_secret), "data": {}}
    return {"auth": None, "data": {"client_id": client_id}}


def _request_tokens(
    issuer: str, client_id: str, client_secret: str, grant: dict[str, str]
) -> Tokens:
    client = _client_auth(client_id, client_secret)
    endpoint = token_endpoint(issuer)
    try:
        response = httpx.post(
            endpoint, data={**client["data"], **grant}, auth=client["auth"], timeout=TIMEOUT
        )
    except httpx.HTTPError as exc:
        raise unreachable("identity provider", issuer, exc) from exc
    body = (
        response.json()
        if response.headers.get("content-type", "").startswith("application/json")
        else {}
    )
    if response.status_code != 200:
        reason = body.get("error_description") or body.get("error") or response.text[:200]
        raise CliError(f"the identity provider refused the sign-in: {reason}", Exit.SIGN_IN)
    return Tokens(
        access_token=body["access_token"],
        refresh_token=body.get("refresh_token", ""),
        expires_at=time.time() + float(body.get("expires_in", 300)) - EXPIRY_MARGIN_SECONDS,
    )


def password_grant(
    issuer: str, client_id: str, client_secret: str, username: str, password: str
) -> Tokens:
    """Tokens for a user name and password (the dev stack and CI)."""
    grant = {"grant_type": "password", "username": username, "password": password}
    return _request_tokens(issuer, client_id, client_secret, {**grant, "scope": SCOPES})


def refresh_grant(issuer: str, client_id: str, client_secret: str, refresh_token: str) -> Tokens:
    """New tokens for a refresh token; the provider may rotate the refresh token."""
    grant = {"grant_type": "refresh_token", "refresh_token": refresh_token}
    tokens = _request_tokens(issuer, client_id, client_secret, grant)
    return Tokens(tokens.access_token, tokens.refresh_token or refresh_token, tokens.expires_at)
