"""Signing in at the API's OIDC provider: discovery, the password grant and refresh."""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx

from cli.errors import CliError, Exit

SCOPES = "openid profile email groups"
TIMEOUT = 30.0
# The loopback redirect URI: providers match it exactly, so its port is fixed (the dev provider
# registers it, deploy/local/servers/oidc.py).
CALLBACK_PORT = 8250
CALLBACK_PATH = "/callback"
SIGN_IN_TIMEOUT_SECONDS = 300
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


def discover(issuer: str) -> dict[str, Any]:
    """The provider's discovery document (its endpoints)."""
    url = f"{issuer}/.well-known/openid-configuration"
    try:
        response = httpx.get(url, timeout=TIMEOUT)
        response.raise_for_status()
    except httpx.HTTPError as exc:
        raise unreachable("identity provider", issuer, exc) from exc
    document: dict[str, Any] = response.json()
    return document


def _client_auth(client_id: str, client_secret: str) -> dict[str, Any]:
    """A confidential client authenticates with HTTP basic auth, a public one names itself."""
    if client_secret:
        return {"auth": (client_id, client_secret), "data": {}}
    return {"auth": None, "data": {"client_id": client_id}}


def _request_tokens(
    issuer: str, client_id: str, client_secret: str, grant: dict[str, str]
) -> Tokens:
    client = _client_auth(client_id, client_secret)
    endpoint = discover(issuer)["token_endpoint"]
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


def _loopback(port: int) -> tuple[HTTPServer, threading.Event, dict[str, str]]:
    """A server on 127.0.0.1:`port` that receives the provider's redirect with the code (or
    the error) once: the event is set when it has, the dict holds the query."""
    received: dict[str, str] = {}
    done = threading.Event()

    class Callback(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            if parts.path != CALLBACK_PATH or done.is_set():
                self.send_error(404)
                return
            received.update((key, values[0]) for key, values in parse_qs(parts.query).items())
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.end_headers()
            self.wfile.write(b"Signed in to Lifeboat: you may close this page.\n")
            done.set()

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the code must not end up in a terminal's scrollback."""

    try:
        server = HTTPServer(("127.0.0.1", port), Callback)
    except OSError as exc:
        raise CliError(
            f"cannot listen on 127.0.0.1:{port} for the sign-in's redirect ({exc.strerror}): "
            "another `lifeboat login` may be waiting; finish it, or use --username",
            Exit.SIGN_IN,
        ) from exc
    return server, done, received


def authorization_code_grant(
    issuer: str,
    client_id: str,
    client_secret: str,
    open_url: Callable[[str], None],
    port: int = CALLBACK_PORT,
) -> Tokens:
    """Tokens by the authorization code grant with PKCE (S256) through a loopback redirect:
    `open_url` shows the provider's sign-in page (a browser, or a URL to open)."""
    endpoints = discover(issuer)
    redirect_uri = f"http://127.0.0.1:{port}{CALLBACK_PATH}"
    verifier = secrets.token_urlsafe(64)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    state = secrets.token_urlsafe(16)
    server, done, answer = _loopback(port)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        query = {
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": redirect_uri,
            "scope": SCOPES,
            "state": state,
            # OIDC providers (Canaille among them) require a nonce with the openid scope.
            "nonce": secrets.token_urlsafe(16),
            "code_challenge": challenge.decode().rstrip("="),
            "code_challenge_method": "S256",
        }
        open_url(f"{endpoints['authorization_endpoint']}?{urlencode(query)}")
        if not done.wait(SIGN_IN_TIMEOUT_SECONDS):
            raise CliError(
                f"no sign-in within {SIGN_IN_TIMEOUT_SECONDS} s: run `lifeboat login` again",
                Exit.SIGN_IN,
            )
    finally:
        server.shutdown()
        server.server_close()
    if answer.get("state") != state:
        raise CliError("the sign-in's answer does not match its request: try again", Exit.SIGN_IN)
    if "code" not in answer:
        reason = answer.get("error_description") or answer.get("error") or "no code"
        raise CliError(f"the identity provider refused the sign-in: {reason}", Exit.SIGN_IN)
    grant = {
        "grant_type": "authorization_code",
        "code": answer["code"],
        "redirect_uri": redirect_uri,
        "code_verifier": verifier,
    }
    return _request_tokens(issuer, client_id, client_secret, grant)
