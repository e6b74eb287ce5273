"""Run the dev stack's OIDC provider: Canaille on a threaded werkzeug server on 127.0.0.1.

    python -m deploy.local.servers.oidc_server --home DIR --port P

Users, groups and the client live in Canaille's memory backend and are seeded at every start;
the RSA signing key is kept in DIR/jwks.json so tokens issued before a restart still verify.
Started and stopped by `deploy.local.servers.oidc`.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import threading
import uuid
from pathlib import Path
from types import FrameType
from typing import Any

from canaille import create_app
from canaille.app import models
from canaille.backends import Backend
from flask import Flask
from joserfc.jwk import RSAKey
from werkzeug.serving import make_server

from deploy.local.servers.oidc import (
    CLIENT_ID,
    CLIENT_REDIRECT_URIS,
    CLIENT_SCOPES,
    CLIENT_SECRET,
    CONSOLE_CALLBACK_PATH,
    CONSOLE_CLIENT_ID,
    DIRECTORY_CLIENT_ID,
    DIRECTORY_CLIENT_SECRET,
    SEEDED_GROUPS,
    SEEDED_USERS,
)
from deploy.local.servers.procs import HOST

GRANT_TYPES = ("password", "authorization_code", "refresh_token", "client_credentials")
TOKEN_AUTH_METHODS = ("client_secret_basic", "client_secret_post")
JWKS_FILE = "jwks.json"


def signing_key(home: Path) -> dict[str, Any]:
    """The private RSA JWK kept in `home`, generated on first use."""
    path = home / JWKS_FILE
    if path.exists():
        key: dict[str, Any] = json.loads(path.read_text())["keys"][0]
        return key
    key = RSAKey.generate_key(2048, auto_kid=True).as_dict(private=True)
    # Write then rename so a crash never leaves half a key behind; private, so owner-only.
    tmp = path.with_suffix(".tmp")
    tmp.touch(mode=0o600)
    tmp.write_text(json.dumps({"keys": [key]}))
    tmp.replace(path)
    return key


def create_oidc_app(home: Path, port: int) -> Flask:
    """A Canaille app whose issuer is http://127.0.0.1:port, signing with `home`'s key."""
    config = {
        "SECRET_KEY": uuid.uuid4().hex,
        "SERVER_NAME": f"{HOST}:{port}",
        "PREFERRED_URL_SCHEME": "http",
        "WTF_CSRF_ENABLED": False,
        "CANAILLE": {
            "NAME": "Lifeboat dev",
            "DATABASE": "memory",
            "JAVASCRIPT": False,
            # Canaille otherwise probes localhost:25 for a mail server at start.
            "SMTP": None,
            "ACL": {"DEFAULT": {"PERMISSIONS": ["edit_self", "use_oidc"]}},
        },
        "CANAILLE_OIDC": {
            "ACTIVE_JWKS": [signing_key(home)],
            # Our redirect URIs are on 127.0.0.1, so sign-in skips the consent page.
            "TRUSTED_DOMAINS": [HOST],
        },
    }
    # A prefix nobody sets keeps the caller's environment out of Canaille's settings.
    app: Flask = create_app(config=config, env_prefix="LIFEBOAT_DEV_OIDC_")
    _accept_both_secret_methods()
    return app


def _accept_both_secret_methods() -> None:
    """Let clients authenticate at the token endpoint by HTTP Basic or by form fields.

    Canaille accepts exactly the one `token_endpoint_auth_method` stored on a client, while
    providers such as Keycloak take either; client code must work with both.
    """
    only_stored_method = models.Client.check_endpoint_auth_method

    def check(client: Any, method: str, endpoint: str) -> bool:
        if endpoint == "token" and client.token_endpoint_auth_method in TOKEN_AUTH_METHODS:
            return method in TOKEN_AUTH_METHODS
        return bool(only_stored_method(client, method, endpoint))

    models.Client.check_endpoint_auth_method = check


