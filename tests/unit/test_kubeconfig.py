"""Kubeconfig validation: what Lifeboat accepts, and the field it names when it refuses."""

from __future__ import annotations

import base64
from typing import Any

import pytest
import yaml

from lifeboat.kubeconfig import (
    MAX_KUBECONFIG_BYTES,
    KubeconfigError,
    KubeconfigSummary,
    parse_kubeconfig,
    summarize,
)


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


CA_DATA = b64("-----BEGIN CERTIFICATE-----\nca\n-----END CERTIFICATE-----\n")


def token_kubeconfig() -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": "prod-admin",
        "clusters": [
            {"name": "other", "cluster": {"server": "https://other.example:6443"}},
            {
                "name": "prod",
                "cluster": {
                    "server": "https://prod.example.com:6443",
                    "certificate-authority-data": CA_DATA,
                },
            },
        ],
        "contexts": [
            {"name": "other", "context": {"cluster": "other", "user": "sa"}},
            {"name": "prod-admin", "context": {"cluster": "prod", "user": "sa"}},
        ],
        "users": [{"name": "sa", "user": {"token": "eyJhbGciOiJSUzI1NiJ9.payload.sig"}}],
    }


def cert_kubeconfig() -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": "lab",
        "clusters": [
            {
                "name": "lab-cluster",
                "cluster": {"server": "https://10.0.0.1", "certificate-authority-data": CA_DATA},
            }
        ],
        "contexts": [{"name": "lab", "context": {"cluster": "lab-cluster", "user": "admin"}}],
        "users": [
            {
                "name": "admin",
                "user": {
                    "client-certificate-data": b64("-----BEGIN CERTIFICATE-----\nc\n"),
                    "client-key-data": b64("-----BEGIN PRIVATE KEY-----\nk\n"),
                },
            }
        ],
    }


def dump(config: dict[str, Any]) -> str:
    return yaml.safe_dump(config, sort_keys=False)


def refusal(text: str) -> str:
    with pytest.raises(KubeconfigError) as caught:
        parse_kubeconfig(text)
    return str(caught.value)


def test_token_kubeconfig_summarizes_the_current_context() -> None:
    config = parse_kubeconfig(dump(token_kubeconfig()))
    assert config == token_kubeconfig()
    assert summarize(config) == KubeconfigSummary(
        server_url="https://prod.example.com:6443",
        context="prod-admin",
        cluster="prod",
        user="sa",
    )


def test_client_certificate_kubeconfig_summarizes() -> None:
    assert summarize(parse_kubeconfig(dump(cert_kubeconfig()))) == KubeconfigSummary(
        server_url="https://10.0.0.1", context="lab", cluster="lab-cluster", user="admin"
    )


def test_summary_never_carries_credentials() -> None:
    summary = summarize(token_kubeconfig())
    assert "eyJhbGciOiJSUzI1NiJ9" not in repr(summary)


def test_empty_text_is_refused() -> None:
    assert "YAML mapping" in refusal("")


def test_yaml_syntax_error_gives_line_and_column() -> None:
    message = refusal("kind: Config\nclusters: [\n  {name: a\n")
    assert "not valid YAML" in message
    assert "line 4, column 1" in message


def test_wrong_kind_is_refused() -> None:
    config = token_kubeconfig() | {"kind": "Pod"}
    assert refusal(dump(config)) == "`kind` must be Config, not 'Pod'"


def test_missing_current_context_is_refused() -> None:
    config = token_kubeconfig()
    del config["current-context"]
    assert "`current-context` is missing" in refusal(dump(config))


def test_context_naming_a_missing_cluster_is_refused() -> None:
    config = token_kubeconfig()
    config["contexts"][1]["context"]["cluster"] = "gone"
    assert refusal(dump(config)) == "`clusters` has no entry named 'gone'"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("exec", {"command": "aws", "args": ["eks", "get-token"], "apiVersion": "v1"}),
        ("auth-provider", {"name": "gcp", "config": {}}),
    ],
)
def test_credential_plugins_are_refused(field: str, value: dict[str, Any]) -> None:
    config = token_kubeconfig()
    config["users"][0]["user"][field] = value
    message = refusal(dump(config))
    assert f"`users[sa].{field}` runs a program" in message


