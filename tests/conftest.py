"""Shared fixtures: the real dev stack, started once per test session on free ports."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from aiosmtpd.controller import Controller
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from sqlalchemy import create_engine
from sqlalchemy.orm import Session, sessionmaker

from deploy.local.doubles.license_server import LicenseServerDouble
from deploy.local.servers import postgres
from deploy.local.servers.oidc import CLIENT_ID, CLIENT_SECRET, OidcProvider, password_token
from deploy.local.servers.procs import HOST, free_port
from deploy.local.stack import Stack, down, up
from lifeboat.catalog.session import sync_url
from lifeboat.licensing import public_key_text
from tests.receivers import Mailbox, WebhookServer

IN_CI = os.environ.get("CI") == "true"
# The activation id of the license server double's subscription (50 nodes, 3 days, renewed).
SUBSCRIPTION = "sub-" + secrets.token_hex(8)


def require_postgres() -> None:
    """PostgreSQL must be there in CI; elsewhere its absence skips the PostgreSQL variant."""
    if postgres.reachable():
        return
    message = f"PostgreSQL is not reachable at {postgres.ADMIN_URL}"
    if IN_CI:
        pytest.fail(f"{message}; CI needs it (CI=true)")
    pytest.skip(message)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for this session, dropped afterwards."""
    require_postgres()
    name = f"lifeboat_test_{secrets.token_hex(4)}"
    url = postgres.ensure_database(name)
    yield url
    postgres.drop_database(name)


@pytest.fixture(scope="session")
def license_signer() -> Ed25519PrivateKey:
    """A license signing key made for this run: the stacks the tests start trust it (their
    processes inherit LIFEBOAT_LICENSE_PUBLIC_KEYS), so tests mint licenses as a vendor would."""
    signer = Ed25519PrivateKey.generate()
    os.environ["LIFEBOAT_LICENSE_PUBLIC_KEYS"] = public_key_text(signer)
    return signer


@pytest.fixture(scope="session")
def license_server(
    tmp_path_factory: pytest.TempPathFactory, license_signer: Ed25519PrivateKey
) -> Iterator[LicenseServerDouble]:
    """The vendor's license server (a double signing with the run's key), with one
    subscription; the stacks the tests start use it (LIFEBOAT_LICENSE_SERVER_URL)."""
    home = tmp_path_factory.mktemp("license-server")
    pem = home / "vendor.pem"
    pem.write_bytes(license_signer.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
    server = LicenseServerDouble(home, free_port(), pem, (f"{SUBSCRIPTION}:Example Corp:50:3",))
    server.start()
    os.environ["LIFEBOAT_LICENSE_SERVER_URL"] = server.url
    yield server
    server.stop()


@pytest.fixture(scope="session")
def stack(
    tmp_path_factory: pytest.TempPathFactory,
    postgres_url: str,
    license_server: LicenseServerDouble,
) -> Iterator[Stack]:
    """Every server, the api and the worker, as `make up` starts them, on free ports."""
    state = tmp_path_factory.mktemp("stack")
    try:
        yield up(state, fixed_ports=False, database_url=postgres_url, local_aws=True)
    finally:
        down(state)


@pytest.fixture(scope="session")
def catalog(postgres_url: str) -> Iterator[sessionmaker[Session]]:
    """Direct access to the stack's catalog, for state no route creates yet."""
    engine = create_engine(sync_url(postgres_url))
    yield sessionmaker(engine)
    engine.dispose()


@pytest.fixture(scope="session")
def provider(stack: Stack) -> OidcProvider:
    return OidcProvider(stack.oidc_issuer, CLIENT_ID, CLIENT_SECRET, 0)


class Users:
    """API clients signed in as the seeded users, with real tokens from the provider."""

    def __init__(self, stack: Stack, provider: OidcProvider) -> None:
        self._stack = stack
        self._provider = provider
        self._clients: dict[str, httpx.Client] = {}

    def __call__(self, username: str) -> httpx.Client:
        if username not in self._clients:
            token = password_token(self._provider, username)
            self._clients[username] = httpx.Client(
                base_url=self._stack.api_url,
                headers={"Authorization": f"Bearer {token}"},
                timeout=30,
            )
        return self._clients[username]

    def close(self) -> None:
        for client in self._clients.values():
            client.close()


@pytest.fixture(scope="session")
def as_user(stack: Stack, provider: OidcProvider) -> Iterator[Users]:
    users = Users(stack, provider)
    yield users
    users.close()


@pytest.fixture(scope="session")
def anonymous(stack: Stack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.api_url, timeout=30) as client:
        yield client


@pytest.fixture(scope="session")
def kubeconfig_text(stack: Stack) -> str:
    return Path(stack.kubeconfig).read_text()


@pytest.fixture
def webhook() -> Iterator[WebhookServer]:
    """A webhook receiver on a free port of 127.0.0.1."""
    server = WebhookServer(free_port())
    yield server
    server.stop()


@pytest.fixture
def smtp() -> Iterator[tuple[Mailbox, int]]:
    """An SMTP server on a free port of 127.0.0.1: its mailbox and port."""
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname=HOST, port=free_port())
    controller.start()
    yield mailbox, controller.port
    controller.stop()
