"""`lifeboat login --server URL`: the authorization code grant with PKCE through the loopback
redirect, against the dev provider, with the test acting as the browser."""

from __future__ import annotations

import subprocess

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


def test_login_in_a_browser_with_pkce(lifeboat: Lifeboat) -> None:
    command = subprocess.Popen(
        lifeboat.command("login", "--server", lifeboat.server, "--no-browser"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=lifeboat.env(),
        cwd=ROOT,
    )
    try:
        assert command.stderr is not None
        for line in command.stderr:
            if line.startswith("http"):
                url = line.strip()
                break
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