def seed(app: Flask, console_url: str = "") -> None:
    """Create or update the dev groups, users and clients."""
    backend = Backend.instance
    with app.app_context():
        groups = {
            name: backend.get(models.Group, display_name=name) or models.Group(display_name=name)
            for name in SEEDED_GROUPS
        }
        for seeded in SEEDED_USERS:
            user = backend.get(models.User, user_name=seeded.username) or models.User(
                user_name=seeded.username
            )
            user.emails = [seeded.email]
            user.display_name = seeded.username
            backend.save(user)
            backend.set_user_password(user, seeded.password)
        for name, group in groups.items():
            group.members = [
                backend.get(models.User, user_name=seeded.username)
                for seeded in SEEDED_USERS
                if name in seeded.groups
            ]
            backend.save(group)

        client = _seed_client(
            CLIENT_ID,
            client_name="Lifeboat",
            client_secret=CLIENT_SECRET,
            grant_types=list(GRANT_TYPES),
            response_types=["code"],
            scope=list(CLIENT_SCOPES),
            redirect_uris=list(CLIENT_REDIRECT_URIS),
        )
        # Tokens carry `aud` = the client ids of the client's audience: this client itself.
        client.audience = [client]
        backend.save(client)
        if console_url:
            _seed_console_client(console_url, api_client=client)
        # Lifeboat's directory client: reads the SCIM interface with client credentials.
        _seed_client(
            DIRECTORY_CLIENT_ID,
            client_name="Lifeboat directory",
            client_secret=DIRECTORY_CLIENT_SECRET,
            grant_types=["client_credentials"],
            response_types=[],
            scope=["openid"],
            redirect_uris=[],
        )


def _seed_console_client(console_url: str, *, api_client: Any) -> None:
    """The web console's public client: authorization code with PKCE and refresh tokens, no
    secret; its origin (`client_uri`) is allowed by CORS, and its tokens carry the api's
    audience."""
    client = _seed_client(
        CONSOLE_CLIENT_ID,
        client_name="Lifeboat console",
        grant_types=["authorization_code", "refresh_token"],
        response_types=["code"],
        scope=list(CLIENT_SCOPES),
        redirect_uris=[console_url + CONSOLE_CALLBACK_PATH],
        post_logout_redirect_uris=[console_url + "/"],
    )
    Backend.instance.update(
        client, client_uri=console_url, token_endpoint_auth_method="none", client_secret=None
    )
    client.audience = [api_client, client]
    Backend.instance.save(client)


def _seed_client(client_id: str, **fields: Any) -> Any:
    """Create or update a client, authenticating at the token endpoint with its secret."""
    backend = Backend.instance
    client = backend.get(models.Client, client_id=client_id) or models.Client(client_id=client_id)
    backend.update(
        client,
        client_uri=f"http://{HOST}",
        token_endpoint_auth_method=TOKEN_AUTH_METHODS[0],
        **fields,
    )
    backend.save(client)
    return client


def main(argv: list[str] | None = None) -> None:
    """Serve until SIGTERM or SIGINT, then finish the requests in flight and exit 0."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--home", type=Path, required=True, help="state directory")
    parser.add_argument("--port", type=int, required=True, help="port on 127.0.0.1")
    parser.add_argument("--console-url", default="", help="the web console's URL")
    args = parser.parse_args(argv)
    home: Path = args.home
    home.mkdir(parents=True, exist_ok=True)

    # Authlib refuses plain HTTP unless told; the dev stack has no TLS on 127.0.0.1.
    os.environ["AUTHLIB_INSECURE_TRANSPORT"] = "1"
    app = create_oidc_app(home, args.port)
    seed(app, args.console_url)
    server = make_server(HOST, args.port, app, threaded=True)

    def shut_down(signum: int, frame: FrameType | None) -> None:
        # shutdown() waits for serve_forever() to return, which runs in this very thread.
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, shut_down)
    signal.signal(signal.SIGINT, shut_down)
    print(f"OIDC provider for http://{HOST}:{args.port} serving, state in {home}", flush=True)
    server.serve_forever()
    print("OIDC provider stopped", flush=True)


if __name__ == "__main__":
    main()
