"""The API's token check against the real provider: key rotation and every forged claim."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest

from api.auth import AuthenticationError, OidcVerifier
from deploy.local.servers.oidc import OidcProvider, password_token, start_oidc, stop_oidc
from lifeboat.settings import Settings


@pytest.fixture
def provider(tmp_path: Path) -> Iterator[OidcProvider]:
    provider = start_oidc(tmp_path)
    yield provider
    stop_oidc(tmp_path)


def _verifier(provider: OidcProvider) -> OidcVerifier:
    return OidcVerifier(
        Settings(
            oidc_issuer=provider.issuer,
            oidc_audience=provider.client_id,
            # Refetch at once on an unknown key id, so the rotation test needs no waiting.
            oidc_jwks_refetch_cooldown_seconds=0,
        )
    )


def _signed(home: Path, claims: dict[str, Any]) -> str:
    """A token signed with the provider's own key, with the claims a forger would choose."""
    jwk = json.loads((home / "jwks.json").read_text())["keys"][0]
    key = jwt.PyJWK(jwk, algorithm="RS512")
    return jwt.encode(claims, key.key, algorithm="RS512", headers={"kid": jwk["kid"]})


def test_a_real_token_names_the_user_and_groups(provider: OidcProvider) -> None:
    principal = _verifier(provider).verify(password_token(provider, "infraadmin"))
    assert principal.subject == "infraadmin"
    assert principal.email == "infraadmin@lifeboat.dev"
    assert set(principal.groups) == {"lifeboat-infra-admins", "team-payments"}


def test_rotated_keys_are_fetched_and_retired_keys_refused(
    provider: OidcProvider, tmp_path: Path
) -> None:
    verifier = _verifier(provider)
    before = password_token(provider, "appuser")
    assert verifier.verify(before).subject == "appuser"

    stop_oidc(tmp_path)
    (tmp_path / "jwks.json").unlink()  # the provider rotates to a new signing key
    rotated = start_oidc(tmp_path, port=provider.port)
    after = password_token(rotated, "appuser")
    assert jwt.get_unverified_header(after)["kid"] != jwt.get_unverified_header(before)["kid"]
    # The same verifier, with the old JWKS cached, learns the new key on its own.
    assert verifier.verify(after).subject == "appuser"
    with pytest.raises(AuthenticationError, match="signing key"):
        verifier.verify(before)


def _claims(provider: OidcProvider, **overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {
        "iss": provider.issuer, "aud": [provider.client_id], "sub": "appuser",
        "iat": now, "exp": now + 300, "groups": ["lifeboat-app-users"],
    }  # fmt: skip
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


FORGED: dict[str, tuple[dict[str, Any], str]] = {
    "expired": ({"exp": int(time.time()) - 3600}, "expired"),
    "not yet valid": ({"nbf": int(time.time()) + 3600}, "not yet valid"),
    "wrong audience": ({"aud": ["someone-else"]}, "(?i)audience"),
    "wrong issuer": ({"iss": "http://127.0.0.1:1"}, "(?i)issuer"),
    "no expiry": ({"exp": None}, "exp"),
}


@pytest.mark.parametrize("case", FORGED, ids=list(FORGED))
def test_tokens_with_forged_claims_are_refused(
    provider: OidcProvider, tmp_path: Path, case: str
) -> None:
    overrides, reason = FORGED[case]
    verifier = _verifier(provider)
    assert verifier.verify(_signed(tmp_path, _claims(provider))).subject == "appuser"
    with pytest.raises(AuthenticationError, match=reason):
        verifier.verify(_signed(tmp_path, _claims(provider, **overrides)))


def test_tampered_and_unsigned_tokens_are_refused(provider: OidcProvider) -> None:
    verifier = _verifier(provider)
    token = password_token(provider, "appuser")
    header, _payload, signature = token.split(".")
    claims = jwt.decode(token, options={"verify_signature": False})
    claims["sub"] = "superadmin"
    forged = jwt.utils.base64url_encode(json.dumps(claims).encode()).decode()
    with pytest.raises(AuthenticationError):
        verifier.verify(f"{header}.{forged}.{signature}")
    with pytest.raises(AuthenticationError, match="not allowed"):
        verifier.verify(jwt.encode(claims, key="", algorithm="none"))
    # HS256 signed with the public key as the secret: the classic confusion attack.
    with pytest.raises(AuthenticationError, match="not allowed"):
        verifier.verify(
            jwt.encode(
                claims, key="the-provider-public-key-used-as-an-hmac-secret", algorithm="HS256"
            )
        )
