"""The dev OIDC provider: a separate process whose tokens verify like any provider's."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest

from deploy.local.servers.oidc import (
    CLIENT_ID,
    CLIENT_SECRET,
    DEV_PASSWORD,
    DISCOVERY_PATH,
    ROLE_GROUPS,
    SEEDED_USERS,
    OidcProvider,
    SeededUser,
    password_token,
    running_oidc,
    start_oidc,
    stop_oidc,
)
from deploy.local.servers.procs import HOST, ManagedProcess, free_port, pid_alive, tcp_open

# What a relying party should accept from this provider; never "none".
ALGORITHMS = ["RS256", "RS384", "RS512"]


@pytest.fixture(scope="module")
def provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OidcProvider]:
    home = tmp_path_factory.mktemp("oidc")
    started = start_oidc(home, port=free_port())
    try:
        yield started
    finally:
        stop_oidc(home)


def discovery(provider: OidcProvider) -> dict[str, Any]:
    response = httpx.get(provider.issuer + DISCOVERY_PATH)
    response.raise_for_status()
    document: dict[str, Any] = response.json()
    return document


def verify(provider: OidcProvider, token: str) -> dict[str, Any]:
    """Verify the token as a relying party would: key by `kid` from the JWKS, iss, aud, exp."""
    jwks = httpx.get(discovery(provider)["jwks_uri"]).json()
    kid = jwt.get_unverified_header(token)["kid"]
    (key,) = [jwt.PyJWK(k) for k in jwks["keys"] if k["kid"] == kid]
    # The raw key, not the PyJWK: a JWK without "alg" would pin RS256 and refuse RS512.
    claims: dict[str, Any] = jwt.decode(
        token,
        key.key,
        algorithms=ALGORITHMS,
        audience=CLIENT_ID,
        issuer=provider.issuer,
        options={"require": ["iss", "sub", "aud", "exp", "iat"]},
    )
    return claims


def test_discovery_names_the_issuer_and_endpoints_on_loopback(provider: OidcProvider) -> None:
    document = discovery(provider)

    assert document["issuer"] == f"http://{HOST}:{provider.port}" == provider.issuer
    for endpoint in ("token_endpoint", "jwks_uri", "authorization_endpoint"):
        assert document[endpoint].startswith(provider.issuer + "/")
    assert "password" in document["grant_types_supported"]
    assert "groups" in document["scopes_supported"]
    oauth = httpx.get(provider.issuer + "/.well-known/oauth-authorization-server").json()
    assert oauth["issuer"] == provider.issuer


def test_jwks_publishes_one_rsa_key_without_private_parts(provider: OidcProvider) -> None:
    keys = httpx.get(discovery(provider)["jwks_uri"]).json()["keys"]

    assert [key["kty"] for key in keys] == ["RSA"]
    assert keys[0]["kid"]
    assert not {"d", "p", "q"} & keys[0].keys()


def test_seeded_users_cover_every_role_and_one_without_role() -> None:
    role_groups = set(ROLE_GROUPS.values())
    roleless = [user for user in SEEDED_USERS if not role_groups & set(user.groups)]

    assert set(ROLE_GROUPS) == {"super-admin", "infra-admin", "app-admin", "app-user"}
    assert role_groups <= {group for user in SEEDED_USERS for group in user.groups}
    assert [user.username for user in roleless] == ["nobody"]


@pytest.mark.parametrize("user", SEEDED_USERS, ids=lambda user: user.username)
def test_password_grant_gives_a_verifiable_token_with_the_users_groups(
    provider: OidcProvider, user: SeededUser
) -> None:
    token = password_token(provider, user.username, user.password)
    claims = verify(provider, token)

    assert claims["iss"] == provider.issuer
    assert claims["sub"] == user.username
    assert CLIENT_ID in claims["aud"]
    assert claims["exp"] > claims["iat"]
    assert claims["email"] == user.email
    # Canaille leaves the claim out for a user in no group, as most providers do.
    assert sorted(claims.get("groups", [])) == sorted(user.groups)
    assert jwt.get_unverified_header(token)["alg"] in ALGORITHMS


def test_wrong_password_and_unknown_user_are_refused(provider: OidcProvider) -> None:
    with pytest.raises(httpx.HTTPStatusError) as wrong_password:
        password_token(provider, "appuser", "not-the-password")
    with pytest.raises(httpx.HTTPStatusError) as unknown_user:
        password_token(provider, "no-such-user")

    assert wrong_password.value.response.status_code == 400
    assert "access_token" not in wrong_password.value.response.json()
    assert unknown_user.value.response.status_code == 400


def test_client_may_send_its_secret_in_the_form_but_not_a_wrong_one(
    provider: OidcProvider,
) -> None:
    token_endpoint = discovery(provider)["token_endpoint"]
    form = {"grant_type": "password", "username": "appuser", "password": DEV_PASSWORD}

    by_post = httpx.post(
        token_endpoint, data={**form, "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
    )
    wrong_secret = httpx.post(token_endpoint, data=form, auth=(CLIENT_ID, "wrong"))

    assert by_post.status_code == 200
    assert verify(provider, by_post.json()["access_token"])["sub"] == "appuser"
    assert wrong_secret.status_code == 401


def test_stop_ends_the_process_and_restart_keeps_the_signing_key(tmp_path: Path) -> None:
    first = start_oidc(tmp_path, port=free_port())
    pid = ManagedProcess("oidc", tmp_path).pid()
    assert pid is not None
    assert running_oidc(tmp_path) == first
    token = password_token(first, "superadmin")

    stop_oidc(tmp_path)

    assert not pid_alive(pid)
    assert not tcp_open(first.port)
    assert running_oidc(tmp_path) is None

    second = start_oidc(tmp_path, port=first.port)
    try:
        assert ManagedProcess("oidc", tmp_path).pid() not in (None, pid)
        assert verify(second, token)["groups"] == [ROLE_GROUPS["super-admin"]]
    finally:
        stop_oidc(tmp_path)
