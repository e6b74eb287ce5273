"""Federated mode, against its table in the product docs: a second API on the same stack."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from deploy.local.servers.oidc import OidcProvider, password_token
from deploy.local.stack import Stack
from lifeboat.rbac.matrix import BuiltinRole
from tests.api.helpers import platform
from tests.conftest import Users


@pytest.fixture(scope="module")
def federated_api(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The api process as `make up` starts it, with LIFEBOAT_MODE=federated."""
    home = tmp_path_factory.mktemp("federated")
    with platform(stack, home, {"LIFEBOAT_MODE": "federated"}, worker=False) as url:
        yield url


def _client(url: str, provider: OidcProvider, username: str) -> httpx.Client:
    token = password_token(provider, username)
    return httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30)


def test_federated_mode_follows_its_table(federated_api: str, provider: OidcProvider) -> None:
    with _client(federated_api, provider, "superadmin") as admin:
        me = admin.get("/api/v1/me").json()
        assert me["mode"] == "federated"
        assert "cluster-discovery" in me["features"]
        assert "virtual-machines" not in me["features"]
        # Cloud accounts are not used in federated mode.
        response = admin.get("/api/v1/cloud-accounts")
        assert response.status_code == 404
        assert "federated mode" in response.json()["error"]["message"]
        # Three built-in roles, and the app admin role cannot be assigned.
        builtin = {r["name"] for r in admin.get("/api/v1/roles").json()["items"] if r["builtin"]}
        assert builtin == {
            BuiltinRole.SUPER_ADMIN.value, BuiltinRole.INFRA_ADMIN.value,
            BuiltinRole.APP_USER.value,
        }  # fmt: skip
        with _client(federated_api, provider, "appuser") as appuser:
            appuser.get("/api/v1/me")  # Lifeboat knows users once they have signed in
        refused = admin.put(
            "/api/v1/users/appuser/roles", json={"roles": [BuiltinRole.APP_ADMIN.value]}
        )
        assert refused.status_code == 422 and "federated mode" in refused.json()["error"]["message"]
    # A user whose only role is app admin holds no role here.
    with _client(federated_api, provider, "appadmin") as appadmin:
        assert appadmin.get("/api/v1/me").json()["roles"] == []
        assert appadmin.get("/api/v1/clusters").status_code == 403


def test_classic_mode_offers_cloud_accounts_and_all_four_roles(as_user: Users) -> None:
    admin = as_user("superadmin")
    me = admin.get("/api/v1/me").json()
    assert me["mode"] == "classic" and "virtual-machines" in me["features"]
    assert "cluster-discovery" not in me["features"]
    assert admin.get("/api/v1/cloud-accounts").status_code == 200
    builtin = {r["name"] for r in admin.get("/api/v1/roles").json()["items"] if r["builtin"]}
    assert builtin == {r.value for r in BuiltinRole}
