"""Hostile requests against the running API: each gets a clear 4xx, small, and changes nothing.

The cases are the ones independent testing found: NUL characters that PostgreSQL refused with a
500, a kubeconfig alias bomb echoed in megabytes, unbounded label keys and counts, a chunked
body over the limit, a bearer header too large to answer, a 405 without `Allow`, and tokens
issued long ago.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import jwt
import pytest

from api.app import MAX_REQUEST_HEAD_BYTES
from deploy.local.servers.oidc import CLIENT_ID
from deploy.local.stack import Stack
from tests.api.helpers import unique
from tests.conftest import Users
from tests.unit.test_kubeconfig import alias_bomb

NUL = "a\x00b"


def _refused(response: httpx.Response, field: str) -> str:
    """The 422's message, after checking it names `field` and stays small."""
    assert response.status_code == 422, response.text
    assert len(response.content) < 2000, len(response.content)
    error = response.json()["error"]
    assert error["field"] == field, error
    message: str = error["message"]
    return message


def _account(credentials: dict[str, str]) -> dict[str, Any]:
    return {"name": unique("acct"), "provider": "s3-compatible", "credentials": credentials}


# Each field that took a NUL: where it goes, the body, and the field the refusal names.
NUL_BODIES: dict[str, tuple[str, str, dict[str, Any], str]] = {
    "role description": (
        "POST",
        "/api/v1/roles",
        {"name": unique("role"), "description": NUL, "permissions": ["roles.view"]},
        "description",
    ),
    "invited subject": (
        "POST",
        "/api/v1/users",
        {"subject": NUL, "roles": ["lifeboat.app-user"]},
        "subject",
    ),
    "invited email": (
        "POST",
        "/api/v1/users",
        {"subject": unique("invitee"), "email": f"x{NUL}@example.com", "roles": []},
        "email",
    ),
    "cloud account key": (
        "POST",
        "/api/v1/cloud-accounts",
        _account({"access_key_id": "AKIA", "secret_access_key": NUL}),
        "credentials.S3Keys.secret_access_key",
    ),
    "cloud account key id": (
        "POST",
        "/api/v1/cloud-accounts",
        _account({"access_key_id": NUL, "secret_access_key": "secret"}),
        "credentials.S3Keys.access_key_id",
    ),
    "label value": (
        "POST",
        "/api/v1/roles",
        {"name": unique("role"), "permissions": ["roles.view"], "labels": {"team": NUL}},
        "labels.team",
    ),
    "rule command": (
        "POST",
        "/api/v1/rules",
        {
            "name": unique("rule"),
            "rules": [{"pod_selector": {"app": "db"}, "actions": [{"command": f"echo {NUL}"}]}],
        },
        "rules.0.actions.0.command",
    ),
}


@pytest.mark.parametrize("case", NUL_BODIES, ids=list(NUL_BODIES))
def test_a_nul_character_is_refused_by_name_and_nothing_is_stored(
    as_user: Users, case: str
) -> None:
    method, path, body, field = NUL_BODIES[case]
    api = as_user("superadmin")
    before = api.get(path).json()["count"]
    message = _refused(api.request(method, path, json=body), field)
    assert "control characters (such as NUL)" in message
    # Nothing was stored, and the same connection goes on working.
    assert api.get(path).json()["count"] == before


def test_a_nul_character_in_a_group_name_in_the_path_is_refused(as_user: Users) -> None:
    api = as_user("superadmin")
    response = api.put("/api/v1/groups/a%00b/roles", json={"roles": []})
    assert "control characters" in _refused(response, "name")
    assert "a\x00b" not in {g["name"] for g in api.get("/api/v1/groups").json()["items"]}


def test_a_nul_character_in_a_user_in_the_path_is_refused(as_user: Users) -> None:
    response = as_user("superadmin").delete("/api/v1/users/a%00b")
    assert "control characters" in _refused(response, "subject")


def test_the_kubeconfig_alias_bomb_is_refused_in_a_few_bytes(
    as_user: Users, kubeconfig_text: str
) -> None:
    api = as_user("infraadmin")
    before = api.get("/api/v1/clusters").json()["count"]
    name = unique("bomb")
    # A kubeconfig whose server is the bomb's last level: 9^6 strings once expanded.
    bomb = alias_bomb(6) + (
        "kind: Config\ncurrent-context: c\n"
        "contexts: [{name: c, context: {cluster: k, user: u}}]\n"
        "clusters: [{name: k, cluster: {server: *f}}]\n"
        "users: [{name: u, user: {token: t}}]\n"
    )
    assert len(bomb) < 600
    response = api.post("/api/v1/clusters", json={"name": name, "kubeconfig": bomb})
    assert response.status_code == 422, response.text[:500]
    assert len(response.content) < 1000, len(response.content)
    assert "YAML alias" in response.json()["error"]["message"]
    assert api.get("/api/v1/clusters").json()["count"] == before


def test_a_huge_label_key_is_refused_and_the_answer_stays_small(as_user: Users) -> None:
    api = as_user("infraadmin")
    body = {"name": unique("role"), "permissions": ["roles.view"], "labels": {"k" * 100_000: "v"}}
    response = api.post("/api/v1/roles", json=body)
    assert response.status_code == 422, response.text[:500]
    assert len(response.content) < 2000
    assert response.json()["error"]["field"].startswith("labels.kkkk")
    assert body["name"] not in {r["name"] for r in api.get("/api/v1/roles").json()["items"]}


def test_keep_last_beyond_the_limit_is_refused(as_user: Users) -> None:
    api = as_user("infraadmin")
    body = {
        "name": unique("policy"),
        "schedule": {"type": "interval", "every_minutes": 60},
        "retention": {"keep_last": 10**30},
    }
    message = _refused(api.post("/api/v1/schedule-policies", json=body), "retention.keep_last")
    assert "10000" in message
    names = {p["name"] for p in api.get("/api/v1/schedule-policies").json()["items"]}
    assert body["name"] not in names


