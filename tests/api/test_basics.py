"""The API's skeleton: health, version, OpenAPI, authentication, errors, service status."""

from __future__ import annotations

import base64
import json

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

from deploy.local.servers.oidc import OidcProvider, password_token
from deploy.local.stack import Stack
from tests.conftest import Users


def test_health_and_version_need_no_sign_in(anonymous: httpx.Client) -> None:
    assert anonymous.get("/healthz").json() == {"status": "ok"}
    version = anonymous.get("/version").json()
    assert version["version"] and version["mode"] == "classic"


def test_openapi_lists_the_routes(anonymous: httpx.Client) -> None:
    paths = anonymous.get("/openapi.json").json()["paths"]
    assert {"/api/v1/clusters", "/api/v1/clusters/{uid}", "/api/v1/service-status"} <= set(paths)


def test_calls_without_a_valid_token_get_401(
    anonymous: httpx.Client, provider: OidcProvider
) -> None:
    assert anonymous.get("/api/v1/clusters").status_code == 401
    bad = anonymous.get("/api/v1/clusters", headers={"Authorization": "Bearer not-a-jwt"})
    assert bad.status_code == 401
    assert bad.json()["error"]["code"] == "unauthorized"
    assert bad.headers["www-authenticate"] == "Bearer"

    token = password_token(provider, "appuser")
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["sub"] = "superadmin"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    tampered = anonymous.get(
        "/api/v1/clusters", headers={"Authorization": f"Bearer {header}.{forged}.{signature}"}
    )
    assert tampered.status_code == 401

    unsigned = jwt.encode(claims, key="", algorithm="none")
    none_alg = anonymous.get("/api/v1/clusters", headers={"Authorization": f"Bearer {unsigned}"})
    assert none_alg.status_code == 401

    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    wrong_key = jwt.encode(claims, other_key, algorithm="RS256", headers={"kid": "forged"})
    assert (
        anonymous.get(
            "/api/v1/clusters", headers={"Authorization": f"Bearer {wrong_key}"}
        ).status_code
        == 401
    )


def test_oversized_body_gets_413_and_stores_nothing(as_user: Users) -> None:
    api = as_user("infraadmin")
    before = api.get("/api/v1/clusters").json()["count"]
    response = api.post(
        "/api/v1/clusters", json={"name": "huge", "kubeconfig": "x" * (2 * 1024 * 1024)}
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "too_large"
    assert api.get("/api/v1/clusters").json()["count"] == before


def test_invalid_body_names_the_field(as_user: Users) -> None:
    response = as_user("infraadmin").post(
        "/api/v1/clusters", json={"name": "has spaces!", "kubeconfig": "x"}
    )
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "name"


def test_service_status_reports_every_service_up(as_user: Users, stack: Stack) -> None:
    items = as_user("appuser").get("/api/v1/service-status").json()["items"]
    status = {item["name"]: item for item in items}
    assert set(status) == {"catalog", "temporal", "workers", "object storage", "identity provider"}
    assert all(item["status"] == "up" for item in items), items
    assert status["catalog"]["version"].startswith("postgresql 15")
    assert status["temporal"]["version"] == "1.32.0"
    assert "SeaweedFS" in status["object storage"]["version"]
    assert "poller" in status["workers"]["detail"]
