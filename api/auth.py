"""OIDC bearer-token authentication, for any standard provider.

The discovery document gives the JWKS URI; keys are cached and refetched when a token names a
key id we have not seen (rotation). Tokens must be signed with an allowed algorithm (never
`none`, never HMAC with a public key), come from the configured issuer for our audience, and be
inside their validity window, and issued (`iat`) no longer ago than the maximum token age.
Claim paths are configurable because providers differ.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

import httpx
import jwt

from lifeboat.settings import Settings

_ASYMMETRIC = {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"}
_LEEWAY_SECONDS = 30


class AuthenticationError(Exception):
    """The token cannot be trusted; the message says why without echoing it."""


@dataclass(frozen=True)
class Principal:
    """Who is calling, as the provider says."""

    subject: str
    username: str
    email: str | None
    groups: tuple[str, ...]
    provider_roles: tuple[str, ...]


def claim(claims: dict[str, Any], path: str) -> Any:
    """The value at a dotted claim path (`realm_access.roles`), or None."""
    value: Any = claims
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def _strings(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return tuple(v.strip() for v in value.split(",") if v.strip())
    if isinstance(value, list):
        return tuple(str(v) for v in value)
    return ()


class OidcVerifier:
    """Verifies access tokens against the configured provider."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._algorithms = [a for a in settings.oidc_algorithms if a in _ASYMMETRIC]
        self._lock = threading.Lock()
        self._jwks_client: jwt.PyJWKClient | None = None
        self._discovered_at = 0.0
        self.issuer = settings.oidc_issuer.rstrip("/")

    def discovery(self) -> dict[str, Any]:
        """The provider's discovery document."""
        url = f"{self.issuer}/.well-known/openid-configuration"
        try:
            response = httpx.get(url, timeout=5)
            response.raise_for_status()
            document: dict[str, Any] = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise AuthenticationError(f"the identity provider is unreachable: {exc}") from exc
        return document

    def _jwks(self) -> jwt.PyJWKClient:
        with self._lock:
            stale = time.monotonic() - self._discovered_at > self._settings.oidc_jwks_cache_seconds
            if self._jwks_client is None or stale:
                self._jwks_client = jwt.PyJWKClient(
                    self.discovery()["jwks_uri"],
                    # The key set is cached (lifespan); caching keys by id as well would keep
                    # a key the provider retired verifying tokens until evicted.
                    cache_keys=False,
                    lifespan=self._settings.oidc_jwks_cache_seconds,
                    cooldown_duration=self._settings.oidc_jwks_refetch_cooldown_seconds,
                    timeout=5,
                )
                self._discovered_at = time.monotonic()
            return self._jwks_client

    def verify(self, token: str) -> Principal:
        """Check the token's signature and claims; return who it names."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise AuthenticationError("the bearer token is not a JWT") from exc
        if header.get("alg") not in self._algorithms:
            raise AuthenticationError(f"token algorithm {header.get('alg')!r} is not allowed")
        try:
            # An unknown key id makes PyJWKClient refetch the JWKS: keys rotate.
            key = self._jwks().get_signing_key_from_jwt(token).key
        except jwt.PyJWKClientError as exc:
            raise AuthenticationError(f"the token's signing key is unknown: {exc}") from exc
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=self._algorithms,
                audience=self._settings.oidc_audience,
                issuer=self.issuer,
                leeway=_LEEWAY_SECONDS,
                options={"require": ["exp", "iat", "iss", "aud"]},
            )
        except jwt.PyJWTError as exc:
            raise AuthenticationError(f"the token is invalid: {exc}") from exc
        s = self._settings
        if time.time() - claims["iat"] > s.oidc_max_token_age_seconds + _LEEWAY_SECONDS:
            raise AuthenticationError(
                f"the token was issued more than {s.oidc_max_token_age_seconds} seconds ago "
                "(LIFEBOAT_OIDC_MAX_TOKEN_AGE_SECONDS); sign in again"
            )
        subject = claim(claims, s.oidc_claim_user_id)
        if not subject:
            raise AuthenticationError(f"the token has no {s.oidc_claim_user_id!r} claim")
        username = claim(claims, s.oidc_claim_username) or str(subject)
        email = claim(claims, s.oidc_claim_email)
        return Principal(
            subject=str(subject),
            username=str(username),
            email=str(email) if email else None,
            groups=_strings(claim(claims, s.oidc_claim_groups)),
            provider_roles=_strings(claim(claims, s.oidc_claim_roles)),
        )