def test_token_file_is_refused() -> None:
    config = token_kubeconfig()
    config["users"][0]["user"] = {"tokenFile": "/var/run/secrets/token"}
    message = refusal(dump(config))
    assert "`users[sa].tokenFile` refers to a file" in message


def test_certificate_authority_file_is_refused() -> None:
    config = token_kubeconfig()
    config["clusters"][1]["cluster"]["certificate-authority"] = "/etc/kubernetes/pki/ca.crt"
    message = refusal(dump(config))
    assert "`clusters[prod].certificate-authority` refers to a file" in message
    assert "certificate-authority-data" in message


def test_invalid_base64_data_is_refused() -> None:
    config = cert_kubeconfig()
    config["users"][0]["user"]["client-key-data"] = "not base64!"
    assert refusal(dump(config)) == "`users[admin].client-key-data` is not valid base64"


def test_user_without_credentials_is_refused() -> None:
    config = token_kubeconfig()
    config["users"][0]["user"] = {}
    assert "`users[sa]` has no credentials" in refusal(dump(config))


def test_client_certificate_without_key_is_refused() -> None:
    config = cert_kubeconfig()
    del config["users"][0]["user"]["client-key-data"]
    assert "`users[admin]` has no credentials" in refusal(dump(config))


@pytest.mark.parametrize("server", ["prod.example.com:6443", "prod.example.com", "ftp://h", ""])
def test_server_without_http_scheme_is_refused(server: str) -> None:
    config = token_kubeconfig()
    config["clusters"][1]["cluster"]["server"] = server
    message = refusal(dump(config))
    assert "`clusters[prod].server` must be the API server URL" in message
    assert repr(server) in message


def test_kubeconfig_larger_than_256_kib_is_refused() -> None:
    text = dump(token_kubeconfig())
    padding = "#" * (MAX_KUBECONFIG_BYTES - len(text.encode()))
    assert summarize(parse_kubeconfig(text + padding)).cluster == "prod"
    assert refusal(text + padding + "#") == "is larger than 256 KiB"


def alias_bomb(levels: int) -> str:
    """A "billion laughs": each level lists the one below nine times."""
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for n in range(1, levels):
        prev, cur = chr(ord("a") + n - 1), chr(ord("a") + n)
        lines.append(f"{cur}: &{cur} [{','.join(['*' + prev] * 9)}]")
    return "\n".join(lines) + "\n"


def test_yaml_aliases_are_refused_before_they_expand() -> None:
    bomb = alias_bomb(6)
    assert len(bomb) < 400  # 9^6 strings once expanded: megabytes
    message = refusal(bomb)
    assert message.startswith("uses a YAML alias at line 2")
    assert "kubectl config view --raw --flatten" in message
    assert len(message) < 200


def test_an_alias_in_an_otherwise_valid_kubeconfig_is_refused() -> None:
    text = dump(token_kubeconfig()).replace("current-context: prod-admin", "current-context: *x")
    assert refusal("x: &x prod-admin\n" + text).startswith("uses a YAML alias at line")


def test_deep_nesting_is_refused_not_a_crash() -> None:
    deep = "[" * 100_000 + "]" * 100_000
    assert refusal(deep).startswith("nests deeper than 32 levels")


def test_echoed_values_are_cut_short() -> None:
    config = token_kubeconfig()
    config["clusters"][1]["cluster"]["server"] = "x" * 200_000
    config["kind"] = "Config"
    message = refusal(dump(config))
    assert message.startswith("`clusters[prod].server` must be the API server URL")
    assert len(message) < 250
    config = token_kubeconfig()
    config["current-context"] = "c" * 200_000
    assert len(refusal(dump(config))) < 200
