"""Signing in at the API's OIDC provider: discovery; the password, authorization code (PKCE)
and device authorization grants; the ID token's check; refresh."""

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
DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
# Refresh a little before the access token expires, so it does not expire in flight.
EXPIRY_MARGIN_SECONDS = 30


@dataclass(frozen=True)
class Tokens:
    access_token: str
    refresh_token: str
    expires_at: float
    id_token: str = ""


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


def _post(
    issuer: str, endpoint: str, client_id: str, client_secret: str, data: dict[str, str]
) -> tuple[int, dict[str, Any]]:
    """The provider's status and JSON answer to a form posted to `endpoint` as the client."""
    client = _client_auth(client_id, client_secret)
    try:
        response = httpx.post(
            endpoint, data={**client["data"], **data}, auth=client["auth"], timeout=TIMEOUT
        )
    except httpx.HTTPError as exc:
        raise unreachable("identity provider", issuer, exc) from exc
    body = (
        response.json()
        if response.headers.get("content-type", "").startswith("application/json")
        else {"error": response.text[:200]}
    )
    return response.status_code, body


def _token_call(
    issuer: str, client_id: str, client_secret: str, grant: dict[str, str]
) -> tuple[int, dict[str, Any]]:
    """The token endpoint's status and JSON answer for `grant`."""
    endpoint = discover(issuer)["token_endpoint"]
    return _post(issuer, endpoint, client_id, client_secret, grant)


def _refused(body: dict[str, Any]) -> CliError:
    reason = body.get("error_description") or body.get("error") or "no reason given"
    return CliError(f"the identity provider refused the sign-in: {reason}", Exit.SIGN_IN)


def _tokens(body: dict[str, Any]) -> Tokens:
    return Tokens(
        access_token=body["access_token"],
        refresh_token=body.get("refresh_token", ""),
        expires_at=time.time() + float(body.get("expires_in", 300)) - EXPIRY_MARGIN_SECONDS,
        id_token=body.get("id_token", ""),
    )


def _request_tokens(
    issuer: str, client_id: str, client_secret: str, grant: dict[str, str]
) -> Tokens:
    status, body = _token_call(issuer, client_id, client_secret, grant)
    if status != 200:
        raise _refused(body)
    return _tokens(body)


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
    nonce = secrets.token_urlsafe(16)
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
            # Binds the ID token to this request; OIDC providers (Canaille among them) require
            # it with the openid scope.
            "nonce": nonce,
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
    tokens = _request_tokens(issuer, client_id, client_secret, grant)
    check_id_token(endpoints, client_id, tokens.id_token, nonce)
    return tokens


def check_id_token(endpoints: dict[str, Any], client_id: str, id_token: str, nonce: str) -> None:
    """The ID token is the provider's, signed with a key it publishes, for this client, and
    answers this sign-in's request (its nonce): else a replayed or injected code signed in."""
    if not id_token:
        raise CliError("the identity provider sent no ID token: try again", Exit.SIGN_IN)
    # Imported here: only this sign-in checks a signature, and every other command would pay
    # for loading the cryptography library.
    import jwt

    offered = endpoints.get("id_token_signing_alg_values_supported", ["RS256"])
    algorithms = [a for a in offered if a != "none"]  # an unsigned token proves nothing
    try:
        key = jwt.PyJWKClient(endpoints["jwks_uri"]).get_signing_key_from_jwt(id_token)
        claims = jwt.decode(
            id_token,
            # The bare key: providers (Canaille among them) label a key RS256 in their key
            # set and sign with it by another of the algorithms they announce.
            key.key,
            algorithms=algorithms,
            audience=client_id,
            issuer=endpoints["issuer"],
        )
    except jwt.PyJWTError as exc:
        raise CliError(
            f"the identity provider's ID token does not check out ({exc}): try again",
            Exit.SIGN_IN,
        ) from exc
    if not secrets.compare_digest(str(claims.get("nonce", "")), nonce):
        raise CliError(
            "the ID token answers another sign-in (its nonce is not this one's): nobody is "
            "signed in; run `lifeboat login` again",
            Exit.SIGN_IN,
        )


def device_grant(
    issuer: str,
    client_id: str,
    client_secret: str,
    show_code: Callable[[str, str], None],
) -> Tokens:
    """Tokens by the device authorization grant (RFC 8628): `show_code` tells the person the
    address to open on any device and the code to enter there; then the provider is polled."""
    endpoints = discover(issuer)
    endpoint = endpoints.get("device_authorization_endpoint")
    if not endpoint:
        raise CliError(
            f"the identity provider at {issuer} does not offer the device authorization grant: "
            "sign in without --device (in a browser), or with --username",
            Exit.NOT_OFFERED,
        )
    status, device = _post(issuer, endpoint, client_id, client_secret, {"scope": SCOPES})
    if status != 200:
        raise _refused(device)
    address = device.get("verification_uri_complete") or device["verification_uri"]
    show_code(address, device["user_code"])
    interval = float(device.get("interval", 5))
    deadline = time.monotonic() + float(device.get("expires_in", SIGN_IN_TIMEOUT_SECONDS))
    grant = {"grant_type": DEVICE_CODE_GRANT, "device_code": device["device_code"]}
    while time.monotonic() < deadline:
        time.sleep(interval)
        status, body = _token_call(issuer, client_id, client_secret, grant)
        if status == 200:
            return _tokens(body)
        if body.get("error") == "slow_down":
            interval += 5  # RFC 8628 section 3.5
        elif body.get("error") != "authorization_pending":
            raise _refused(body)
    raise CliError(
        "the code expired before anyone signed in: run `lifeboat login` again", Exit.SIGN_IN
    )
