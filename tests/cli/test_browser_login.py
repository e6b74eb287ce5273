"""`lifeboat login --server URL`: the authorization code grant with PKCE through the loopback
redirect, against the dev provider, with the test acting as the browser."""

from __future__ import annotations

import subprocess
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx

from deploy.local.servers.oidc import DEV_PASSWORD
from tests.cli.conftest import ROOT, Lifeboat


def _sign_in_as_a_browser(url: str, username: str) -> httpx.Response:
    """Open the provider's page, fill in the login and password forms, follow the redirects
    (the last one reaches the command's loopback server)."""
    with httpx.Client(follow_redirects=True, timeout=30) as browser:
        page = browser.get(url)
        assert page.status_code == 200, page.text
        page = browser.post(page.url, data={"login": username})
        assert page.status_code == 200, page.text
        return browser.post(page.url, data={"password": DEV_PASSWORD})


def _login(lifeboat: Lifeboat) -> tuple[subprocess.Popen[str], str]:
    """`lifeboat login` waiting for the browser, and the sign-in page's address it printed."""
    command = subprocess.Popen(
        lifeboat.command("login", "--server", lifeboat.server, "--no-browser"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=lifeboat.env(),
        cwd=ROOT,
    )
    assert command.stderr is not None
    for line in command.stderr:
        if line.startswith("http"):
            return command, line.strip()
    command.kill()
    raise AssertionError("the command printed no sign-in address")


def test_login_in_a_browser_with_pkce(lifeboat: Lifeboat) -> None:
    command, url = _login(lifeboat)
    try:
        assert "code_challenge_method=S256" in url
        assert "redirect_uri=http%3A%2F%2F127.0.0.1%3A8250%2Fcallback" in url
        landed = _sign_in_as_a_browser(url, "appadmin")
        assert landed.status_code == 200
        assert landed.url.host == "127.0.0.1" and landed.url.port == 8250
        assert "Signed in to Lifeboat" in landed.text
        out, err = command.communicate(timeout=60)
    finally:
        command.kill()
    assert command.returncode == 0, err
    assert "signed in" in out and "as appadmin" in out
    me = lifeboat.ok("whoami", "-o", "json").json()
    assert me["username"] == "appadmin" and "lifeboat.app-admin" in me["roles"]


def test_an_id_token_for_another_sign_in_is_refused(lifeboat: Lifeboat) -> None:
    """A sign-in page opened with another nonce (an attacker's request, whose code is injected
    into this login): the provider's ID token carries that nonce, so nobody is signed in."""
    command, url = _login(lifeboat)
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    query["nonce"] = "the-attackers-nonce"
    try:
        landed = _sign_in_as_a_browser(parts._replace(query=urlencode(query)).geturl(), "appadmin")
        assert landed.status_code == 200
        out, err = command.communicate(timeout=60)
    finally:
        command.kill()
    assert command.returncode == 3, (out, err)
    assert "the ID token answers another sign-in (its nonce is not this one's)" in err
    assert not lifeboat.config.exists()