def test_a_chunked_body_over_the_limit_is_413(as_user: Users) -> None:
    def ten_megabytes() -> Iterator[bytes]:
        yield b'{"name": "big", "kubeconfig": "'
        for _ in range(100):
            yield b"a" * 100_000
        yield b'"}'

    response = as_user("infraadmin").post(
        "/api/v1/clusters", content=ten_megabytes(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413, response.text
    assert response.json()["error"]["code"] == "too_large"


def test_a_200_kb_bearer_header_is_answered_431(stack: Stack) -> None:
    response = httpx.get(
        f"{stack.api_url}/api/v1/me", headers={"Authorization": "Bearer " + "a" * 200_000}
    )
    assert response.status_code == 431, response.text
    assert f"over {MAX_REQUEST_HEAD_BYTES} bytes" in response.json()["error"]["message"]
    # Just under the limit the token itself is refused, as any bad token is.
    small = httpx.get(
        f"{stack.api_url}/api/v1/me", headers={"Authorization": "Bearer " + "a" * 60_000}
    )
    assert small.status_code == 401


def test_a_head_sent_slowly_past_the_limit_is_answered_not_reset(stack: Stack) -> None:
    """Sent in pieces, the head is refused as soon as it passes the limit, and the client
    still reads the answer while it sends the rest."""
    url = urlsplit(stack.api_url)
    with socket.create_connection((url.hostname, url.port), timeout=30) as sock:
        sock.sendall(b"GET /api/v1/me HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ")
        for _ in range(20):
            sock.sendall(b"a" * 10_000)
            time.sleep(0.01)
        sock.sendall(b"\r\n\r\n")
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 431 "), answer[:200]


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("PATCH", "/api/v1/clusters", "GET, POST"),
        ("PUT", "/api/v1/clusters/some-uid", "DELETE, GET"),
        ("POST", "/healthz", "GET"),
    ],
)
def test_405_says_which_methods_the_path_serves(
    as_user: Users, method: str, path: str, allow: str
) -> None:
    response = as_user("infraadmin").request(method, path)
    assert response.status_code == 405
    assert response.headers["Allow"] == allow
    assert response.json()["error"]["message"] == f"{method} is not served here; use {allow}"


def _signed(stack: Stack, **claims: Any) -> str:
    """A token signed with the stack's provider key: what the provider would issue."""
    jwk = json.loads((Path(stack.state) / "oidc" / "jwks.json").read_text())["keys"][0]
    key = jwt.PyJWK(jwk, algorithm="RS512")
    return jwt.encode(claims, key.key, algorithm="RS512", headers={"kid": jwk["kid"]})


def test_a_token_issued_more_than_a_day_ago_is_refused(stack: Stack) -> None:
    now = int(time.time())
    claims = {
        "iss": stack.oidc_issuer, "aud": [CLIENT_ID], "sub": "appuser", "exp": now + 300,
        "groups": ["lifeboat-app-users"],
    }  # fmt: skip

    def me(iat: int | None) -> httpx.Response:
        token = _signed(stack, **claims, **({"iat": iat} if iat is not None else {}))
        return httpx.get(f"{stack.api_url}/api/v1/me", headers={"Authorization": f"Bearer {token}"})

    assert me(now - 3600).status_code == 200
    old = me(now - 25 * 3600)
    assert old.status_code == 401
    assert "LIFEBOAT_OIDC_MAX_TOKEN_AGE_SECONDS" in old.json()["error"]["message"]
    assert me(None).status_code == 401  # a token that does not say when it was issued


def _unbounded(spec: dict[str, Any]) -> list[str]:
    """Request strings without maxLength or pattern, numbers without maximum, lists and maps
    without a size: each as `METHOD path where`."""
    schemas = spec["components"]["schemas"]
    found: list[str] = []

    def walk(schema: dict[str, Any], where: str, seen: frozenset[str]) -> None:
        if "$ref" in schema:
            name = schema["$ref"].rsplit("/", 1)[-1]
            if name not in seen:
                walk(schemas[name], where, seen | {name})
            return
        for variant in (*schema.get("anyOf", ()), *schema.get("oneOf", ())):
            walk(variant, where, seen)
        kind = schema.get("type")
        if kind == "string" and not {"enum", "const", "format"} & schema.keys():
            if not {"maxLength", "pattern"} <= schema.keys():
                found.append(where)
        elif kind in ("integer", "number") and "maximum" not in schema:
            found.append(where)
        elif kind == "array":
            if "maxItems" not in schema:
                found.append(f"{where}[]")
            walk(schema.get("items", {}), f"{where}[]", seen)
        for name, field in schema.get("properties", {}).items():
            walk(field, f"{where}.{name}", seen)
        if isinstance(schema.get("additionalProperties"), dict):
            if "maxProperties" not in schema:
                found.append(f"{where}{{}}")
            walk(schema.get("propertyNames", {"type": "string"}), f"{where}{{key}}", seen)
            walk(schema["additionalProperties"], f"{where}{{value}}", seen)

    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            at = f"{method.upper()} {path}"
            for parameter in operation.get("parameters", ()):
                walk(parameter["schema"], f"{at} {parameter['name']}", frozenset())
            content = operation.get("requestBody", {}).get("content", {})
            if "application/json" in content:
                walk(content["application/json"]["schema"], f"{at} body", frozenset())
    return found


def test_every_request_string_and_number_has_limits_in_the_served_openapi(stack: Stack) -> None:
    spec = httpx.get(f"{stack.api_url}/openapi.json").json()
    assert _unbounded(spec) == []
