"""The dev stack's OIDC provider: Canaille in its own process (see `oidc_server`).

It is seeded with one user per built-in role, a user without any role and one confidential
client, all with fixed dev credentials, so tests and the dev UI can sign in without setup.
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx

from deploy.local.servers.procs import HOST, ManagedProcess, free_port, http_ok

# Dev stack only: every seeded user shares this password.
DEV_PASSWORD = "lifeboat-dev"
CLIENT_ID = "lifeboat"
CLIENT_SECRET = "lifeboat-dev-secret"
CLIENT_SCOPES = ("openid", "profile", "email", "groups")
# Lifeboat's own client for the provider's SCIM interface (listing users): client credentials.
DIRECTORY_CLIENT_ID = "lifeboat-directory"
DIRECTORY_CLIENT_SECRET = "lifeboat-dev-directory-secret"
SCIM_PATH = "/scim/v2"
# Canaille matches redirect URIs exactly, so each real callback is listed: the first is a
# placeholder, the second the `lifeboat login` loopback (cli/oidc.py CALLBACK_PORT).
CLIENT_REDIRECT_URIS = ("http://127.0.0.1/callback", "http://127.0.0.1:8250/callback")
# The web console's public client (PKCE, no secret) at the api's URL; its tokens carry the
# audience `CLIENT_ID`, which the api checks.
CONSOLE_CLIENT_ID = "lifeboat-console"
CONSOLE_CALLBACK_PATH = "/auth/callback"
DISCOVERY_PATH = "/.well-known/openid-configuration"
EMAIL_DOMAIN = "lifeboat.dev"

ROLE_GROUPS: dict[str, str] = {
    "super-admin": "lifeboat-super-admins",
    "infra-admin": "lifeboat-infra-admins",
    "app-admin": "lifeboat-app-admins",
    "app-user": "lifeboat-app-users",
}
TEAM_GROUPS = ("team-payments", "team-search")
SEEDED_GROUPS: tuple[str, ...] = (*ROLE_GROUPS.values(), *TEAM_GROUPS)

_NAME = "oidc"
_INFO_FILE = "info.json"
# The server is started as `python -m deploy.local.servers.oidc_server` from the state directory.
_REPO_ROOT = Path(__file__).resolve().parents[3]


@dataclass(frozen=True)
class SeededUser:
    """A user the dev provider creates at every start."""

    username: str
    password: str
    email: str
    groups: tuple[str, ...]


def _user(username: str, *groups: str) -> SeededUser:
    return SeededUser(username, DEV_PASSWORD, f"{username}@{EMAIL_DOMAIN}", groups)


SEEDED_USERS: tuple[SeededUser, ...] = (
    _user("superadmin", ROLE_GROUPS["super-admin"]),
    _user("infraadmin", ROLE_GROUPS["infra-admin"], "team-payments"),
    _user("appadmin", ROLE_GROUPS["app-admin"], "team-payments"),
    _user("appuser", ROLE_GROUPS["app-user"], "team-search"),
    # Signs in fine but holds no role: for tests of what a user without a role may do.
    _user("nobody"),
)


@dataclass(frozen=True)
class OidcProvider:
    """Where the running dev provider answers and the client it was seeded with."""

    issuer: str  # http://127.0.0.1:port, no trailing slash
    client_id: str
    client_secret: str
    port: int


def start_oidc(home: Path, *, port: int | None = None, console_url: str = "") -> OidcProvider:
    """Start the provider on `port` (free when None), keeping its signing key in `home`;
    `console_url` is where the web console answers (its client's redirect URI and origin).

    Returns once the discovery document answers, which is after seeding.
    """
    port = port or free_port()
    provider = OidcProvider(
        issuer=f"http://{HOST}:{port}",
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        port=port,
    )
    cmd = [
        sys.executable, "-m", "deploy.local.servers.oidc_server",
        "--home", str(home.resolve()), "--port", str(port), "--console-url", console_url,
    ]  # fmt: skip
    ManagedProcess(_NAME, home).start(
        cmd,
        env={"PYTHONPATH": str(_REPO_ROOT)},
        healthy=lambda: http_ok(provider.issuer + DISCOVERY_PATH),
        timeout=60,
    )
    (home / _INFO_FILE).write_text(json.dumps(asdict(provider)))
    return provider


def running_oidc(home: Path) -> OidcProvider | None:
    """The provider started in `home`, when it still runs."""
    if ManagedProcess(_NAME, home).pid() is None:
        return None
    return OidcProvider(**json.loads((home / _INFO_FILE).read_text()))


def stop_oidc(home: Path) -> None:
    """Stop the provider started in `home`; its signing key stays for the next start."""
    ManagedProcess(_NAME, home).stop()


def password_token(provider: OidcProvider, username: str, password: str = DEV_PASSWORD) -> str:
    """An access token for the user by the password grant; raises `httpx.HTTPStatusError`
    when the provider refuses (wrong password, unknown user)."""
    with httpx.Client(timeout=10) as http:
        discovery = http.get(provider.issuer + DISCOVERY_PATH)
        discovery.raise_for_status()
        response = http.post(
            discovery.json()["token_endpoint"],
            data={
                "grant_type": "password",
                "username": username,
                "password": password,
                "scope": " ".join(CLIENT_SCOPES),
            },
            auth=(provider.client_id, provider.client_secret),
        )
        response.raise_for_status()
        token: str = response.json()["access_token"]
        return token


def _scim(provider: OidcProvider, http: httpx.Client) -> dict[str, str]:
    """Headers for the provider's SCIM interface, as the directory client."""
    discovery = http.get(provider.issuer + DISCOVERY_PATH)
    discovery.raise_for_status()
    response = http.post(
        discovery.json()["token_endpoint"],
        data={"grant_type": "client_credentials"},
        auth=(DIRECTORY_CLIENT_ID, DIRECTORY_CLIENT_SECRET),
    )
    response.raise_for_status()
    token = response.json()["access_token"]
    return {"Authorization": f"Bearer {token}", "Content-Type": "application/scim+json"}


def add_provider_user(provider: OidcProvider, username: str) -> str:
    """Create a user (password DEV_PASSWORD, no groups) at the provider, as an identity
    team would; returns its SCIM id. The provider keeps it until it restarts."""
    with httpx.Client(timeout=10) as http:
        response = http.post(
            f"{provider.issuer}{SCIM_PATH}/Users",
            headers=_scim(provider, http),
            json={
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": username,
                "displayName": username,
                "active": True,
                "password": DEV_PASSWORD,
                # Canaille's SCIM server requires a formatted name.
                "name": {"formatted": username, "familyName": username, "givenName": username},
                "emails": [{"value": f"{username}@{EMAIL_DOMAIN}"}],
            },
        )
        response.raise_for_status()
        scim_id: str = response.json()["id"]
        return scim_id


def remove_provider_user(provider: OidcProvider, scim_id: str) -> None:
    """Delete a user at the provider, as an identity team does when someone leaves."""
    with httpx.Client(timeout=10) as http:
        response = http.delete(
            f"{provider.issuer}{SCIM_PATH}/Users/{scim_id}", headers=_scim(provider, http)
        )
        response.raise_for_status()
