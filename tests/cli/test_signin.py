"""Signing in with the password grant, contexts, refresh, sign-out, and the errors on the way."""

from __future__ import annotations

import stat

import pytest
import yaml

from tests.cli.conftest import Lifeboat, SignedIn

ROLES = {
    "superadmin": "lifeboat.super-admin",
    "infraadmin": "lifeboat.infra-admin",
    "appadmin": "lifeboat.app-admin",
    "appuser": "lifeboat.app-user",
}


@pytest.mark.parametrize("username", sorted(ROLES))
def test_each_role_signs_in_and_whoami_shows_its_role(signed_in: SignedIn, username: str) -> None:
    lifeboat = signed_in(username)  # the password grant; the other tests reuse the sign-in
    me = lifeboat.ok("whoami", "-o", "json").json()
    assert me["username"] == username
    assert ROLES[username] in me["roles"]
    table = lifeboat.ok("whoami").out
    assert username in table and ROLES[username] in table
    # Tokens are the user's alone: the file is readable by its owner only.
    assert stat.S_IMODE(lifeboat.config.stat().st_mode) == 0o600


def test_contexts_switch_between_sign_ins_and_logout_forgets_one(lifeboat: Lifeboat) -> None:
    lifeboat.login("appuser")
    # The API's URL as `make up` prints it ($API, ending in /api/v1) is the same server.
    lifeboat.server += "/api/v1"
    lifeboat.login("infraadmin")
    lifeboat.server = lifeboat.server.removesuffix("/api/v1")
    listed = lifeboat.ok("context", "list").out
    # Tables through a pipe are plain columns, without box drawing.
    assert listed.splitlines()[0].split() == ["current", "name", "server", "user"]
    host = lifeboat.server.removeprefix("http://")
    assert f"appuser@{host}" in listed and f"infraadmin@{host}" in listed
    current = [line.split()[0] for line in listed.splitlines() if f"infraadmin@{host}" in line]
    assert current == ["*"]
    assert lifeboat.ok("whoami", "-o", "json").json()["username"] == "infraadmin"

    lifeboat.ok("context", "use", f"appuser@{host}")
    assert lifeboat.ok("whoami", "-o", "json").json()["username"] == "appuser"

    unknown = lifeboat("context", "use", "staging")
    assert unknown.code == 1 and "no context 'staging'" in unknown.err

    lifeboat.ok("logout")
    signed_out = lifeboat("whoami")
    assert signed_out.code == 3
    assert "not signed in: run `lifeboat login --server URL`" in signed_out.err
    assert "Traceback" not in signed_out.err


def _edit_context(lifeboat: Lifeboat, **fields: object) -> dict[str, object]:
    document = yaml.safe_load(lifeboat.config.read_text())
    context = document["contexts"][document["current-context"]]
    context.update(fields)
    lifeboat.config.write_text(yaml.safe_dump(document))
    return dict(context)


def test_an_expired_access_token_is_refreshed_transparently(lifeboat: Lifeboat) -> None:
    lifeboat.login("appadmin")
    before = _edit_context(lifeboat, expires_at=0.0)
    assert lifeboat.ok("whoami", "-o", "json").json()["username"] == "appadmin"
    after = yaml.safe_load(lifeboat.config.read_text())
    context = after["contexts"][after["current-context"]]
    assert context["access_token"] != before["access_token"]
    assert context["expires_at"] > 0


def test_an_expired_sign_in_that_cannot_be_renewed_says_to_log_in(lifeboat: Lifeboat) -> None:
    lifeboat.login("appadmin")
    _edit_context(lifeboat, expires_at=0.0, refresh_token="revoked-or-expired")
    result = lifeboat("whoami")
    assert result.code == 3
    assert "expired and could not be renewed" in result.err
    assert "run `lifeboat login` again" in result.err


def test_a_wrong_password_is_the_providers_refusal(lifeboat: Lifeboat) -> None:
    result = lifeboat(
        "login", "--server", lifeboat.server, "--username", "appuser", "--password-stdin",
        stdin="not-the-password\n",
    )  # fmt: skip
    assert result.code == 3
    assert "the identity provider refused the sign-in" in result.err
    assert not lifeboat.config.exists()


def test_an_unreachable_server_says_so(tmp_path: object, lifeboat: Lifeboat) -> None:
    result = lifeboat(
        "login", "--server", "http://127.0.0.1:9", "--username", "appuser", "--password-stdin",
        stdin="x\n",
    )  # fmt: skip
    assert result.code == 4
    assert "cannot reach the Lifeboat API at http://127.0.0.1:9" in result.err
    assert "Traceback" not in result.err


def test_a_server_without_scheme_is_a_usage_error(lifeboat: Lifeboat) -> None:
    result = lifeboat("login", "--server", "127.0.0.1:8000", "--username", "a", "--password-stdin")
    assert result.code == 2
    assert "give the API's URL with its scheme, e.g. http://127.0.0.1:8000" in result.err


def test_the_device_grant_says_when_the_provider_does_not_offer_it(lifeboat: Lifeboat) -> None:
    """The dev provider (Canaille) has no device authorization endpoint."""
    result = lifeboat("login", "--server", lifeboat.server, "--device")
    assert result.code == 6, result
    assert "does not offer the device authorization grant" in result.err
    assert "sign in without --device (in a browser), or with --username" in result.err
    assert not lifeboat.config.exists()
